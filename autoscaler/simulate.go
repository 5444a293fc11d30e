package autoscaler

import (
	"time"

	"github.com/gantry-dev/gantry/api"
)

// TracePoint is one row of a simulation trace: the revision-wide concurrency
// (and optionally requests per second) observed in one second.
type TracePoint struct {
	Second      int64
	Concurrency float64
	RPS         float64
}

// SimRow is one decider tick of a simulation.
type SimRow struct {
	T int64 `json:"t"`
	// Ready is the ready count the decider saw.
	Ready int `json:"ready"`
	// Desired and EBC are the decider's raw output (its latest valid decision;
	// −1 desired before the first one).
	Desired int32 `json:"desired"`
	EBC     int32 `json:"ebc"`
	// Stable and Panic are the windowed averages of the scaling metric.
	Stable    float64 `json:"stable"`
	Panic     float64 `json:"panic"`
	PanicMode bool    `json:"panic_mode"`
	// Scale is the revision's scale after min/max bounds and scale to zero.
	Scale int32 `json:"scale"`
	// Reason is why the decider or the bounds settled on the values (not part of
	// the CSV/JSON contract).
	Reason Reason `json:"-"`
}

// SimParams configures a simulation.
type SimParams struct {
	Config  api.AutoscalerConfig
	Scaling api.RevisionScaling
	// PodStartup delays a change of the desired count until the first tick at or
	// after the change plus PodStartup; with 0 the next tick sees it.
	PodStartup           time.Duration
	ContainerConcurrency int64
}

// simTime maps a trace second to a point in time.
func simTime(sec int64) time.Time { return time.Unix(sec, 0) }

// fixedCount is the simulated ready count.
type fixedCount struct{ n int }

func (f *fixedCount) ReadyCount() (int, error) { return f.n, nil }

type readyChange struct {
	at int64 // tick second it takes effect
	n  int
}

// Simulate runs the model: each trace row at second s is one
// revision-wide stat recorded at s; the decider ticks at every even second
// t = 2, 4, ... (up to the last trace second) after that second's stat; the
// revision starts with initial-scale ready instances and one decider built at
// time 0; a change of the raw desired count at tick t becomes the ready count at
// the first tick at or after t + PodStartup (the next tick when that is 0).
// Points must be sorted by second.
func Simulate(trace []TracePoint, p SimParams) []SimRow {
	rs, cfg := p.Scaling, p.Config
	spec := MakeDeciderSpec(rs, cfg, p.ContainerConcurrency, true)
	metrics := NewRevisionMetrics(WindowParamsFor(rs))
	ready := int(rs.InitialScale)
	pods := &fixedCount{n: ready}
	dec := NewDecider(spec, metrics, pods, simTime(0))

	s := simState{
		rs: rs, cfg: cfg,
		desired: -1, ebc: InitialEBC(spec),
		scale:      rs.InitialScale,
		proxySince: -1,
	}
	s.activity, s.initialized = NextActivity(Inactive, rs.InitialScale, ready, rs.MinScale, rs.InitialScale, false)
	if ActivatorInPathFor(rs.InitialScale, s.ebc) {
		s.proxySince = 0
	}

	var pending []readyChange
	lastTarget := ready
	var rows []SimRow
	if len(trace) == 0 {
		return rows
	}
	end := trace[len(trace)-1].Second
	next := 0
	for t := int64(0); t <= end; t++ {
		for next < len(trace) && trace[next].Second == t {
			tp := trace[next]
			metrics.Record(simTime(t), Stat{AverageConcurrentRequests: tp.Concurrency, RequestCount: tp.RPS, Time: simTime(t)})
			next++
		}
		if t == 0 || t%2 != 0 {
			continue
		}
		for len(pending) > 0 && pending[0].at <= t {
			ready, pending = pending[0].n, pending[1:]
		}
		pods.n = ready
		res := dec.Decide(simTime(t))
		if res.Valid {
			s.desired, s.ebc = res.DesiredPodCount, res.ExcessBurstCapacity
			if int(s.desired) != lastTarget {
				pending = append(pending, readyChange{at: effectiveTick(t, p.PodStartup), n: int(s.desired)})
				lastTarget = int(s.desired)
			}
		}
		reason := s.reconcile(t, ready)
		if res.Valid && (reason == ReasonDesired || reason == ReasonNoDecision) {
			reason = res.Reason
		} else if !res.Valid && reason == ReasonNoDecision {
			reason = res.Reason
		}
		rows = append(rows, SimRow{
			T: t, Ready: ready, Desired: s.desired, EBC: s.ebc,
			Stable: res.ObservedStable, Panic: res.ObservedPanic, PanicMode: res.InPanic,
			Scale: s.scale, Reason: reason,
		})
	}
	return rows
}

// effectiveTick is the first even tick at or after t+startup, and after t.
func effectiveTick(t int64, startup time.Duration) int64 {
	at := time.Duration(t)*time.Second + startup
	tick := int64((at + TickInterval - 1) / TickInterval * TickInterval / time.Second)
	return max(tick, t+int64(TickInterval/time.Second))
}

// simState is the PodAutoscaler status the KPA reconciler keeps between ticks.
type simState struct {
	rs  api.RevisionScaling
	cfg api.AutoscalerConfig

	desired int32 // decider status
	ebc     int32
	scale   int32 // applied replicas

	activity      Activity
	activitySince int64
	initialized   bool
	proxySince    int64 // −1 while the activator is out of the path
}

// reconcile applies bounds and scale to zero at tick t and updates the Active
// condition and the activator's place in the path. A change of the condition
// triggers another reconcile at once, as the status update does in Knative.
func (s *simState) reconcile(t int64, ready int) Reason {
	var reason Reason
	for range 3 {
		b := ApplyBounds(BoundsInput{
			Desired:           s.desired,
			MinScale:          s.rs.MinScale,
			MaxScale:          s.rs.MaxScale,
			InitialScale:      s.rs.InitialScale,
			Initialized:       s.initialized,
			Reachable:         true,
			EnableScaleToZero: s.cfg.EnableScaleToZero,
			Activity:          s.activity,
			ActivityFor:       time.Duration(t-s.activitySince) * time.Second,
			ActivatorInPath:   s.proxySince >= 0,
			ProxyFor:          s.proxyFor(t),
			StableWindow:      s.rs.StableWindow,
			GracePeriod:       s.cfg.ScaleToZeroGracePeriod,
			RetentionPeriod:   s.rs.ScaleToZeroPodRetentionPeriod,
		})
		reason = b.Reason
		if b.Apply {
			s.scale = b.Scale
		}
		if ActivatorInPathFor(b.Scale, s.ebc) {
			if s.proxySince < 0 {
				s.proxySince = t
			}
		} else {
			s.proxySince = -1
		}
		act, init := NextActivity(s.activity, b.Scale, ready, s.rs.MinScale, s.rs.InitialScale, s.initialized)
		s.initialized = init
		if act == s.activity {
			break
		}
		s.activity, s.activitySince = act, t
	}
	return reason
}

func (s *simState) proxyFor(t int64) time.Duration {
	if s.proxySince < 0 {
		return 0
	}
	return time.Duration(t-s.proxySince) * time.Second
}
