package autoscaler

import (
	"testing"
	"time"

	"github.com/gantry-dev/gantry/api"
)

type benchRevision struct {
	dec  *Decider
	pods *fakePods
}

// newBenchFleet builds n revisions with Knative's default settings (plus the
// given annotations), each with a full stable window of stats and its own
// load, so some are in panic, some scale up, some down.
func newBenchFleet(b *testing.B, n int, ann map[string]string) ([]benchRevision, time.Time) {
	b.Helper()
	cfg := api.DefaultAutoscalerConfig()
	rs, err := api.ParseAutoscalingAnnotations(ann, cfg)
	if err != nil {
		b.Fatal(err)
	}
	spec := MakeDeciderSpec(rs, cfg, 0, true)
	params := WindowParamsFor(rs)
	fleet := make([]benchRevision, n)
	end := t0.Add(rs.StableWindow)
	for i := range fleet {
		m := NewRevisionMetrics(params)
		load := float64(i%500) + 0.5
		for s := t0; !s.After(end); s = s.Add(time.Second) {
			m.Record(s, Stat{AverageConcurrentRequests: load + float64(s.Unix()%7), RequestCount: load * 3})
		}
		pods := &fakePods{n: 1 + i%9}
		fleet[i] = benchRevision{dec: NewDecider(spec, m, pods, t0), pods: pods}
		if r := fleet[i].dec.Decide(end); !r.Valid {
			b.Fatalf("revision %d: no decision: %+v", i, r)
		}
	}
	return fleet, end
}

// BenchmarkDecide10000Revisions is one decider tick over 10,000 revisions
// whose windows are already filled: one op is a whole tick.
func BenchmarkDecide10000Revisions(b *testing.B) {
	fleet, now := newBenchFleet(b, 10000, nil)
	b.ReportAllocs()
	b.ResetTimer()
	var sink int32
	for b.Loop() {
		for i := range fleet {
			sink += fleet[i].dec.Decide(now).DesiredPodCount
		}
	}
	_ = sink
}

// The same tick with weighted-exponential windows and a scale-down delay: the
// averages there walk the buckets.
func BenchmarkDecide10000RevisionsWeightedDelay(b *testing.B) {
	fleet, now := newBenchFleet(b, 10000, map[string]string{
		api.AggregationAlgorithmAnnotationKey: api.AggregationWeightedExponential,
		api.ScaleDownDelayAnnotationKey:       "5m",
	})
	b.ReportAllocs()
	b.ResetTimer()
	var sink int32
	for b.Loop() {
		for i := range fleet {
			sink += fleet[i].dec.Decide(now).DesiredPodCount
		}
	}
	_ = sink
}
