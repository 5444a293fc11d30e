package dashboards

import (
	"encoding/json"
	"strings"
	"testing"
)

// A rate over cAdvisor's counters is never taken over less than
// cadvisorWindow (two of its samples), whatever window the caller asks for;
// other queries take the window asked for, and longer ones stand.
func TestRenderMinWindow(t *testing.T) {
	for _, tc := range []struct {
		q            Query
		window, want string
	}{
		{CPUMillisecondsPerRequest, "30s", "[1m]"},
		{CPUByRevision, "30s", "[1m]"},
		{CostPerMillionRequests, "15s", "[1m]"},
		{CPUMillisecondsPerRequest, "2m", "[2m]"},
		{RequestVolume, "30s", "[30s]"},
	} {
		e, err := tc.q.Render(RenderOptions{Selector: Selector{Namespace: "ns"}, Window: tc.window})
		if err != nil {
			t.Fatalf("%s: %v", tc.q.ID, err)
		}
		if !strings.Contains(e, tc.want) || strings.Contains(e, "["+tc.window+"]") && tc.want != "["+tc.window+"]" {
			t.Errorf("%s with window %s: %s, want every range %s", tc.q.ID, tc.window, e, tc.want)
		}
	}
}

// The exported dashboards carry the same lower bound as Grafana's min
// interval of the query (the floor of its $__rate_interval), so a panel
// over cAdvisor's rates does not lose the app's CPU on a short range either.
func TestExportedMinInterval(t *testing.T) {
	files, err := dashboardFiles()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, q := range []Query{CPUMillisecondsPerRequest, CPUByRevision, CostPerMillionRequests, RequestVolume} {
		want[q.Expr] = q.MinWindow
	}
	seen := 0
	for name, data := range files {
		var d struct {
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					Expr     string `json:"expr"`
					Interval string `json:"interval"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				w, ok := want[tg.Expr]
				if !ok {
					continue
				}
				seen++
				if tg.Interval != w {
					t.Errorf("%s, panel %q: interval %q, want %q", name, p.Title, tg.Interval, w)
				}
			}
		}
	}
	if seen < 4 {
		t.Errorf("found %d of the checked queries in the dashboards, want all 4", seen)
	}
}
