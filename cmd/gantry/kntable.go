package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gantry-dev/gantry/api"
	corev1 "k8s.io/api/core/v1"
)

// conditionsOK is kn's CONDITIONS column: "3 OK / 3".
func conditionsOK(conds []api.Condition) string {
	ok := 0
	for _, c := range conds {
		if c.Status == corev1.ConditionTrue {
			ok++
		}
	}
	return fmt.Sprintf("%d OK / %d", ok, len(conds))
}

// printKnServices is kn service list's table.
func printKnServices(w io.Writer, items []json.RawMessage, allNS bool) error {
	if len(items) == 0 {
		fmt.Fprintln(os.Stderr, "No services found.")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	defer tw.Flush()
	row := func(ns string, cols ...string) {
		if allNS {
			cols = append([]string{ns}, cols...)
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	row("NAMESPACE", "NAME", "URL", "LATEST", "AGE", "CONDITIONS", "READY", "REASON")
	now := time.Now()
	for _, raw := range items {
		var s api.Service
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("decode service: %w", err)
		}
		ready, reason := readyOf(s.Status.Conditions)
		row(s.Namespace, s.Name, dash(s.Status.URL), dash(s.Status.LatestReadyRevisionName), humanAge(now, s.CreationTimestamp.Time),
			conditionsOK(s.Status.Conditions), ready, reason)
	}
	return nil
}

// printKnRevisions is kn revision list's table: each revision with the
// traffic and tags its service gives it, newest first per service.
func printKnRevisions(ctx context.Context, c *client, w io.Writer, items []json.RawMessage, ns string, allNS bool) error {
	if len(items) == 0 {
		fmt.Fprintln(os.Stderr, "No revisions found.")
		return nil
	}
	q := url.Values{}
	if !allNS {
		q.Set("namespace", ns)
	}
	var svcs struct {
		Items []api.Service `json:"items"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/services?"+q.Encode(), nil, &svcs); err != nil {
		return err
	}
	type share struct {
		pct  int64
		tags []string
	}
	traffic := map[string]*share{} // namespace/revision
	for _, s := range svcs.Items {
		for _, t := range s.Status.Traffic {
			k := s.Namespace + "/" + t.RevisionName
			if traffic[k] == nil {
				traffic[k] = &share{}
			}
			if t.Percent != nil {
				traffic[k].pct += *t.Percent
			}
			if t.Tag != "" {
				traffic[k].tags = append(traffic[k].tags, t.Tag)
			}
		}
	}
	revs := make([]api.Revision, 0, len(items))
	for _, raw := range items {
		var r api.Revision
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("decode revision: %w", err)
		}
		revs = append(revs, r)
	}
	gen := func(r api.Revision) int {
		n, _ := strconv.Atoi(r.Labels[api.LabelConfigurationGen])
		return n
	}
	sort.SliceStable(revs, func(i, j int) bool {
		a, b := revs[i], revs[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if sa, sb := a.Labels[api.LabelService], b.Labels[api.LabelService]; sa != sb {
			return sa < sb
		}
		return gen(a) > gen(b)
	})
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	defer tw.Flush()
	row := func(ns string, cols ...string) {
		if allNS {
			cols = append([]string{ns}, cols...)
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	row("NAMESPACE", "NAME", "SERVICE", "TRAFFIC", "TAGS", "GENERATION", "AGE", "CONDITIONS", "READY", "REASON")
	now := time.Now()
	for _, r := range revs {
		pct, tags := "", ""
		if sh := traffic[r.Namespace+"/"+r.Name]; sh != nil {
			pct, tags = strconv.FormatInt(sh.pct, 10)+"%", strings.Join(sh.tags, ",")
		}
		ready, reason := readyOf(r.Status.Conditions)
		row(r.Namespace, r.Name, dash(r.Labels[api.LabelService]), pct, tags, dash(r.Labels[api.LabelConfigurationGen]),
			humanAge(now, r.CreationTimestamp.Time), conditionsOK(r.Status.Conditions), ready, reason)
	}
	return nil
}
