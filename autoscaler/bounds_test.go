package autoscaler

import (
	"testing"
	"time"
)

func TestApplyBounds(t *testing.T) {
	base := BoundsInput{
		Reachable: true, EnableScaleToZero: true, Initialized: true, InitialScale: 1,
		Activity: Active, ActivityFor: time.Hour, ActivatorInPath: true,
		StableWindow: 60 * time.Second, GracePeriod: 30 * time.Second,
	}
	tests := []struct {
		name string
		mod  func(*BoundsInput)
		want BoundsResult
	}{
		{"within bounds", func(in *BoundsInput) { in.Desired, in.MinScale, in.MaxScale = 3, 1, 5 }, BoundsResult{3, true, ReasonDesired, 0}},
		{"min", func(in *BoundsInput) { in.Desired, in.MinScale = 1, 3 }, BoundsResult{3, true, ReasonBoundedByMinScale, 0}},
		{"max", func(in *BoundsInput) { in.Desired, in.MaxScale = 10, 4 }, BoundsResult{4, true, ReasonBoundedByMaxScale, 0}},
		{"max 0 is unbounded", func(in *BoundsInput) { in.Desired = 1000 }, BoundsResult{1000, true, ReasonDesired, 0}},
		{"min ignored when unreachable", func(in *BoundsInput) { in.Desired, in.MinScale, in.Reachable, in.ActivityFor = 1, 3, false, 0 }, BoundsResult{1, true, ReasonDesired, 0}},
		{"initial scale until initialized", func(in *BoundsInput) { in.Desired, in.InitialScale, in.Initialized = 1, 4, false }, BoundsResult{4, true, ReasonInitialScale, 0}},
		{"initial scale done once initialized", func(in *BoundsInput) { in.Desired, in.InitialScale = 1, 4 }, BoundsResult{1, true, ReasonDesired, 0}},
		{"no decision yet", func(in *BoundsInput) { in.Desired, in.MinScale = -1, 3 }, BoundsResult{-1, false, ReasonNoDecision, 0}},
		{"scale to zero disabled", func(in *BoundsInput) { in.EnableScaleToZero = false }, BoundsResult{1, true, ReasonScaleToZeroDisabled, 0}},
		{"active less than a stable window", func(in *BoundsInput) { in.ActivityFor = 20 * time.Second }, BoundsResult{1, true, ReasonStableWindowHold, 40 * time.Second}},
		{"active a stable window: deactivate first", func(in *BoundsInput) { in.ActivityFor = 60 * time.Second }, BoundsResult{0, false, ReasonDeactivating, 0}},
		{"inactive, activator not confirmed", func(in *BoundsInput) { in.Activity, in.ActivityFor, in.ActivatorInPath = Inactive, 0, false }, BoundsResult{0, false, ReasonWaitingOnActivator, 0}},
		{"inactive within grace", func(in *BoundsInput) {
			in.Activity, in.ActivityFor, in.ProxyFor = Inactive, 5*time.Second, 10*time.Second
		}, BoundsResult{0, false, ReasonGracePeriod, 20 * time.Second}},
		{"inactive, activator in path for the grace period", func(in *BoundsInput) { in.Activity, in.ActivityFor, in.ProxyFor = Inactive, 0, 30*time.Second }, BoundsResult{0, true, ReasonScaledToZero, 0}},
		{"inactive for the grace period", func(in *BoundsInput) { in.Activity, in.ActivityFor = Inactive, 30*time.Second }, BoundsResult{0, true, ReasonScaledToZero, 0}},
		{"retention holds the last pod", func(in *BoundsInput) {
			in.Activity, in.ActivityFor, in.ProxyFor, in.RetentionPeriod = Inactive, 40*time.Second, time.Hour, time.Minute
		}, BoundsResult{0, false, ReasonPodRetention, 20 * time.Second}},
		{"retention over", func(in *BoundsInput) {
			in.Activity, in.ActivityFor, in.RetentionPeriod = Inactive, time.Minute, time.Minute
		}, BoundsResult{0, true, ReasonScaledToZero, 0}},
		{"retention ignored when unreachable", func(in *BoundsInput) {
			in.Activity, in.ActivityFor, in.ProxyFor, in.RetentionPeriod, in.Reachable = Inactive, 5*time.Second, time.Hour, time.Minute, false
		}, BoundsResult{0, true, ReasonScaledToZero, 0}},
		{"activating: unknown", func(in *BoundsInput) { in.Activity, in.ActivityFor = Activating, time.Minute }, BoundsResult{-1, false, ReasonActivating, DefaultActivationTimeout}},
		{"activating timed out", func(in *BoundsInput) { in.Activity, in.ActivityFor = Activating, DefaultActivationTimeout+time.Second }, BoundsResult{0, true, ReasonActivationTimeout, 0}},
		{"activating without a decision still times out", func(in *BoundsInput) {
			in.Desired, in.Activity, in.ActivityFor, in.ActivationTimeout = -1, Activating, 11*time.Second, 10*time.Second
		}, BoundsResult{0, true, ReasonActivationTimeout, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := base
			tc.mod(&in)
			if got := ApplyBounds(in); got != tc.want {
				t.Errorf("ApplyBounds = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestNextActivity(t *testing.T) {
	tests := []struct {
		name        string
		cur         Activity
		want        int32
		ready       int
		min, init   int32
		initialized bool
		wantAct     Activity
		wantInit    bool
	}{
		{"want zero", Active, 0, 3, 0, 1, true, Inactive, true},
		{"ready", Activating, 2, 2, 0, 1, true, Active, true},
		{"not ready yet", Inactive, 2, 0, 0, 1, true, Activating, true},
		{"inactive stays without want", Inactive, -1, 0, 0, 1, true, Inactive, true},
		{"below min-scale", Active, 3, 2, 3, 1, true, Activating, true},
		{"initial scale 0 is inactive until initialized", Inactive, 1, 0, 0, 0, false, Inactive, true},
		{"initial scale threshold", Activating, 3, 2, 0, 3, false, Activating, false},
		{"initial scale reached", Activating, 3, 3, 0, 3, false, Active, true},
	}
	for _, tc := range tests {
		act, init := NextActivity(tc.cur, tc.want, tc.ready, tc.min, tc.init, tc.initialized)
		if act != tc.wantAct || init != tc.wantInit {
			t.Errorf("%s: NextActivity = %s, %t; want %s, %t", tc.name, act, init, tc.wantAct, tc.wantInit)
		}
	}
}

func TestActivatorPlacement(t *testing.T) {
	for _, tc := range []struct {
		want, ebc int32
		inPath    bool
	}{{3, 0, false}, {3, 5, false}, {3, -1, true}, {0, 10, true}, {-1, 10, true}} {
		if got := ActivatorInPathFor(tc.want, tc.ebc); got != tc.inPath {
			t.Errorf("ActivatorInPathFor(%d, %d) = %t, want %t", tc.want, tc.ebc, got, tc.inPath)
		}
	}
	spec := DeciderSpec{TotalValue: 100, TargetBurstCapacity: 211, ActivatorCapacity: 100}
	for _, tc := range []struct {
		ready int
		tbc   float64
		want  int32
	}{{0, 211, 3}, {3, 211, 6}, {10, 0, 2}, {10, -1, 10}, {0, -1, 2}} {
		spec.TargetBurstCapacity = tc.tbc
		if got := NumActivators(tc.ready, spec); got != tc.want {
			t.Errorf("NumActivators(%d, tbc %v) = %d, want %d", tc.ready, tc.tbc, got, tc.want)
		}
	}
}
