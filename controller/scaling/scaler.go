package scaling

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/autoscaler"
	"github.com/prometheus/client_golang/prometheus"
)

// ScrapeInterval is Knative's autoscaler scrape period.
const ScrapeInterval = time.Second

// RevisionInput is what the scaler needs of a revision.
type RevisionInput struct {
	Namespace, Name        string
	Service, Configuration string
	Annotations            map[string]string
	ContainerConcurrency   int64
	// Reachable: a route sends traffic to it (min-scale only holds then).
	Reachable bool
	Created   time.Time
	// ProgressDeadline is the revision's (api.ProgressDeadline): a revision
	// activating for 30 s longer is scaled to zero, as Knative's KPA does.
	// 0: Knative's 600 s.
	ProgressDeadline time.Duration
}

// Options configures a Scaler. Pods is required.
type Options struct {
	// Pods lists a revision's instances.
	Pods     func(namespace, revision string) []Pod
	Registry prometheus.Registerer
	Logger   *slog.Logger
	Now      func() time.Time
	// OnChange is called (it must not block) when a revision's scale changes.
	OnChange func()
	Client   *http.Client
}

// Decision is one tick's outcome, kept for the UI.
type Decision struct {
	Time           time.Time `json:"time"`
	Desired        int32     `json:"desired"`
	Scale          int32     `json:"scale"`
	Ready          int       `json:"ready"`
	Stable         float64   `json:"stableConcurrency"`
	Panic          float64   `json:"panicConcurrency"`
	Target         float64   `json:"targetPerPod"`
	EBC            int32     `json:"excessBurstCapacity"`
	InPanic        bool      `json:"panicMode"`
	DecisionReason string    `json:"reason"`
	BoundsReason   string    `json:"boundsReason"`
	Activity       string    `json:"activity"`
}

// Scaler is the KPA for all revisions of the stack.
type Scaler struct {
	o   Options
	log *slog.Logger
	m   *gauges

	mu   sync.Mutex
	revs map[string]*revScaler
	cfg  api.AutoscalerConfig
}

type revScaler struct {
	in      RevisionInput
	rs      api.RevisionScaling
	metrics *autoscaler.RevisionMetrics
	decider *autoscaler.Decider
	pods    *podCounter

	scale         int32
	activity      autoscaler.Activity
	activitySince time.Time
	initialized   bool
	last          []Decision // newest last, bounded
}

type podCounter struct {
	s         *Scaler
	ns, name  string
	lastReady int
}

func (p *podCounter) ReadyCount() (int, error) {
	n := 0
	for _, pod := range p.s.o.Pods(p.ns, p.name) {
		if pod.Ready {
			n++
		}
	}
	p.lastReady = n
	return n, nil
}

// New returns a scaler; Run drives it.
func New(o Options) *Scaler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OnChange == nil {
		o.OnChange = func() {}
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 800 * time.Millisecond}
	}
	return &Scaler{o: o, log: o.Logger, m: newGauges(o.Registry), revs: map[string]*revScaler{}, cfg: api.DefaultAutoscalerConfig()}
}

func key(ns, name string) string { return ns + "/" + name }

// Sync makes the scaler track exactly revs, with cfg as config-autoscaler.
func (s *Scaler) Sync(revs []RevisionInput, cfg api.AutoscalerConfig) {
	now := s.o.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg = cfg
	seen := make(map[string]bool, len(revs))
	for _, in := range revs {
		k := key(in.Namespace, in.Name)
		seen[k] = true
		rs, err := api.ParseAutoscalingAnnotations(in.Annotations, cfg)
		if err != nil {
			// Validated on apply; a config change can still make one invalid.
			s.log.Warn("autoscaling annotations invalid, using defaults", "revision", k, "err", err)
			rs, _ = api.ParseAutoscalingAnnotations(nil, cfg)
		}
		r := s.revs[k]
		spec := autoscaler.MakeDeciderSpec(rs, cfg, in.ContainerConcurrency, in.Reachable)
		if r == nil || r.rs.StableWindow != rs.StableWindow || r.rs.PanicWindowPercentage != rs.PanicWindowPercentage ||
			r.rs.AggregationAlgorithm != rs.AggregationAlgorithm {
			r = s.newRevScaler(in, rs, spec, r, now)
			s.revs[k] = r
		} else {
			r.decider.Update(spec)
		}
		r.in, r.rs = in, rs
	}
	for k, r := range s.revs {
		if !seen[k] {
			s.m.forget(r.in)
			delete(s.revs, k)
		}
	}
}

func (s *Scaler) newRevScaler(in RevisionInput, rs api.RevisionScaling, spec autoscaler.DeciderSpec, old *revScaler, now time.Time) *revScaler {
	r := &revScaler{in: in, rs: rs, metrics: autoscaler.NewRevisionMetrics(autoscaler.WindowParamsFor(rs)),
		pods: &podCounter{s: s, ns: in.Namespace, name: in.Name}}
	if old != nil {
		// A changed window keeps the scale and activity, not the history.
		r.scale, r.activity, r.activitySince, r.initialized, r.last = old.scale, old.activity, old.activitySince, old.initialized, old.last
	} else {
		// A new revision starts at its initial scale, activating.
		r.scale, r.activity, r.activitySince = rs.InitialScale, autoscaler.Activating, now
	}
	r.decider = autoscaler.NewDecider(spec, r.metrics, r.pods, now)
	return r
}

// Scale returns the scale the revision should run at, and whether the scaler knows it.
func (s *Scaler) Scale(ns, name string) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.revs[key(ns, name)]
	if r == nil {
		return 0, false
	}
	return int(max(r.scale, 0)), true
}

// ActivatorInPath reports whether requests to the revision should go through
// the activator's throttle: until it has instances and non-negative excess
// burst capacity (Knative's rule), or always with target-burst-capacity -1.
func (s *Scaler) ActivatorInPath(ns, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.revs[key(ns, name)]
	if r == nil || len(r.last) == 0 {
		return true
	}
	d := r.last[len(r.last)-1]
	return autoscaler.ActivatorInPathFor(d.Scale, d.EBC)
}

// Decisions returns the revision's last decisions, oldest first.
func (s *Scaler) Decisions(ns, name string) []Decision {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.revs[key(ns, name)]
	if r == nil {
		return nil
	}
	return append([]Decision(nil), r.last...)
}

// Poke tells the scaler a request is waiting for the revision: it counts as
// one concurrent request (as Knative's activator reports) and, when the
// revision is at zero, it decides at once instead of at the next tick.
func (s *Scaler) Poke(ns, name string) {
	now := s.o.Now()
	s.mu.Lock()
	r := s.revs[key(ns, name)]
	if r == nil {
		s.mu.Unlock()
		return
	}
	r.metrics.Record(now, autoscaler.Stat{AverageConcurrentRequests: 1, RequestCount: 1, Time: now})
	changed := false
	if r.scale <= 0 {
		changed = s.decide(r, now)
	}
	s.mu.Unlock()
	if changed {
		s.o.OnChange()
	}
}

// Run scrapes every second and decides every two until ctx ends.
func (s *Scaler) Run(ctx context.Context) error {
	scrape := time.NewTicker(ScrapeInterval)
	defer scrape.Stop()
	tick := time.NewTicker(autoscaler.TickInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-scrape.C:
			s.scrapeAll(ctx)
		case <-tick.C:
			if s.tickAll() {
				s.o.OnChange()
			}
		}
	}
}

func (s *Scaler) scrapeAll(ctx context.Context) {
	s.mu.Lock()
	rs := make([]*revScaler, 0, len(s.revs))
	for _, r := range s.revs {
		rs = append(rs, r)
	}
	s.mu.Unlock()
	// One goroutine per revision, bounded by the tick: a hung pod costs its
	// own revision one sample, never the others.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for _, r := range rs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			start := time.Now()
			now := s.o.Now()
			st, n, err := scrapeRevision(ctx, s.o.Client, s.o.Pods(r.in.Namespace, r.in.Name), r.rs.StableWindow, now)
			s.m.scrapeDuration.Observe(time.Since(start).Seconds())
			if err != nil && n == 0 {
				s.m.scrapeErrors.Inc()
				return
			}
			if n > 0 {
				r.metrics.Record(now, st)
			}
		}()
	}
	wg.Wait()
}

func (s *Scaler) tickAll() bool {
	now := s.o.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	for _, r := range s.revs {
		if s.decide(r, now) {
			changed = true
		}
	}
	return changed
}

// decide runs one decision for r and reports whether its scale changed.
// s.mu is held.
func (s *Scaler) decide(r *revScaler, now time.Time) bool {
	res := r.decider.Decide(now)
	desired := res.DesiredPodCount
	if !res.Valid {
		desired = -1
	}
	minScale := r.rs.MinScale
	proxyFor := time.Duration(0)
	if r.activity == autoscaler.Inactive {
		proxyFor = now.Sub(r.activitySince)
	}
	b := autoscaler.ApplyBounds(autoscaler.BoundsInput{
		Desired: desired, MinScale: minScale, MaxScale: r.rs.MaxScale, InitialScale: r.rs.InitialScale,
		Initialized: r.initialized, Reachable: r.in.Reachable, EnableScaleToZero: s.cfg.EnableScaleToZero,
		Activity: r.activity, ActivityFor: now.Sub(r.activitySince),
		// The gateway's activator is always in the request path when a
		// revision has no ready instance.
		ActivatorInPath: true, ProxyFor: proxyFor,
		StableWindow: r.rs.StableWindow, GracePeriod: s.cfg.ScaleToZeroGracePeriod,
		RetentionPeriod:   r.rs.ScaleToZeroPodRetentionPeriod,
		ActivationTimeout: activationTimeout(r.in.ProgressDeadline),
	})
	old := r.scale
	if b.Apply {
		r.scale = b.Scale
	}
	want := b.Scale
	if want < 0 {
		want = r.scale
	}
	ready, _ := r.pods.ReadyCount()
	reachMin := int32(0)
	if r.in.Reachable {
		reachMin = minScale
	}
	act, init := autoscaler.NextActivity(r.activity, want, ready, reachMin, r.rs.InitialScale, r.initialized)
	if act != r.activity {
		r.activity, r.activitySince = act, now
	}
	r.initialized = init
	d := Decision{Time: now, Desired: desired, Scale: r.scale, Ready: ready, Stable: res.ObservedStable, Panic: res.ObservedPanic,
		Target: res.TargetValue, EBC: res.ExcessBurstCapacity, InPanic: res.InPanic, DecisionReason: string(res.Reason),
		BoundsReason: string(b.Reason), Activity: r.activity.String()}
	if len(r.last) >= 30 {
		r.last = append(r.last[:0], r.last[1:]...)
	}
	r.last = append(r.last, d)
	s.m.record(r.in, d)
	if r.scale != old {
		s.log.Info("scale changed", "revision", key(r.in.Namespace, r.in.Name), "from", old, "to", r.scale,
			"reason", d.DecisionReason, "bounds", d.BoundsReason, "stable", d.Stable, "panic", d.Panic)
		return true
	}
	return false
}

// activationTimeout is Knative's: the progress deadline and 30 s more.
func activationTimeout(progressDeadline time.Duration) time.Duration {
	if progressDeadline <= 0 {
		return 0 // autoscaler.DefaultActivationTimeout
	}
	return progressDeadline + 30*time.Second
}
