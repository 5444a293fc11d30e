package autoscaler

import (
	"math"
	"time"

	"github.com/gantry-dev/gantry/api"
)

// ResolveTarget returns the per-instance target of the scaling metric and the
// total per-instance capacity (Knative's ResolveMetricTarget). For concurrency
// the total is containerConcurrency, or container-concurrency-target-default when
// that is 0 (unlimited); for rps it is requests-per-second-target-default. A target
// annotation replaces the total, but never above a hard containerConcurrency.
// The target is total × utilization, at least 0.01. The total, not the target,
// sizes the burst capacity.
func ResolveTarget(rs api.RevisionScaling, cfg api.AutoscalerConfig, containerConcurrency int64) (target, total float64) {
	if rs.Metric == api.MetricRPS {
		total = cfg.RPSTargetDefault
	} else {
		total = float64(containerConcurrency)
		if total == 0 {
			total = cfg.ContainerConcurrencyTargetDefault
		}
	}
	if rs.Target > 0 {
		total = rs.Target
		if rs.Metric == api.MetricConcurrency && containerConcurrency != 0 {
			total = math.Min(rs.Target, float64(containerConcurrency))
		}
	}
	tu := rs.TargetUtilization
	if tu == 0 { // an unresolved RevisionScaling: fall back as Knative does
		tu = cfg.ContainerConcurrencyTargetFraction
		if rs.Metric == api.MetricRPS {
			tu = cfg.TargetUtilization
		}
	}
	return math.Max(api.TargetMin, total*tu), total
}

// PanicWindow is pct % of the stable window, rounded to the second, at least one
// bucket: 6 s with the defaults.
func PanicWindow(stable time.Duration, pct float64) time.Duration {
	w := time.Duration(float64(stable) * pct / 100).Round(time.Second)
	return max(w, BucketSize)
}

// MakeDeciderSpec builds the decider's inputs for a revision (Knative's
// MakeDecider). reachable is false when no route sends traffic to the revision.
func MakeDeciderSpec(rs api.RevisionScaling, cfg api.AutoscalerConfig, containerConcurrency int64, reachable bool) DeciderSpec {
	target, total := ResolveTarget(rs, cfg, containerConcurrency)
	return DeciderSpec{
		MaxScaleUpRate:      cfg.MaxScaleUpRate,
		MaxScaleDownRate:    cfg.MaxScaleDownRate,
		ScalingMetric:       rs.Metric,
		TargetValue:         target,
		TotalValue:          total,
		TargetBurstCapacity: rs.TargetBurstCapacity,
		ActivatorCapacity:   cfg.ActivatorCapacity,
		PanicThreshold:      rs.PanicThresholdPercentage / 100,
		StableWindow:        rs.StableWindow,
		ScaleDownDelay:      rs.ScaleDownDelay,
		InitialScale:        rs.InitialScale,
		Reachable:           reachable,
		ActivationScale:     rs.ActivationScale,
	}
}
