package autoscaler

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Test doubles and helpers follow Knative's autoscaler_test.go: a 75 % target
// utilization, so TotalValue = target / 0.75.
const testUtilization = 0.75

type fakePods struct {
	n   int
	err error
}

func (f *fakePods) ReadyCount() (int, error) { return f.n, f.err }

type fakeMetrics struct {
	stableC, panicC, stableR, panicR float64
	err                              error
}

func (f *fakeMetrics) StableAndPanicConcurrency(time.Time) (float64, float64, error) {
	return f.stableC, f.panicC, f.err
}

func (f *fakeMetrics) StableAndPanicRPS(time.Time) (float64, float64, error) {
	return f.stableR, f.panicR, f.err
}

func (f *fakeMetrics) set(stable, panic float64) { f.stableC, f.panicC = stable, panic }

func testSpec(target, tbc float64) DeciderSpec {
	return DeciderSpec{
		ScalingMetric:       "concurrency",
		TargetValue:         target,
		TotalValue:          target / testUtilization,
		TargetBurstCapacity: tbc,
		PanicThreshold:      2,
		MaxScaleUpRate:      10,
		MaxScaleDownRate:    10,
		ActivatorCapacity:   150,
		StableWindow:        60 * time.Second,
		Reachable:           true,
	}
}

func newTestDecider(target, tbc float64, m *fakeMetrics) (*Decider, *fakePods) {
	pods := &fakePods{n: 1}
	return NewDecider(testSpec(target, tbc), m, pods, t0), pods
}

func expectedEBC(target, tbc, panic float64, ready int) int32 {
	return int32(math.Floor(target/testUtilization*float64(ready) - tbc - panic))
}

type want struct {
	desired int32
	ebc     int32
	valid   bool
}

func expectScale(t *testing.T, d *Decider, now time.Time, w want) ScaleResult {
	t.Helper()
	got := d.Decide(now)
	if got.DesiredPodCount != w.desired || got.Valid != w.valid || abs32(got.ExcessBurstCapacity-w.ebc) > 1 {
		t.Errorf("Decide(%v) = {desired %d, ebc %d, valid %t, reason %s}, want {%d, %d, %t}",
			now.Sub(t0), got.DesiredPodCount, got.ExcessBurstCapacity, got.Valid, got.Reason, w.desired, w.ebc, w.valid)
	}
	return got
}

func abs32(x int32) int32 {
	if x < 0 {
		return -x
	}
	return x
}

func TestDecideTable(t *testing.T) {
	tests := []struct {
		name       string
		target     float64
		tbc        float64
		stable     float64
		panic      float64
		ready      int
		prep       func(*Decider)
		want       want
		wantReason Reason
	}{
		{name: "no data at zero", target: 10, tbc: 100, ready: 1, want: want{0, expectedEBC(10, 100, 0, 1), true}, wantReason: ReasonStable},
		{name: "unlimited TBC", target: 181, tbc: -1, stable: 21, panic: 26, ready: 1, want: want{1, -1, true}, wantReason: ReasonStable},
		{name: "zero TBC", target: 10, tbc: 0, stable: 50, panic: 49, ready: 1, want: want{5, 0, true}, wantReason: ReasonPanic},
		{name: "stable no change", target: 10, tbc: 100, stable: 50, panic: 50, ready: 1, want: want{5, expectedEBC(10, 100, 50, 1), true}, wantReason: ReasonPanic},
		{
			name: "panic: stable larger than panic", target: 1, tbc: 100, stable: 50, panic: 30, ready: 5,
			prep:       func(d *Decider) { d.panicking, d.panicTime, d.maxPanicPods = true, t0.Add(-5*time.Second), 5 },
			want:       want{50, expectedEBC(1, 100, 30, 5), true}, // the stable value decides
			wantReason: ReasonPanic,
		},
		{
			name: "panic: stable less than panic", target: 1, tbc: 100, stable: 20, panic: 30, ready: 5,
			prep: func(d *Decider) { d.panicking, d.panicTime, d.maxPanicPods = true, t0.Add(-5*time.Second), 5 },
			want: want{30, expectedEBC(1, 100, 30, 5), true},
		},
		{name: "already scaled", target: 10, tbc: 100, stable: 50, panic: 50, ready: 5, want: want{5, expectedEBC(10, 100, 50, 5), true}},
		{
			name: "small scale-up rate still grows by one", target: 1, tbc: 1982, stable: 3, panic: 3.1, ready: 2,
			prep: func(d *Decider) { d.spec.MaxScaleUpRate = 1.1 },
			want: want{3, expectedEBC(1, 1982, 3.1, 2), true},
		},
		{
			name: "small scale-down rate", target: 10, tbc: 1982, stable: 1, panic: 1, ready: 100,
			prep:       func(d *Decider) { d.spec.MaxScaleDownRate = 1.1 },
			want:       want{90, expectedEBC(10, 1982, 1, 100), true},
			wantReason: ReasonMaxScaleDownRate,
		},
		{
			name: "unreachable ignores the scale-down rate", target: 10, tbc: 1982, stable: 1, panic: 1, ready: 100,
			prep: func(d *Decider) { d.spec.MaxScaleDownRate, d.spec.Reachable = 1.1, false },
			want: want{1, expectedEBC(10, 1982, 1, 100), true},
		},
		{name: "panic doubles the count", target: 10, tbc: 84, stable: 50, panic: 100, ready: 1, want: want{10, expectedEBC(10, 84, 100, 1), true}, wantReason: ReasonPanic},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, pods := newTestDecider(tc.target, tc.tbc, &fakeMetrics{stableC: tc.stable, panicC: tc.panic})
			pods.n = tc.ready
			if tc.prep != nil {
				tc.prep(d)
			}
			got := expectScale(t, d, t0, tc.want)
			if tc.wantReason != "" && got.Reason != tc.wantReason {
				t.Errorf("Reason = %s, want %s", got.Reason, tc.wantReason)
			}
		})
	}
}

func TestDecideNoData(t *testing.T) {
	d, _ := newTestDecider(10, 100, &fakeMetrics{err: ErrNoData})
	got := d.Decide(t0)
	if got.Valid || got.Reason != ReasonNoData {
		t.Errorf("Decide = %+v, want invalid no-data", got)
	}
	pods := &fakePods{err: errors.New("peaches")}
	d = NewDecider(testSpec(10, 81), &fakeMetrics{stableC: 1000, panicC: 888}, pods, t0)
	if got := d.Decide(t0); got.Valid || got.Reason != ReasonNoPodCount {
		t.Errorf("Decide with a pod count error = %+v, want invalid", got)
	}
	// No endpoints yet: presume 0 ready, so rates are relative to one instance.
	pods.err = ErrNoEndpoints
	expectScale(t, d, t0, want{10, expectedEBC(10, 81, 888, 0), true})
}

func TestDecideStableModes(t *testing.T) {
	m := &fakeMetrics{stableC: 50, panicC: 10}
	d, _ := newTestDecider(10, 101, m)
	expectScale(t, d, t0, want{5, expectedEBC(10, 101, 10, 1), true})
	m.stableC = 100
	expectScale(t, d, t0, want{10, expectedEBC(10, 101, 10, 1), true})

	m = &fakeMetrics{stableR: 50, panicR: 50}
	d, _ = newTestDecider(10, 101, m)
	d.spec.ScalingMetric = "rps"
	expectScale(t, d, t0, want{5, expectedEBC(10, 101, 50, 1), true})
	m.stableR, m.panicR = 100, 99
	expectScale(t, d, t0, want{10, expectedEBC(10, 101, 99, 1), true})

	m = &fakeMetrics{stableC: 100, panicC: 100}
	d, pods := newTestDecider(10, 98, m)
	pods.n = 8
	expectScale(t, d, t0, want{10, expectedEBC(10, 98, 100, 8), true})
	m.set(50, 50)
	expectScale(t, d, t0, want{5, expectedEBC(10, 98, 50, 8), true})

	m = &fakeMetrics{stableC: 1, panicC: 0}
	d, _ = newTestDecider(10, 75, m)
	expectScale(t, d, t0, want{1, expectedEBC(10, 75, 0, 1), true})
	m.stableC = 0
	expectScale(t, d, t0, want{0, expectedEBC(10, 75, 0, 1), true})
}

func TestDecideActivationScale(t *testing.T) {
	m := &fakeMetrics{}
	d, _ := newTestDecider(10, 75, m)
	d.spec.ActivationScale = 2
	expectScale(t, d, t0, want{0, expectedEBC(10, 75, 0, 1), true})
	m.stableC = 1
	if got := expectScale(t, d, t0, want{2, expectedEBC(10, 75, 0, 1), true}); got.Reason != ReasonActivationScale {
		t.Errorf("Reason = %s, want activation-scale", got.Reason)
	}
}

func TestDecidePanicUnpanicAfterSlowIncrease(t *testing.T) {
	m := &fakeMetrics{stableC: 11, panicC: 25}
	d, pods := newTestDecider(1, 98, m)
	pods.n = 10
	tm := t0
	expectScale(t, d, tm, want{25, expectedEBC(1, 98, 25, 10), true})
	if !d.panicking || d.panicTime != tm {
		t.Fatalf("panic = %t at %v, want panic at %v", d.panicking, d.panicTime, tm)
	}
	// Half a stable window later, +15 pods, not over the threshold any more.
	pods.n = 40
	m.set(30, 41)
	tm = tm.Add(30 * time.Second)
	expectScale(t, d, tm, want{41, expectedEBC(1, 98, 41, 40), true})
	if d.panicTime != t0 {
		t.Error("panic time moved without a panic-worthy tick")
	}
	// A stable window (plus a tick) after the last panic-worthy tick: panic ends.
	pods.n = 55
	m.set(50, 56)
	tm = tm.Add(30*time.Second + TickInterval)
	got := expectScale(t, d, tm, want{50, expectedEBC(1, 98, 56, 55), true})
	if d.panicking || got.InPanic {
		t.Error("still panicking after the stable window")
	}
}

func TestDecidePanicExtends(t *testing.T) {
	m := &fakeMetrics{stableC: 11, panicC: 25}
	d, pods := newTestDecider(1, 98, m)
	pods.n = 10
	expectScale(t, d, t0, want{25, expectedEBC(1, 98, 25, 10), true})
	pods.n = 40
	m.set(30, 80)
	tm := t0.Add(30 * time.Second)
	expectScale(t, d, tm, want{80, expectedEBC(1, 98, 80, 40), true})
	if d.panicTime != tm {
		t.Errorf("panic time = %v, want extended to %v", d.panicTime, tm)
	}
}

func TestDecidePanicExponentialTrackAndStabilize(t *testing.T) {
	m := &fakeMetrics{stableC: 6, panicC: 6}
	d, pods := newTestDecider(1, 101, m)
	expectScale(t, d, t0, want{6, expectedEBC(1, 101, 6, 1), true})
	tm := t0
	for _, step := range []struct {
		ready int
		load  float64
		dt    time.Duration
	}{{6, 36, 0}, {36, 216, time.Second}, {216, 1296, 0}, {1296, 1296, time.Second}} {
		pods.n = step.ready
		m.set(step.load, step.load)
		tm = tm.Add(step.dt)
		expectScale(t, d, tm, want{int32(step.load), expectedEBC(1, 101, step.load, step.ready), true})
	}
}

func TestDecidePanicThenUnpanicScaleDown(t *testing.T) {
	m := &fakeMetrics{stableC: 100, panicC: 100}
	d, pods := newTestDecider(10, 93, m)
	expectScale(t, d, t0, want{10, expectedEBC(10, 93, 100, 1), true})
	pods.n = 10
	m.panicC = 1000
	expectScale(t, d, t0, want{100, expectedEBC(10, 93, 1000, 10), true})
	// Traffic drops off; the count holds while panicking.
	m.set(1, 1)
	if got := expectScale(t, d, t0.Add(30*time.Second), want{100, expectedEBC(10, 93, 1, 10), true}); got.Reason != ReasonPanic {
		t.Errorf("Reason = %s, want panic", got.Reason)
	}
	expectScale(t, d, t0.Add(61*time.Second), want{1, expectedEBC(10, 93, 1, 10), true})
}

func TestDecideRateLimits(t *testing.T) {
	m := &fakeMetrics{stableC: 1000, panicC: 1001}
	d, pods := newTestDecider(10, 61, m)
	if got := expectScale(t, d, t0, want{10, expectedEBC(10, 61, 1001, 1), true}); got.Reason != ReasonPanic {
		t.Errorf("Reason = %s, want panic", got.Reason)
	}
	pods.n = 10
	expectScale(t, d, t0, want{100, expectedEBC(10, 61, 1001, 10), true})

	m = &fakeMetrics{stableC: 1, panicC: 1}
	d, pods = newTestDecider(10, 61, m)
	pods.n = 100
	if got := expectScale(t, d, t0, want{10, expectedEBC(10, 61, 1, 100), true}); got.Reason != ReasonMaxScaleDownRate {
		t.Errorf("Reason = %s, want max-scale-down-rate", got.Reason)
	}
	pods.n = 10
	expectScale(t, d, t0, want{1, expectedEBC(10, 61, 1, 10), true})

	// Stable mode, scale-up limited.
	m = &fakeMetrics{stableC: 1000, panicC: 0}
	d, _ = newTestDecider(10, 61, m)
	if got := d.Decide(t0); got.DesiredPodCount != 10 || got.Reason != ReasonMaxScaleUpRate {
		t.Errorf("Decide = %d (%s), want 10 max-scale-up-rate", got.DesiredPodCount, got.Reason)
	}
}

func TestDecideUpdate(t *testing.T) {
	m := &fakeMetrics{stableC: 100, panicC: 101}
	d, pods := newTestDecider(10, 77, m)
	expectScale(t, d, t0, want{10, expectedEBC(10, 77, 101, 1), true})
	pods.n = 10
	spec := testSpec(1, 71)
	d.Update(spec)
	expectScale(t, d, t0, want{100, expectedEBC(1, 71, 101, 10), true})
	if diff := cmp.Diff(spec, d.Spec()); diff != "" {
		t.Errorf("Spec (-want +got):\n%s", diff)
	}
}

func TestStartInPanic(t *testing.T) {
	m := &fakeMetrics{stableC: 10, panicC: 10}
	for ready := 0; ready < 2; ready++ {
		d := NewDecider(testSpec(10, 11), m, &fakePods{n: ready}, t0)
		if d.InPanic() || d.maxPanicPods != int32(ready) {
			t.Errorf("created at %d: panic %t, maxPanicPods %d", ready, d.InPanic(), d.maxPanicPods)
		}
	}
	d := NewDecider(testSpec(10, 11), m, &fakePods{n: 2}, t0)
	if !d.InPanic() || d.maxPanicPods != 2 {
		t.Errorf("created at 2: panic %t, maxPanicPods %d; want panic holding 2", d.InPanic(), d.maxPanicPods)
	}
	// Low load does not dip the count until a stable window has passed.
	m.set(1, 1)
	pods := &fakePods{n: 5}
	d = NewDecider(testSpec(10, 11), m, pods, t0)
	expectScale(t, d, t0.Add(58*time.Second), want{5, expectedEBC(10, 11, 1, 5), true})
	expectScale(t, d, t0.Add(62*time.Second), want{1, expectedEBC(10, 11, 1, 5), true})
	if d := NewDecider(testSpec(10, 11), m, &fakePods{err: errors.New("starlight")}, t0); d.maxPanicPods != 0 || d.InPanic() {
		t.Error("pod count error should start at 0 without panic")
	}
}

func TestDecideScaleDownDelay(t *testing.T) {
	spec := DeciderSpec{TargetValue: 10, MaxScaleDownRate: 10, MaxScaleUpRate: 10, PanicThreshold: 100, ScaleDownDelay: 5 * time.Minute, Reachable: true}
	m := &fakeMetrics{}
	pods := &fakePods{}
	d := NewDecider(spec, m, pods, t0)
	step := func(at time.Duration, stable float64, w int32, reason Reason) {
		t.Helper()
		m.set(stable, stable)
		got := d.Decide(t0.Add(at))
		if got.DesiredPodCount != w || (reason != "" && got.Reason != reason) {
			t.Errorf("at %v: desired %d (%s), want %d (%s)", at, got.DesiredPodCount, got.Reason, w, reason)
		}
	}
	step(2*time.Second, 40, 4, ReasonStable)
	step(5*time.Minute, 0, 4, ReasonScaleDownDelay) // not a full delay at reduced load yet
	step(5*time.Minute+2*time.Second, 0, 0, ReasonStable)
	// Gradual: the maximum over the delay window scrolls out.
	step(9*time.Minute, 40, 4, "")
	step(10*time.Minute, 30, 4, ReasonScaleDownDelay)
	step(11*time.Minute, 0, 4, "")
	step(14*time.Minute, 0, 3, "")
	step(15*time.Minute, 0, 0, "")

	// An unreachable revision is not delayed.
	d = NewDecider(spec, m, pods, t0)
	step(2*time.Second, 40, 4, "")
	step(time.Minute, 0, 4, "")
	spec.Reachable = false
	d.Update(spec)
	step(time.Minute+2*time.Second, 0, 0, "")

	// Without a delay a lower value in the same bucket applies at once.
	spec = DeciderSpec{TargetValue: 10, MaxScaleDownRate: 10, MaxScaleUpRate: 10, PanicThreshold: 100, Reachable: true}
	d = NewDecider(spec, m, pods, t0)
	step(0, 40, 4, "")
	step(500*time.Millisecond, 20, 2, "")
}

func TestInitialEBC(t *testing.T) {
	for _, tc := range []struct {
		tbc  float64
		want int32
	}{{211, 1*100 - 211}, {0, 0}, {-1, -1}, {50, 50}} {
		spec := DeciderSpec{TargetBurstCapacity: tc.tbc, InitialScale: 1, TotalValue: 100}
		if got := InitialEBC(spec); got != tc.want {
			t.Errorf("InitialEBC(tbc %v) = %d, want %d", tc.tbc, got, tc.want)
		}
	}
}

// Decisions on real windows: the decider reads what RevisionMetrics aggregated.
func TestDecideOnRevisionMetrics(t *testing.T) {
	rm := NewRevisionMetrics(WindowParams{StableWindow: 60 * time.Second, PanicWindow: 6 * time.Second})
	pods := &fakePods{n: 1}
	d := NewDecider(testSpec(10, 211), rm, pods, t0)
	if got := d.Decide(t0); got.Valid {
		t.Fatalf("decided without data: %+v", got)
	}
	for s := 0; s <= 10; s++ {
		rm.Record(sec(float64(s)), Stat{AverageConcurrentRequests: 30, AverageProxiedConcurrentRequests: 10})
	}
	pods.n = 2 // 20 requests on 2 instances: not panic-worthy
	got := d.Decide(sec(10))
	want := ScaleResult{DesiredPodCount: 2, ExcessBurstCapacity: expectedEBC(10, 211, 20, 2), Valid: true, Reason: ReasonStable,
		ReadyPodCount: 2, ObservedStable: 20, ObservedPanic: 20, TargetValue: 10}
	if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("ScaleResult (-want +got):\n%s", diff)
	}
}
