package autoscaler

import (
	"testing"
	"time"

	"github.com/gantry-dev/gantry/api"
)

// Vectors from Knative's target_test.go.
func TestResolveTarget(t *testing.T) {
	conc := func(target, tu float64) api.RevisionScaling {
		return api.RevisionScaling{Metric: api.MetricConcurrency, Target: target, TargetUtilization: tu}
	}
	rps := func(target, tu float64) api.RevisionScaling {
		return api.RevisionScaling{Metric: api.MetricRPS, Target: target, TargetUtilization: tu}
	}
	cfg := api.DefaultAutoscalerConfig()
	small := cfg
	small.ContainerConcurrencyTargetDefault = 2
	tests := []struct {
		name              string
		rs                api.RevisionScaling
		cfg               api.AutoscalerConfig
		cc                int64
		wantTarget, total float64
	}{
		{"defaults", conc(0, 0.7), cfg, 0, 70, 100},
		{"default CC, TU 80%", conc(0, 0.8), cfg, 0, 80, 100},
		{"non-default CC default and TU", conc(0, 0.3), small, 0, 0.6, 2},
		{"CC 12, TU annotation 75%", conc(0, 0.75), cfg, 12, 9, 12},
		{"CC 10, TU 80%", conc(0, 0.8), cfg, 10, 8, 10},
		{"CC 1, TU 80%", conc(0, 0.8), cfg, 1, 0.8, 1},
		{"CC 1", conc(0, 1), cfg, 1, 1, 1},
		{"target 1", conc(1, 1), cfg, 0, 1, 1},
		{"target 1, TU 0.1%: floor at 0.01", conc(1, 0.001), cfg, 0, api.TargetMin, 1},
		{"target 10, TU 75%", conc(10, 0.75), cfg, 0, 7.5, 10},
		{"CC above target", conc(1, 1), cfg, 10, 1, 1},
		{"target above default", conc(500, 1), cfg, 0, 500, 500},
		{"target above CC is capped", conc(10, 1), cfg, 1, 1, 1},
		{"rps defaults (CC ignored)", rps(0, 0.7), cfg, 1, 140, 200},
		{"rps target 1", rps(1, 0.7), cfg, 0, 0.7, 1},
		{"rps target above CC is not capped", rps(10, 1), cfg, 1, 10, 10},
		{"unresolved utilization falls back to config", api.RevisionScaling{Metric: api.MetricRPS}, cfg, 0, 140, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target, total := ResolveTarget(tc.rs, tc.cfg, tc.cc)
			if !close(target, tc.wantTarget) || !close(total, tc.total) {
				t.Errorf("ResolveTarget = %v, %v; want %v, %v", target, total, tc.wantTarget, tc.total)
			}
		})
	}
}

func close(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

func TestPanicWindow(t *testing.T) {
	for _, tc := range []struct {
		stable time.Duration
		pct    float64
		want   time.Duration
	}{
		{60 * time.Second, 10, 6 * time.Second},
		{40 * time.Second, 20, 8 * time.Second},
		{6 * time.Second, 1, time.Second},       // at least a bucket
		{25 * time.Second, 10, 3 * time.Second}, // 2.5 s rounds half away from zero
		{time.Hour, 100, time.Hour},
	} {
		if got := PanicWindow(tc.stable, tc.pct); got != tc.want {
			t.Errorf("PanicWindow(%v, %v) = %v, want %v", tc.stable, tc.pct, got, tc.want)
		}
	}
}

func TestMakeDeciderSpec(t *testing.T) {
	cfg := api.DefaultAutoscalerConfig()
	rs, err := api.ParseAutoscalingAnnotations(map[string]string{
		api.TargetAnnotationKey:                   "10",
		api.PanicThresholdPercentageAnnotationKey: "150",
		api.ScaleDownDelayAnnotationKey:           "30s",
		api.ActivationScaleAnnotationKey:          "3",
		api.InitialScaleAnnotationKey:             "2",
	}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := MakeDeciderSpec(rs, cfg, 0, true)
	want := DeciderSpec{
		MaxScaleUpRate: 1000, MaxScaleDownRate: 2, ScalingMetric: "concurrency", TargetValue: 7, TotalValue: 10,
		TargetBurstCapacity: 211, ActivatorCapacity: 100, PanicThreshold: 1.5, StableWindow: 60 * time.Second,
		ScaleDownDelay: 30 * time.Second, InitialScale: 2, Reachable: true, ActivationScale: 3,
	}
	if !close(got.TargetValue, want.TargetValue) {
		t.Errorf("TargetValue = %v, want 7", got.TargetValue)
	}
	got.TargetValue = want.TargetValue
	if got != want {
		t.Errorf("MakeDeciderSpec = %+v\nwant %+v", got, want)
	}
}
