package autoscaler

import (
	"math"
	"time"
)

// Reasons of ApplyBounds.
const (
	ReasonNoDecision          Reason = "no-decision"
	ReasonDesired             Reason = "desired"
	ReasonBoundedByMinScale   Reason = "bounded-by-min-scale"
	ReasonBoundedByMaxScale   Reason = "bounded-by-max-scale"
	ReasonInitialScale        Reason = "initial-scale"
	ReasonScaleToZeroDisabled Reason = "scale-to-zero-disabled"
	// ReasonStableWindowHold: an active revision keeps one instance until it has
	// been active for a stable window.
	ReasonStableWindowHold Reason = "scale-to-zero-stable-window"
	// ReasonDeactivating: the revision is marked inactive; the activator moves
	// into the path before the last instance goes.
	ReasonDeactivating       Reason = "deactivating"
	ReasonWaitingOnActivator Reason = "waiting-on-activator"
	ReasonPodRetention       Reason = "scale-to-zero-pod-retention"
	ReasonGracePeriod        Reason = "scale-to-zero-grace-period"
	ReasonScaledToZero       Reason = "scaled-to-zero"
	ReasonActivating         Reason = "activating"
	ReasonActivationTimeout  Reason = "activation-timeout"
)

// DefaultActivationTimeout is Knative's progress deadline (600 s) plus 30 s: an
// activation that takes longer gives up and lets the revision scale to zero.
const DefaultActivationTimeout = 630 * time.Second

// Activity is the revision's Active condition in Knative's PodAutoscaler.
type Activity int

const (
	// Inactive: scaled to zero, or on the way there; the activator buffers requests.
	Inactive Activity = iota
	// Activating: instances are wanted but not ready yet.
	Activating
	// Active: serving with enough ready instances.
	Active
)

func (a Activity) String() string {
	switch a {
	case Active:
		return "active"
	case Activating:
		return "activating"
	}
	return "inactive"
}

// BoundsInput is what the scale applied after the decider depends on.
type BoundsInput struct {
	// Desired is the decider's DesiredPodCount; negative before its first decision.
	Desired int32
	// MinScale and MaxScale are the revision's bounds (0 max is unbounded);
	// InitialScale is its resolved initial scale.
	MinScale, MaxScale, InitialScale int32
	// Initialized: the revision once reached its initial scale.
	Initialized bool
	// Reachable: a route sends traffic to the revision. Min-scale and the pod
	// retention period only hold for reachable revisions.
	Reachable         bool
	EnableScaleToZero bool
	Activity          Activity
	// ActivityFor is how long the revision has been in Activity.
	ActivityFor time.Duration
	// ActivatorInPath: the activator is confirmed in the request path (Knative
	// probes it; it is always there with target-burst-capacity −1).
	ActivatorInPath bool
	// ProxyFor is how long the activator has been in the path (0 when not).
	ProxyFor          time.Duration
	StableWindow      time.Duration
	GracePeriod       time.Duration // scale-to-zero-grace-period
	RetentionPeriod   time.Duration // scale-to-zero-pod-retention-period
	ActivationTimeout time.Duration // 0: DefaultActivationTimeout
}

// BoundsResult is the scale to apply.
type BoundsResult struct {
	// Scale is what the revision should be scaled to; −1 when unknown.
	Scale int32
	// Apply is false when the current scale should be kept for now (the revision
	// is on its way to zero, or no decision exists yet). Scale is still the value
	// the Active condition is computed from.
	Apply  bool
	Reason Reason
	// RequeueAfter is when to look again; 0 means at the next tick.
	RequeueAfter time.Duration
}

// ApplyBounds applies min/max/initial scale to the decider's output and, when
// that is zero, Knative's scale-to-zero rules (kpa/scaler.go).
func ApplyBounds(in BoundsInput) BoundsResult {
	if in.Desired < 0 && in.Activity != Activating {
		return BoundsResult{Scale: in.Desired, Reason: ReasonNoDecision}
	}
	var lo int32
	if in.Reachable {
		lo = in.MinScale
	}
	loReason := ReasonBoundedByMinScale
	// Until the revision has come up once, hold its initial scale.
	if in.InitialScale > 1 && !in.Initialized && in.Reachable && in.InitialScale > lo {
		lo, loReason = in.InitialScale, ReasonInitialScale
	}
	scale, reason := in.Desired, ReasonDesired
	switch {
	case scale < lo:
		scale, reason = lo, loReason
	case in.MaxScale != 0 && scale > in.MaxScale:
		scale, reason = in.MaxScale, ReasonBoundedByMaxScale
	}
	if scale != 0 {
		return BoundsResult{Scale: scale, Apply: true, Reason: reason}
	}
	return scaleToZero(in)
}

func scaleToZero(in BoundsInput) BoundsResult {
	if !in.EnableScaleToZero {
		return BoundsResult{Scale: 1, Apply: true, Reason: ReasonScaleToZeroDisabled}
	}
	switch in.Activity {
	case Activating:
		timeout := in.ActivationTimeout
		if timeout == 0 {
			timeout = DefaultActivationTimeout
		}
		if in.ActivityFor > timeout {
			return BoundsResult{Scale: 0, Apply: true, Reason: ReasonActivationTimeout}
		}
		return BoundsResult{Scale: -1, Reason: ReasonActivating, RequeueAfter: timeout}
	case Active:
		// A fresh revision keeps an instance for a whole stable window.
		if in.ActivityFor >= in.StableWindow {
			return BoundsResult{Scale: 0, Reason: ReasonDeactivating}
		}
		return BoundsResult{Scale: 1, Apply: true, Reason: ReasonStableWindowHold, RequeueAfter: in.StableWindow - in.ActivityFor}
	}
	if !in.ActivatorInPath {
		return BoundsResult{Scale: 0, Reason: ReasonWaitingOnActivator}
	}
	retention := in.RetentionPeriod
	if !in.Reachable {
		retention = 0
	}
	if in.ActivityFor >= max(in.GracePeriod, retention) {
		return BoundsResult{Scale: 0, Apply: true, Reason: ReasonScaledToZero}
	}
	if retention > 0 && in.ActivityFor < retention {
		return BoundsResult{Scale: 0, Reason: ReasonPodRetention, RequeueAfter: retention - in.ActivityFor}
	}
	// The grace period lets the network move requests to the activator; time the
	// activator already spent in the path counts.
	if left := in.GracePeriod - in.ProxyFor; left > 0 {
		return BoundsResult{Scale: 0, Reason: ReasonGracePeriod, RequeueAfter: left}
	}
	return BoundsResult{Scale: 0, Apply: true, Reason: ReasonScaledToZero}
}

// ActiveThreshold is how many ready instances make the revision active: its
// min-scale (pass 0 for unreachable revisions) and, until initialized, its
// initial scale; at least 1 once initialized.
func ActiveThreshold(minScale, initialScale int32, initialized bool) int {
	if !initialized {
		return int(max(minScale, initialScale))
	}
	return int(max(minScale, 1))
}

// NextActivity is the Active condition after a reconcile that wanted scale want
// with ready instances (Knative's computeActiveCondition). It also reports
// whether the revision is now initialized (it reached the threshold once).
func NextActivity(cur Activity, want int32, ready int, minScale, initialScale int32, initialized bool) (Activity, bool) {
	threshold := ActiveThreshold(minScale, initialScale, initialized)
	if ready >= threshold {
		initialized = true
	}
	switch {
	case want == 0 || threshold == 0:
		return Inactive, initialized
	case ready < threshold:
		if want > 0 || cur != Inactive {
			return Activating, initialized
		}
		return Inactive, initialized
	default:
		if want > 0 || cur != Inactive {
			return Active, initialized
		}
		return cur, initialized
	}
}

// ActivatorInPathFor tells whether requests go through the activator: unless
// instances are wanted and the excess burst capacity is non-negative.
func ActivatorInPathFor(want int32, ebc int32) bool { return !(want > 0 && ebc >= 0) }

// NumActivators is how many activators should front the revision: enough for
// its ready capacity plus the burst target, at least 2.
func NumActivators(ready int, spec DeciderSpec) int32 {
	const minActivators = 2
	if spec.TargetBurstCapacity == 0 {
		return minActivators
	}
	capacity := float64(ready) * spec.TotalValue
	if spec.TargetBurstCapacity > 0 {
		capacity += spec.TargetBurstCapacity
	}
	return int32(math.Max(minActivators, math.Ceil(capacity/spec.ActivatorCapacity)))
}
