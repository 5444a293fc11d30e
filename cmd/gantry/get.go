package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/controller/reconcile"
	"sigs.k8s.io/yaml"
)

func runGet(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	ns := fs.String("n", "default", "namespace")
	all := fs.Bool("A", false, "all namespaces")
	out := fs.String("o", "table", "output: table, yaml or json")
	server := fs.String("server", defaultServer(), "address of `gantry up`'s API")
	watch := fs.Bool("w", false, "after listing, print every change as it happens (streamed from the API)")
	fs.BoolVar(watch, "watch", false, "same as -w")
	if err := fs.Parse(reorder(args, map[string]bool{"n": true, "o": true, "server": true})); err != nil {
		return err
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		return errors.New("usage: gantry get services|configurations|revisions|routes|domainmappings [NAME] [-n NS] [-o table|yaml|json]")
	}
	kind, ok := api.KindForResource(fs.Arg(0))
	if !ok {
		return fmt.Errorf("unknown resource %q (want services, configurations, revisions, routes, domainmappings)", fs.Arg(0))
	}
	if *out != "table" && *out != "yaml" && *out != "json" {
		return fmt.Errorf("-o %s: want table, yaml or json", *out)
	}
	c := newClient(*server)
	var items []json.RawMessage
	if fs.NArg() == 2 {
		var one json.RawMessage
		if err := c.do(ctx, http.MethodGet, "/api/v1/"+url.PathEscape(fs.Arg(0))+"/"+url.PathEscape(*ns)+"/"+url.PathEscape(fs.Arg(1)), nil, &one); err != nil {
			return err
		}
		items = append(items, one)
	} else {
		q := url.Values{}
		if !*all {
			q.Set("namespace", *ns)
		}
		var list struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := c.do(ctx, http.MethodGet, "/api/v1/"+url.PathEscape(fs.Arg(0))+"?"+q.Encode(), nil, &list); err != nil {
			return err
		}
		items = list.Items
	}
	var widths []int // the columns of the first table, which watched rows keep
	if kind == api.KindRoute && *out == "table" {
		if err := printRoutes(ctx, c, os.Stdout, items, *all); err != nil || !*watch {
			return err
		}
	} else {
		// The table goes through a buffer so that watched rows can be
		// aligned on its columns.
		var buf strings.Builder
		if err := printObjects(&buf, kind, items, *out, fs.NArg() == 2 && !*watch, *all); err != nil {
			return err
		}
		fmt.Print(buf.String())
		if !*watch {
			return nil
		}
		if *out == "table" {
			header, _, _ := strings.Cut(buf.String(), "\n")
			widths = columnWidths(header)
		}
	}
	wns := *ns
	if *all {
		wns = ""
	}
	return watchRows(ctx, c, os.Stdout, kind, fs.Arg(0), wns, fs.Arg(1), items, *out, *all, widths)
}

// columnWidths reads a tabwriter header's column widths: a column starts
// where a name follows a space (header names have no spaces).
func columnWidths(header string) []int {
	var starts []int
	for i, r := range header {
		if r != ' ' && (i == 0 || header[i-1] == ' ') {
			starts = append(starts, i)
		}
	}
	var out []int
	for i := range starts {
		if i+1 < len(starts) {
			out = append(out, starts[i+1]-starts[i])
		} else {
			out = append(out, len(header)-starts[i]+3)
		}
	}
	return out
}

// alignRow reprints a one-row table (header and row, as printObjects
// writes them) on the columns of widths.
func alignRow(table string, widths []int) string {
	header, row, _ := strings.Cut(strings.TrimRight(table, "\n"), "\n")
	own := columnWidths(header)
	var b strings.Builder
	pos := 0
	for i, wd := range own {
		end := pos + wd
		if i == len(own)-1 || end > len(row) {
			end = len(row)
		}
		if pos > len(row) {
			break
		}
		cell := strings.TrimSpace(row[pos:end])
		pos = end
		if i == len(own)-1 {
			b.WriteString(cell)
			break
		}
		want := wd
		if i < len(widths) {
			want = widths[i]
		}
		b.WriteString(cell)
		b.WriteString(strings.Repeat(" ", max(want-len(cell), 3)))
	}
	return strings.TrimRight(b.String(), " ")
}

// watchRows prints a row (or a document) for every change of the listed
// kind after the initial list, until ctx ends: the API streams them.
func watchRows(ctx context.Context, c *client, w io.Writer, kind, resource, ns, name string, shown []json.RawMessage, format string, allNS bool, widths []int) error {
	type meta struct {
		Metadata struct{ Name, Namespace, ResourceVersion string } `json:"metadata"`
	}
	seen := map[string]string{}
	for _, raw := range shown {
		var m meta
		if json.Unmarshal(raw, &m) == nil {
			seen[m.Metadata.Namespace+"/"+m.Metadata.Name] = m.Metadata.ResourceVersion
		}
	}
	wt := c.watch(ctx, resource, ns)
	defer wt.stop()
	for ev := range wt.events {
		var m meta
		if err := json.Unmarshal(ev.Object, &m); err != nil {
			return fmt.Errorf("decode %s: %w", kind, err)
		}
		key := m.Metadata.Namespace + "/" + m.Metadata.Name
		if name != "" && m.Metadata.Name != name {
			continue
		}
		if ev.Type != "DELETED" && seen[key] == m.Metadata.ResourceVersion {
			continue // the initial list showed it
		}
		seen[key] = m.Metadata.ResourceVersion
		if ev.Type == "DELETED" {
			delete(seen, key)
		}
		if err := printWatchRow(w, kind, ev, format, allNS, &widths); err != nil {
			return err
		}
	}
	return wt.stop()
}

// printWatchRow prints one watched change; a table row keeps the columns
// in widths (set by the first row when the list was empty).
func printWatchRow(w io.Writer, kind string, ev watchEvent, format string, allNS bool, widths *[]int) error {
	switch format {
	case "json":
		_, err := fmt.Fprintf(w, "%s\n", ev.Object)
		return err
	case "yaml":
		fmt.Fprintln(w, "---")
		return printObjects(w, kind, []json.RawMessage{ev.Object}, "yaml", true, allNS)
	}
	var buf strings.Builder
	if err := printObjects(&buf, kind, []json.RawMessage{ev.Object}, "table", false, allNS); err != nil {
		return err
	}
	// One row on the first table's columns (the first row brings the header
	// when the list was empty), marked when the object is gone.
	if *widths == nil {
		header, _, _ := strings.Cut(buf.String(), "\n")
		*widths = columnWidths(header)
		fmt.Fprintln(w, strings.TrimRight(header, " "))
	}
	row := alignRow(buf.String(), *widths)
	if ev.Type == "DELETED" {
		row += "   (deleted)"
	}
	_, err := fmt.Fprintln(w, row)
	return err
}

// printRoutes shows one row per traffic target: its percent, tag URL and the
// share of the route's requests it actually received recently.
func printRoutes(ctx context.Context, c *client, w io.Writer, items []json.RawMessage, allNS bool) error {
	if len(items) == 0 {
		fmt.Fprintln(os.Stderr, "No routes found.")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	defer tw.Flush()
	cols := []string{"NAME", "URL", "READY", "REVISION", "PERCENT", "TAG", "TAG URL", "OBSERVED"}
	if allNS {
		cols = append([]string{"NAMESPACE"}, cols...)
	}
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	for _, raw := range items {
		var r api.Route
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("decode route: %w", err)
		}
		var tr struct {
			WindowSeconds float64 `json:"windowSeconds"`
			Targets       []struct {
				RevisionName  string  `json:"revisionName"`
				Percent       int64   `json:"percent"`
				Tag           string  `json:"tag"`
				URL           string  `json:"url"`
				Requests      uint64  `json:"requests"`
				ObservedShare float64 `json:"observedShare"`
			} `json:"targets"`
		}
		if err := c.do(ctx, http.MethodGet, "/api/v1/routes/"+url.PathEscape(r.Namespace)+"/"+url.PathEscape(r.Name)+"/traffic", nil, &tr); err != nil {
			return err
		}
		ready, reason := readyOf(r.Status.Conditions)
		if reason != "" {
			ready += " (" + reason + ")"
		}
		first := []string{r.Name, r.Status.URL, ready}
		if len(tr.Targets) == 0 {
			row := append(first, "-", "-", "-", "-", "-")
			if allNS {
				row = append([]string{r.Namespace}, row...)
			}
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
		for i, t := range tr.Targets {
			lead := first
			if i > 0 {
				lead = []string{"", "", ""}
			}
			observed := "-"
			if tr.WindowSeconds > 0 {
				observed = fmt.Sprintf("%.1f%% (%d req/%ds)", t.ObservedShare, t.Requests, int(tr.WindowSeconds))
			}
			row := append(append([]string(nil), lead...), dash(t.RevisionName), strconv.FormatInt(t.Percent, 10)+"%", dash(t.Tag), dash(t.URL), observed)
			if allNS {
				ns := r.Namespace
				if i > 0 {
					ns = ""
				}
				row = append([]string{ns}, row...)
			}
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
	}
	return nil
}

func printObjects(w io.Writer, kind string, items []json.RawMessage, format string, single, allNS bool) error {
	switch format {
	case "json":
		var v any = items
		if single {
			v = items[0]
		} else {
			v = map[string]any{"apiVersion": "v1", "kind": "List", "items": items}
		}
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(b))
		return err
	case "yaml":
		for i, raw := range items {
			b, err := yaml.JSONToYAML(raw)
			if err != nil {
				return err
			}
			if i > 0 {
				fmt.Fprintln(w, "---")
			}
			w.Write(b)
		}
		return nil
	}
	if len(items) == 0 {
		fmt.Fprintf(os.Stderr, "No %s found.\n", strings.ToLower(kind)+"s")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	defer tw.Flush()
	now := time.Now()
	row := func(ns string, cols ...string) {
		if allNS {
			cols = append([]string{ns}, cols...)
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	header := func(cols ...string) {
		if allNS {
			cols = append([]string{"NAMESPACE"}, cols...)
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	for i, raw := range items {
		o, err := api.New(kind)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(raw, o); err != nil {
			return fmt.Errorf("decode %s: %w", kind, err)
		}
		age := humanAge(now, o.GetCreationTimestamp().Time)
		switch v := o.(type) {
		case *api.Service:
			if i == 0 {
				header("NAME", "URL", "LATEST", "READY", "AGE", "REASON")
			}
			st, reason := readyOf(v.Status.Conditions)
			row(v.Namespace, v.Name, v.Status.URL, dash(v.Status.LatestReadyRevisionName), st, age, reason)
		case *api.Configuration:
			if i == 0 {
				header("NAME", "LATESTCREATED", "LATESTREADY", "READY", "AGE", "REASON")
			}
			st, reason := readyOf(v.Status.Conditions)
			row(v.Namespace, v.Name, dash(v.Status.LatestCreatedRevisionName), dash(v.Status.LatestReadyRevisionName), st, age, reason)
		case *api.Revision:
			if i == 0 {
				header("NAME", "SERVICE", "GENERATION", "READY", "ACTUAL", "DESIRED", "IMAGE", "AGE", "REASON")
			}
			st, reason := readyOf(v.Status.Conditions)
			row(v.Namespace, v.Name, dash(v.Labels[api.LabelService]), dash(v.Labels[api.LabelConfigurationGen]), st,
				replicas(v.Status.ActualReplicas), replicas(v.Status.DesiredReplicas), servingImage(v), age, reason)
		case *api.Route:
			if i == 0 {
				header("NAME", "URL", "READY", "TRAFFIC", "AGE", "REASON")
			}
			st, reason := readyOf(v.Status.Conditions)
			row(v.Namespace, v.Name, v.Status.URL, st, trafficSummary(v.Status.Traffic), age, reason)
		case *api.DomainMapping:
			if i == 0 {
				header("NAME", "URL", "READY", "KSVC", "AGE", "REASON")
			}
			st, reason := readyOf(v.Status.Conditions)
			row(v.Namespace, v.Name, v.Status.URL, st, v.Spec.Ref.Name, age, reason)
		default:
			if i == 0 {
				header("NAME", "AGE")
			}
			row(o.GetNamespace(), o.GetName(), age)
		}
	}
	return nil
}

func readyOf(conds []api.Condition) (string, string) {
	c := reconcile.GetCondition(conds, api.ConditionReady)
	if c == nil {
		return "Unknown", ""
	}
	return string(c.Status), c.Reason
}

func trafficSummary(ts []api.TrafficTarget) string {
	var parts []string
	for _, t := range ts {
		p := int64(0)
		if t.Percent != nil {
			p = *t.Percent
		}
		s := strconv.FormatInt(p, 10) + "% " + t.RevisionName
		if t.Tag != "" {
			s += " #" + t.Tag
		}
		parts = append(parts, s)
	}
	return dash(strings.Join(parts, ", "))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func replicas(p *int32) string {
	if p == nil {
		return "-"
	}
	return strconv.Itoa(int(*p))
}

func humanAge(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < 2*time.Minute:
		return strconv.Itoa(int(d.Seconds())) + "s"
	case d < 2*time.Hour:
		return strconv.Itoa(int(d.Minutes())) + "m"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + "h"
	}
	return strconv.Itoa(int(d.Hours()/24)) + "d"
}

// servingImage is the first container's image as it runs: the digest,
// shortened to 12 hex digits, once resolved.
func servingImage(r *api.Revision) string {
	if len(r.Status.ContainerStatuses) == 0 {
		return "-"
	}
	img := r.Status.ContainerStatuses[0].ImageDigest
	if i := strings.Index(img, "@sha256:"); i >= 0 && len(img) > i+8+12 {
		return img[:i+8+12]
	}
	return dash(img)
}
