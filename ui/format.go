package ui

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/gantry-dev/gantry/dashboards"
)

// formatValue prints v in a query's unit, the way a person reads it.
func formatValue(v float64, unit string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	switch unit {
	case dashboards.UnitRequestsPerSecond:
		return short(v) + "/s"
	case dashboards.UnitOpsPerSecond:
		return short(v) + "/s"
	case dashboards.UnitOpsPerMinute:
		return short(v) + "/min"
	case dashboards.UnitPercentUnit:
		p := 100 * v
		switch {
		case p == 100 || p == 0:
			return strconv.FormatFloat(p, 'f', 0, 64) + "%"
		case p > 99.9 || p < 0.1:
			return strconv.FormatFloat(p, 'f', 3, 64) + "%"
		}
		return strconv.FormatFloat(p, 'f', 1, 64) + "%"
	case dashboards.UnitMilliseconds:
		return duration(v / 1000)
	case dashboards.UnitSeconds:
		return duration(v)
	case dashboards.UnitBytes:
		return bytesIEC(v)
	case dashboards.UnitUSD:
		switch {
		case v == 0:
			return "$0"
		case math.Abs(v) < 0.01:
			return "$" + strconv.FormatFloat(v, 'g', 2, 64)
		}
		return "$" + strconv.FormatFloat(v, 'f', 2, 64)
	case dashboards.UnitOnOff:
		if v != 0 {
			return "on"
		}
		return "off"
	}
	return short(v)
}

// short prints a number with at most three significant digits and a k/M suffix.
func short(v float64) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0"
	case a >= 1e6:
		return trim(v/1e6) + "M"
	case a >= 1e4:
		return trim(v/1e3) + "k"
	case a >= 100 || v == math.Trunc(v):
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'g', 3, 64) // 9.9996 is "10", not "10.00"
	case a >= 0.001:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
	return strconv.FormatFloat(v, 'g', 2, 64)
}

func trim(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func duration(sec float64) string {
	a := math.Abs(sec)
	switch {
	case a == 0:
		return "0 ms"
	case a < 0.001:
		return strconv.FormatFloat(sec*1e6, 'f', 0, 64) + " µs"
	case a < 1:
		return short(sec*1000) + " ms"
	case a < 120:
		return short(sec) + " s"
	}
	return time.Duration(sec * float64(time.Second)).Round(time.Second).String()
}

func bytesIEC(v float64) string {
	const unit = 1024
	a := math.Abs(v)
	if a < unit {
		return strconv.FormatFloat(v, 'f', 0, 64) + " B"
	}
	exp, div := 0, float64(unit)
	for n := a / unit; n >= unit && exp < 4; n /= unit {
		div *= unit
		exp++
	}
	return short(v/div) + " " + string("KMGTP"[exp]) + "iB"
}

// age prints how long ago t was, in the coarsest unit that fits ("3d", "5h").
func age(t, now time.Time) string {
	if t.IsZero() {
		return "–"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
