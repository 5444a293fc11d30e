package gateway

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultMaxBuffered bounds the requests the activator holds at once.
const DefaultMaxBuffered = 10000

// activator holds requests for revisions with no ready instance (scaled to
// zero, or still starting) until one is ready, pokes the autoscaler so it
// scales up at once, and gives up at the revision's timeout.
type activator struct {
	poke     func(namespace, revision string)
	max      int64
	buffered atomic.Int64
	// changed is closed and replaced each time the endpoints change.
	changed atomic.Pointer[chan struct{}]
	slots   sync.Map // "namespace/revision" → *revSlots

	coldStart *prometheus.HistogramVec
	queued    prometheus.Gauge
	overflow  prometheus.Counter
}

func newActivator(o Options) *activator {
	a := &activator{poke: o.OnColdStart, max: int64(o.MaxBuffered)}
	if a.max <= 0 {
		a.max = DefaultMaxBuffered
	}
	ch := make(chan struct{})
	a.changed.Store(&ch)
	a.coldStart = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "activator_cold_start_seconds",
		Help:    "Time requests waited in the activator for a revision with no ready instance.",
		Buckets: []float64{.025, .05, .1, .2, .3, .5, .75, 1, 2, 5, 10, 30, 60},
	}, []string{"namespace_name", "revision_name"})
	a.queued = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "activator_buffered_requests", Help: "Requests waiting in the activator for a ready instance.",
	})
	a.overflow = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "activator_buffer_overflow_total", Help: "Requests refused because the activator's buffer was full.",
	})
	if o.Registry != nil {
		o.Registry.MustRegister(a.coldStart, a.queued, a.overflow)
	}
	return a
}

// endpointsChanged wakes every waiting request.
func (a *activator) endpointsChanged() {
	ch := make(chan struct{})
	old := a.changed.Swap(&ch)
	close(*old)
}

// wait blocks until pick returns an endpoint, the request ends, or timeout.
// It returns the endpoint and how long the request waited.
func (a *activator) wait(ctx context.Context, tg Target, timeout time.Duration, pick func() (Endpoint, bool)) (Endpoint, time.Duration, int) {
	if n := a.buffered.Add(1); n > a.max {
		a.buffered.Add(-1)
		a.overflow.Inc()
		return Endpoint{}, 0, http.StatusServiceUnavailable
	}
	a.queued.Inc()
	defer func() { a.buffered.Add(-1); a.queued.Dec() }()
	if a.poke != nil {
		a.poke(tg.Namespace, tg.Revision)
	}
	start := time.Now()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		ch := *a.changed.Load()
		if ep, ok := pick(); ok {
			d := time.Since(start)
			a.coldStart.WithLabelValues(tg.Namespace, tg.Revision).Observe(d.Seconds())
			return ep, d, 0
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return Endpoint{}, 0, 499
		case <-timer.C:
			return Endpoint{}, 0, http.StatusGatewayTimeout
		}
	}
}

func formatMillis(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64)
}

// revSlots counts the requests the activator has released to one revision,
// so a burst that waited for a cold start reaches the instances no faster
// than their containerConcurrency allows (the queue-proxy would refuse the
// excess beyond its queue).
type revSlots struct {
	mu       sync.Mutex
	inflight int
	changed  chan struct{}
}

func (a *activator) slotsFor(key string) *revSlots {
	if s, ok := a.slots.Load(key); ok {
		return s.(*revSlots)
	}
	s, _ := a.slots.LoadOrStore(key, &revSlots{changed: make(chan struct{})})
	return s.(*revSlots)
}

// acquire waits until the revision has capacity (capacity() is its ready
// instances × containerConcurrency) and returns the release function, or an
// HTTP status when the request ends or times out first.
func (a *activator) acquire(ctx context.Context, key string, capacity func() int, timer <-chan time.Time) (func(), int) {
	s := a.slotsFor(key)
	for {
		s.mu.Lock()
		if s.inflight < capacity() {
			s.inflight++
			s.mu.Unlock()
			return func() {
				s.mu.Lock()
				s.inflight--
				close(s.changed)
				s.changed = make(chan struct{})
				s.mu.Unlock()
			}, 0
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-*a.changed.Load():
		case <-ctx.Done():
			return nil, 499
		case <-timer:
			return nil, http.StatusGatewayTimeout
		}
	}
}
