package autoscaler

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSampleSize(t *testing.T) {
	// Knative's sample_size_test vectors, plus the edges.
	for _, tc := range []struct{ pop, want int }{
		{-1, 0}, {0, 0}, {1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 4}, {10, 7}, {100, 14}, {1000, 16}, {100000, 16},
	} {
		if got := SampleSize(tc.pop); got != tc.want {
			t.Errorf("SampleSize(%d) = %d, want %d", tc.pop, got, tc.want)
		}
	}
}

func TestExtrapolate(t *testing.T) {
	sample := []Stat{
		{PodName: "a", AverageConcurrentRequests: 2, AverageProxiedConcurrentRequests: 1, RequestCount: 10, ProxiedRequestCount: 4},
		{PodName: "b", AverageConcurrentRequests: 4, AverageProxiedConcurrentRequests: 0, RequestCount: 20, ProxiedRequestCount: 2},
	}
	// Σ/n × N with n = 2, N = 10.
	want := Stat{PodName: ScraperPodName, AverageConcurrentRequests: 30, AverageProxiedConcurrentRequests: 5, RequestCount: 150, ProxiedRequestCount: 30}
	if diff := cmp.Diff(want, Extrapolate(sample, 10)); diff != "" {
		t.Errorf("Extrapolate (-want +got):\n%s", diff)
	}
	if got := Extrapolate(nil, 10); !got.IsZero() {
		t.Errorf("Extrapolate(nil) = %+v, want empty", got)
	}
}

func TestPickSamplePrefersOldPods(t *testing.T) {
	stats := []Stat{
		{PodName: "young1", ProcessUptime: 5},
		{PodName: "old1", ProcessUptime: 120},
		{PodName: "young2", ProcessUptime: 59},
		{PodName: "old2", ProcessUptime: 60},
	}
	names := func(ss []Stat) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.PodName)
		}
		return out
	}
	if got, want := names(PickSample(stats, 2, time.Minute)), []string{"old1", "old2"}; !cmp.Equal(got, want) {
		t.Errorf("PickSample(2) = %v, want %v", got, want)
	}
	if got, want := names(PickSample(stats, 3, time.Minute)), []string{"old1", "old2", "young1"}; !cmp.Equal(got, want) {
		t.Errorf("PickSample(3) = %v, want %v", got, want)
	}
	if got := PickSample(stats, 10, time.Minute); len(got) != 4 {
		t.Errorf("PickSample(10) has %d stats, want all 4", len(got))
	}
}
