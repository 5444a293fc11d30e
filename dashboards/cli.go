package dashboards

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// DashboardsMain is `gantry dashboards --out DIR`: it writes one Grafana
// dashboard JSON file per dashboard in DIR.
func DashboardsMain(args []string) error {
	fs := flag.NewFlagSet("dashboards", flag.ContinueOnError)
	out := fs.String("out", "", "directory to write the dashboard JSON files to (created if missing)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // the flag set printed the usage
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *out == "" {
		return errors.New("--out DIR is required")
	}
	return WriteDashboards(*out)
}

// AlertsMain is `gantry alerts --out FILE`: it writes the Prometheus recording
// and alerting rules to FILE, or to standard output when FILE is "-".
func AlertsMain(args []string) error {
	return alertsMain(args, os.Stdout)
}

func alertsMain(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("alerts", flag.ContinueOnError)
	out := fs.String("out", "-", "file to write the rules to, - for standard output")
	objective := fs.Float64("objective", DefaultObjective, "availability SLO over 30 days, as a ratio (0.999) or a percentage (99.9)")
	threshold := fs.Float64("error-ratio-threshold", DefaultErrorRatioThreshold, "5xx ratio over 5m above which "+AlertHigh5xxRatio+" fires")
	forDur := fs.Duration("for", DefaultFor, "how long the 5xx ratio must stay above the threshold (0s: at once)")
	minRate := fs.Float64("min-request-rate", DefaultMinRequestRate, "requests/s a revision needs over an alert's window for the alert to fire")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // the flag set printed the usage
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	obj := *objective
	if obj > 1 && obj < 100 {
		obj /= 100 // a percentage
	}
	// RuleOptions reads zero as "the default"; on the command line zero is a mistake.
	switch {
	case !(obj > 0 && obj < 1):
		return fmt.Errorf("--objective %v: want a ratio such as 0.999 or a percentage such as 99.9", *objective)
	case !(*threshold > 0 && *threshold <= 1):
		return fmt.Errorf("--error-ratio-threshold %v: want a ratio in (0, 1], such as 0.05", *threshold)
	case !(*minRate > 0):
		return fmt.Errorf("--min-request-rate %v: want a positive number of requests per second", *minRate)
	case *forDur < 0:
		return fmt.Errorf("--for %s: want a duration of 0s or more", *forDur)
	}
	opts := RuleOptions{Objective: obj, ErrorRatioThreshold: *threshold, For: *forDur, MinRequestRate: *minRate}
	if opts.For == 0 {
		opts.For = -1 // --for 0s: fire at once
	}
	if *out == "-" {
		return WriteRules(stdout, opts)
	}
	if dir := filepath.Dir(*out); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := WriteRules(f, opts); err != nil {
		f.Close()
		os.Remove(*out)
		return err
	}
	return f.Close()
}
