package autoscaler

import (
	"errors"
	"math"
	"sync"
	"time"

	"github.com/gantry-dev/gantry/api"
)

// TickInterval is how often Knative's autoscaler decides.
const TickInterval = 2 * time.Second

// ErrNoEndpoints is returned by a ReadyCounter whose revision has no endpoints
// yet; the decider then presumes zero ready instances instead of giving up.
var ErrNoEndpoints = errors.New("no endpoints")

// ReadyCounter reports how many instances of the revision are ready.
type ReadyCounter interface {
	ReadyCount() (int, error)
}

// MetricSource gives the windowed averages; *RevisionMetrics implements it.
type MetricSource interface {
	StableAndPanicConcurrency(now time.Time) (stable, panic float64, err error)
	StableAndPanicRPS(now time.Time) (stable, panic float64, err error)
}

var _ MetricSource = (*RevisionMetrics)(nil)

// DeciderSpec is everything a decision depends on besides the metrics (Knative's
// DeciderSpec). Build it with MakeDeciderSpec.
type DeciderSpec struct {
	MaxScaleUpRate   float64
	MaxScaleDownRate float64
	// ScalingMetric is api.MetricRPS or concurrency (anything else).
	ScalingMetric string
	// TargetValue is the per-instance target; TotalValue the per-instance capacity.
	TargetValue float64
	TotalValue  float64
	// TargetBurstCapacity: −1 unlimited (activator always in path), 0 none.
	TargetBurstCapacity float64
	ActivatorCapacity   float64
	// PanicThreshold is a ratio (2.0 for 200 %).
	PanicThreshold  float64
	StableWindow    time.Duration
	ScaleDownDelay  time.Duration
	InitialScale    int32
	Reachable       bool
	ActivationScale int32
}

// Reason says what determined a decision or a bound.
type Reason string

// Reasons of Decide.
const (
	ReasonNoData           Reason = "no-data"
	ReasonNoPodCount       Reason = "no-pod-count"
	ReasonStable           Reason = "stable"
	ReasonPanic            Reason = "panic"
	ReasonMaxScaleUpRate   Reason = "max-scale-up-rate"
	ReasonMaxScaleDownRate Reason = "max-scale-down-rate"
	ReasonActivationScale  Reason = "activation-scale"
	ReasonScaleDownDelay   Reason = "scale-down-delay"
)

// ScaleResult is one decision plus what the autoscaler gauges report.
type ScaleResult struct {
	// DesiredPodCount is the decider's raw desired scale, before bounds.
	DesiredPodCount int32
	// ExcessBurstCapacity: capacity left after the burst target; negative keeps
	// the activator in the path.
	ExcessBurstCapacity int32
	// Valid is false when no decision was made (no data, no pod count).
	Valid  bool
	Reason Reason
	// ReadyPodCount is the ready count the decision used (autoscaler_actual_pods).
	ReadyPodCount int
	// ObservedStable and ObservedPanic are the windowed averages of the scaling
	// metric, revision-wide.
	ObservedStable, ObservedPanic float64
	// TargetValue is the per-instance target used.
	TargetValue float64
	// InPanic is the panic mode after this decision.
	InPanic bool
}

// InitialEBC is the excess burst capacity a new decider reports before its
// first decision: InitialScale×TotalValue−TBC, or TBC itself when it is 0 or −1.
func InitialEBC(spec DeciderSpec) int32 {
	switch tbc := spec.TargetBurstCapacity; tbc {
	case -1, 0:
		return int32(tbc)
	default:
		return int32(float64(spec.InitialScale)*spec.TotalValue - tbc)
	}
}

// Decider is one revision's KPA (Knative's scaling.autoscaler). Decide may be
// called concurrently with Update.
type Decider struct {
	mu      sync.Mutex
	spec    DeciderSpec
	metrics MetricSource
	pods    ReadyCounter

	// Panic state: while panicking the desired count never decreases.
	panicking    bool
	panicTime    time.Time
	maxPanicPods int32

	// delay holds desired counts over the scale-down delay; nil when there is none.
	delay *maxWindow
}

// NewDecider returns a decider created at now. A revision that already runs more
// than one ready instance starts in panic mode, holding that count until a
// stable window of data has arrived, so a restart of the autoscaler (which loses
// the metric history) does not dip the scale.
func NewDecider(spec DeciderSpec, metrics MetricSource, pods ReadyCounter, now time.Time) *Decider {
	d := &Decider{spec: spec, metrics: metrics, pods: pods}
	if spec.ScaleDownDelay > 0 {
		d.delay = newMaxWindow(spec.ScaleDownDelay, TickInterval)
	}
	ready, err := pods.ReadyCount()
	if err != nil {
		ready = 0 // a new revision has no endpoints yet
	}
	if ready > 1 {
		d.panicking, d.panicTime = true, now
	}
	d.maxPanicPods = int32(ready)
	return d
}

// Update replaces the spec, keeping panic state and history. A changed
// scale-down delay restarts the delay window (Knative keeps the old one until
// the autoscaler restarts).
func (d *Decider) Update(spec DeciderSpec) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if spec.ScaleDownDelay != d.spec.ScaleDownDelay {
		d.delay = nil
		if spec.ScaleDownDelay > 0 {
			d.delay = newMaxWindow(spec.ScaleDownDelay, TickInterval)
		}
	}
	d.spec = spec
}

// Spec returns the current spec.
func (d *Decider) Spec() DeciderSpec {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.spec
}

// InPanic reports panic mode.
func (d *Decider) InPanic() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.panicking
}

// Decide computes the desired scale at now, as Knative's Scale does.
func (d *Decider) Decide(now time.Time) ScaleResult {
	d.mu.Lock()
	defer d.mu.Unlock()
	spec := &d.spec

	ready, err := d.pods.ReadyCount()
	if err != nil {
		if !errors.Is(err, ErrNoEndpoints) {
			return ScaleResult{Reason: ReasonNoPodCount, InPanic: d.panicking}
		}
		ready = 0
	}
	var stable, panicV float64
	if spec.ScalingMetric == api.MetricRPS {
		stable, panicV, err = d.metrics.StableAndPanicRPS(now)
	} else {
		stable, panicV, err = d.metrics.StableAndPanicConcurrency(now)
	}
	if err != nil {
		return ScaleResult{Reason: ReasonNoData, ReadyPodCount: ready, TargetValue: spec.TargetValue, InPanic: d.panicking}
	}

	// Rates are relative to at least one instance, so a revision at zero can grow.
	rp := math.Max(1, float64(ready))
	maxUp := math.Ceil(spec.MaxScaleUpRate * rp)
	maxDown := 0.0
	if spec.Reachable {
		maxDown = math.Floor(rp / spec.MaxScaleDownRate)
	}
	dspc := math.Ceil(stable / spec.TargetValue)
	dppc := math.Ceil(panicV / spec.TargetValue)
	desiredStable := int32(math.Min(math.Max(dspc, maxDown), maxUp))
	desiredPanic := int32(math.Min(math.Max(dppc, maxDown), maxUp))

	reason := ReasonStable
	switch {
	case dspc > maxUp:
		reason = ReasonMaxScaleUpRate
	case dspc < maxDown:
		reason = ReasonMaxScaleDownRate
	}
	// Coming from zero, jump straight to the activation scale.
	if as := spec.ActivationScale; as > 1 {
		if dspc > 0 && as > desiredStable {
			desiredStable, reason = as, ReasonActivationScale
		}
		if dppc > 0 && as > desiredPanic {
			desiredPanic = as
		}
	}

	over := dppc/rp >= spec.PanicThreshold
	switch {
	case over:
		// Enter panic, or extend it: the stable window restarts from now.
		d.panicking, d.panicTime = true, now
	case d.panicking && d.panicTime.Add(spec.StableWindow).Before(now):
		// The surge has made it into the stable window.
		d.panicking, d.maxPanicPods = false, 0
	}

	desired := desiredStable
	if d.panicking {
		// Provision for the larger of the two windows, and never scale down.
		desired = max(desired, desiredPanic)
		d.maxPanicPods = max(d.maxPanicPods, desired)
		desired = d.maxPanicPods
		reason = ReasonPanic
	}

	if spec.Reachable && d.delay != nil {
		d.delay.Record(now, desired)
		if delayed := d.delay.Current(); delayed != desired {
			desired, reason = delayed, ReasonScaleDownDelay
		}
	}

	// EBC uses the panic value so the activator is not pulled out of the path on
	// a stable average that hides a burst.
	ebc := -1.0
	switch {
	case spec.TargetBurstCapacity == 0:
		ebc = 0
	case spec.TargetBurstCapacity > 0:
		ebc = math.Floor(float64(ready)*spec.TotalValue - spec.TargetBurstCapacity - panicV)
	}

	return ScaleResult{
		DesiredPodCount:     desired,
		ExcessBurstCapacity: int32(ebc),
		Valid:               true,
		Reason:              reason,
		ReadyPodCount:       ready,
		ObservedStable:      stable,
		ObservedPanic:       panicV,
		TargetValue:         spec.TargetValue,
		InPanic:             d.panicking,
	}
}
