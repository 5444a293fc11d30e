package dashboards

import (
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
