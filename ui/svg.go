package ui

import (
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"
)

// Charts are drawn on the server as inline SVG: no script, no CDN, and a
// page that works offline and prints. Colors are the Okabe–Ito palette
// (distinguishable with the common color-vision deficiencies) and each
// series also gets its own dash pattern, so lines differ without color.
var (
	palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#8C6D00", "#56B4E9", "#000000"}
	dashes  = []string{"", "6 3", "2 2", "8 3 2 3", "1 3"}
)

func seriesStyle(i int) (color, dash string) {
	return palette[i%len(palette)], dashes[(i/len(palette)+i)%len(dashes)]
}

// Chart is one chart of a page, with its data, as the JSON API returns it.
type Chart struct {
	ID          string        `json:"id"`
	Title       string        `json:"title"`
	Unit        string        `json:"unit"`
	Description string        `json:"description"`
	Series      []ChartSeries `json:"series"`
	// Shaded are periods to highlight (panic mode), with what they mean.
	Shaded     []Span `json:"shaded,omitempty"`
	ShadeLabel string `json:"shadeLabel,omitempty"`
}

// ChartSeries is one line of a chart, a point per step of the page's grid.
type ChartSeries struct {
	Name   string `json:"name"`
	Values Values `json:"values"`
}

// Span is a period of time.
type Span struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// legendItem is a series as the legend under a chart shows it.
type legendItem struct {
	Name, Color, Dash, Last string
}

// chartView is what the templates get of a chart.
type chartView struct {
	Chart
	SVG    template.HTML
	Legend []legendItem
}

const (
	chartW, chartH             = 640.0, 200.0
	padL, padR, padT, padB     = 64.0, 12.0, 10.0, 24.0
	plotW, plotH               = chartW - padL - padR, chartH - padT - padB
	sparkW, sparkH, sparkInset = 96.0, 22.0, 2.0
)

func num(b *strings.Builder, f float64) {
	b.WriteString(strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64))
}

// niceCeil rounds v up to 1, 2, 2.5 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// linePath draws vals as an SVG path, breaking it at gaps; a lone point is a
// zero-length segment that the round line cap makes visible.
func linePath(b *strings.Builder, vals Values, x func(int) float64, y func(float64) float64) {
	pen := false
	for i, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			pen = false
			continue
		}
		if !pen {
			b.WriteByte('M')
		} else {
			b.WriteByte('L')
		}
		num(b, x(i))
		b.WriteByte(' ')
		num(b, y(v))
		if !pen && (i+1 >= len(vals) || math.IsNaN(vals[i+1])) {
			b.WriteString("h0.1")
		}
		pen = true
	}
}

// renderChart draws c on g's time axis.
func renderChart(c Chart, g grid) chartView {
	view := chartView{Chart: c}
	lo, hi := 0.0, 0.0
	for _, s := range c.Series {
		for _, v := range s.Values {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				hi, lo = math.Max(hi, v), math.Min(lo, v)
			}
		}
	}
	hi = niceCeil(hi)
	if lo < 0 {
		lo = -niceCeil(-lo)
	}
	n := max(g.N-1, 1)
	x := func(i int) float64 { return padL + plotW*float64(i)/float64(n) }
	y := func(v float64) float64 { return padT + plotH*(1-(v-lo)/(hi-lo)) }

	var b strings.Builder
	id := html.EscapeString(c.ID)
	b.WriteString(`<svg class="chart" viewBox="0 0 640 200" preserveAspectRatio="none" role="img" aria-labelledby="` + id + `-t ` + id + `-d">`)
	b.WriteString(`<title id="` + id + `-t">` + html.EscapeString(c.Title) + `</title><desc id="` + id + `-d">`)
	var desc []string
	for i, s := range c.Series {
		color, dash := seriesStyle(i)
		last := "no data"
		if v, ok := s.Values.last(); ok {
			last = formatValue(v, c.Unit)
		}
		desc = append(desc, s.Name+": "+last)
		view.Legend = append(view.Legend, legendItem{Name: s.Name, Color: color, Dash: dash, Last: last})
	}
	if len(desc) == 0 {
		desc = append(desc, "no data")
	}
	b.WriteString(html.EscapeString("Latest values: " + strings.Join(desc, "; ")))
	b.WriteString(`</desc>`)
	// Shaded periods first, under everything else.
	for _, sp := range c.Shaded {
		x0 := padL + plotW*float64(sp.From.Sub(g.Start))/float64(g.End().Sub(g.Start))
		x1 := padL + plotW*float64(sp.To.Sub(g.Start))/float64(g.End().Sub(g.Start))
		x0, x1 = math.Max(x0, padL), math.Min(math.Max(x1, x0+2), padL+plotW)
		b.WriteString(`<rect class="shade" y="` + strconv.Itoa(int(padT)) + `" height="` + strconv.Itoa(int(plotH)) + `" x="`)
		num(&b, x0)
		b.WriteString(`" width="`)
		num(&b, x1-x0)
		b.WriteString(`"><title>` + html.EscapeString(c.ShadeLabel) + `</title></rect>`)
	}
	// Horizontal grid lines with their values.
	for k := 0; k <= 4; k++ {
		v := lo + (hi-lo)*float64(k)/4
		yy := y(v)
		b.WriteString(`<line class="grid" x1="64" x2="628" y1="`)
		num(&b, yy)
		b.WriteString(`" y2="`)
		num(&b, yy)
		b.WriteString(`"/><text class="ylab" x="60" y="`)
		num(&b, yy+4)
		b.WriteString(`">` + html.EscapeString(formatValue(v, c.Unit)) + `</text>`)
	}
	// Time labels.
	layout := "15:04"
	if g.End().Sub(g.Start) > 12*time.Hour {
		layout = "Jan 2 15:04"
	}
	for k := 0; k <= 4; k++ {
		i := n * k / 4
		anchor := "middle"
		switch k {
		case 0:
			anchor = "start"
		case 4:
			anchor = "end"
		}
		b.WriteString(`<text class="xlab" text-anchor="` + anchor + `" y="196" x="`)
		num(&b, x(i))
		b.WriteString(`">` + g.At(i).Local().Format(layout) + `</text>`)
	}
	for i, s := range c.Series {
		color, dash := seriesStyle(i)
		b.WriteString(`<path class="line" stroke="` + color + `"`)
		if dash != "" {
			b.WriteString(` stroke-dasharray="` + dash + `"`)
		}
		b.WriteString(` d="`)
		linePath(&b, s.Values, x, y)
		b.WriteString(`"/>`)
	}
	if len(c.Series) == 0 {
		b.WriteString(`<text class="nodata" x="346" y="100" text-anchor="middle">no data</text>`)
	}
	b.WriteString(`</svg>`)
	view.SVG = template.HTML(b.String()) // built from numbers and escaped text only
	return view
}

// sparkline draws vals small, for a table cell; the value is printed next to
// it, so the drawing is hidden from screen readers.
func sparkline(vals Values) template.HTML {
	lo, hi, any := 0.0, 0.0, false
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		if !any {
			lo, hi, any = math.Min(0, v), v, true
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if !any {
		return ""
	}
	if hi == lo {
		hi = lo + 1
	}
	n := max(len(vals)-1, 1)
	x := func(i int) float64 { return sparkW * float64(i) / float64(n) }
	y := func(v float64) float64 { return sparkInset + (sparkH-2*sparkInset)*(1-(v-lo)/(hi-lo)) }
	var b strings.Builder
	b.Grow(12*len(vals) + 120)
	b.WriteString(`<svg class="spark" viewBox="0 0 96 22" aria-hidden="true" focusable="false"><path d="`)
	linePath(&b, vals, x, y)
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String())
}
