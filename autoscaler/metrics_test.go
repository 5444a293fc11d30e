package autoscaler

import (
	"errors"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/api"
)

func TestRevisionMetricsSubtractsProxied(t *testing.T) {
	m := NewRevisionMetrics(WindowParams{})
	if _, _, err := m.StableAndPanicConcurrency(t0); !errors.Is(err, ErrNoData) {
		t.Fatalf("empty windows: err = %v, want ErrNoData", err)
	}
	// A pod reports 10 in flight, 4 of them via the activator, which reports its
	// own 4 separately: 10 in total, not 14.
	m.Record(t0, Stat{AverageConcurrentRequests: 10, AverageProxiedConcurrentRequests: 4, RequestCount: 50, ProxiedRequestCount: 20})
	m.Record(t0, Stat{PodName: "activator", AverageConcurrentRequests: 4, RequestCount: 20})
	s, p, err := m.StableAndPanicConcurrency(t0)
	if err != nil || s != 10 || p != 10 {
		t.Errorf("concurrency = %v, %v, %v; want 10, 10, nil", s, p, err)
	}
	s, p, err = m.StableAndPanicRPS(t0)
	if err != nil || s != 50 || p != 50 {
		t.Errorf("rps = %v, %v, %v; want 50, 50, nil", s, p, err)
	}
	// Panic and stable windows differ once the panic window has slid.
	for i := 1; i <= 10; i++ {
		m.Record(sec(float64(i)), Stat{AverageConcurrentRequests: 0})
	}
	s, p, _ = m.StableAndPanicConcurrency(sec(10))
	if s != roundTo6(10./11) || p != 0 {
		t.Errorf("stable, panic = %v, %v; want %v, 0", s, p, roundTo6(10./11))
	}
	// A window after the last write there is no data again.
	if _, _, err := m.StableAndPanicConcurrency(sec(71)); !errors.Is(err, ErrNoData) {
		t.Errorf("stale: err = %v, want ErrNoData", err)
	}
}

func TestRevisionMetricsActivatorOnly(t *testing.T) {
	m := NewRevisionMetrics(WindowParams{ActivatorOnly: true})
	s, p, err := m.StableAndPanicConcurrency(t0)
	if err != nil || s != 0 || p != 0 {
		t.Errorf("activator-only empty windows = %v, %v, %v; want 0, 0, nil", s, p, err)
	}
}

func TestWindowParamsFor(t *testing.T) {
	rs, err := api.ParseAutoscalingAnnotations(map[string]string{
		api.WindowAnnotationKey:                "40s",
		api.PanicWindowPercentageAnnotationKey: "20",
		api.TargetBurstCapacityAnnotationKey:   "-1",
		api.AggregationAlgorithmAnnotationKey:  api.AggregationWeightedExponential,
	}, api.DefaultAutoscalerConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := WindowParams{StableWindow: 40 * time.Second, PanicWindow: 8 * time.Second, Algorithm: api.AggregationWeightedExponential, ActivatorOnly: true}
	if got := WindowParamsFor(rs); got != want {
		t.Errorf("WindowParamsFor = %+v, want %+v", got, want)
	}
	if _, ok := NewRevisionMetrics(want).concStable.(*WeightedBuckets); !ok {
		t.Error("weighted-exponential did not select weighted buckets")
	}
}

type scraperFunc func(time.Duration) (Stat, error)

func (f scraperFunc) Scrape(w time.Duration) (Stat, error) { return f(w) }

func TestCollect(t *testing.T) {
	m := NewRevisionMetrics(WindowParams{StableWindow: 30 * time.Second})
	var gotWindow time.Duration
	ok := scraperFunc(func(w time.Duration) (Stat, error) {
		gotWindow = w
		return Stat{AverageConcurrentRequests: 3}, nil
	})
	if err := m.Collect(t0, ok); err != nil {
		t.Fatal(err)
	}
	if gotWindow != 30*time.Second {
		t.Errorf("scrape window = %v, want the stable window", gotWindow)
	}
	empty := scraperFunc(func(time.Duration) (Stat, error) { return Stat{}, nil })
	_ = m.Collect(sec(1), empty) // no pods: nothing recorded
	if s, _, _ := m.StableAndPanicConcurrency(sec(1)); s != 3 {
		t.Errorf("stable = %v, want 3 (a second without a stat is missing, not zero)", s)
	}
	boom := errors.New("boom")
	if err := m.Collect(sec(2), scraperFunc(func(time.Duration) (Stat, error) { return Stat{}, boom })); !errors.Is(err, boom) {
		t.Errorf("Collect error = %v, want wrapping boom", err)
	}
}
