package autoscaler

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gantry-dev/gantry/api"
)

// BucketSize is the granularity of the metric windows.
const BucketSize = time.Second

// ErrNoData means the stable window holds no stat yet; the decider makes no decision.
var ErrNoData = errors.New("no data available")

// Stat is what a queue-proxy reports every second on port 9090 (Knative's
// metrics.Stat); after extrapolation it describes the whole revision.
type Stat struct {
	PodName string
	// AverageConcurrentRequests is the time-weighted average number of requests
	// in flight over the last second.
	AverageConcurrentRequests float64
	// AverageProxiedConcurrentRequests is the part of it that came through the
	// activator, which already reported those requests itself.
	AverageProxiedConcurrentRequests float64
	// RequestCount and ProxiedRequestCount are requests per second.
	RequestCount        float64
	ProxiedRequestCount float64
	// ProcessUptime is the pod's uptime in seconds.
	ProcessUptime float64
	// Time is when the stat was taken.
	Time time.Time
}

// IsZero reports an empty stat (nothing scraped).
func (s Stat) IsZero() bool { return s == Stat{} }

// Scraper produces one revision-wide stat per call; window is the stable window,
// so pods younger than it are used only to fill the sample. The runtime's HTTP
// scrape of the queue-proxies implements it (see SampleSize, PickSample, Extrapolate).
type Scraper interface {
	Scrape(window time.Duration) (Stat, error)
}

// WindowParams configures a RevisionMetrics. The zero value gives Knative's
// default 60 s stable and 6 s panic windows, averaged linearly.
type WindowParams struct {
	StableWindow time.Duration
	PanicWindow  time.Duration
	// Algorithm is api.AggregationLinear (or "") or api.AggregationWeightedExponential.
	Algorithm string
	// ActivatorOnly is set when pods are not scraped (target-burst-capacity −1):
	// only the activator reports, so an empty window means no load, not no data.
	ActivatorOnly bool
}

// WindowParamsFor returns the windows of a revision's settings.
func WindowParamsFor(rs api.RevisionScaling) WindowParams {
	return WindowParams{
		StableWindow:  rs.StableWindow,
		PanicWindow:   PanicWindow(rs.StableWindow, rs.PanicWindowPercentage),
		Algorithm:     rs.AggregationAlgorithm,
		ActivatorOnly: rs.TargetBurstCapacity == -1,
	}
}

// RevisionMetrics aggregates one revision's stats into stable and panic
// windows of concurrency and requests per second. Safe for concurrent use.
type RevisionMetrics struct {
	mu                    sync.Mutex
	params                WindowParams
	concStable, concPanic windowAverager
	rpsStable, rpsPanic   windowAverager
}

// NewRevisionMetrics returns empty windows.
func NewRevisionMetrics(p WindowParams) *RevisionMetrics {
	if p.StableWindow <= 0 {
		p.StableWindow = 60 * time.Second
	}
	if p.PanicWindow <= 0 {
		p.PanicWindow = PanicWindow(p.StableWindow, 10)
	}
	mk := func(w time.Duration) windowAverager { return NewBuckets(w) }
	if p.Algorithm == api.AggregationWeightedExponential {
		mk = func(w time.Duration) windowAverager { return NewWeightedBuckets(w) }
	}
	return &RevisionMetrics{
		params:     p,
		concStable: mk(p.StableWindow), concPanic: mk(p.PanicWindow),
		rpsStable: mk(p.StableWindow), rpsPanic: mk(p.PanicWindow),
	}
}

// Params returns the windows in use.
func (m *RevisionMetrics) Params() WindowParams { return m.params }

// Record adds a stat at now. Proxied values are subtracted because the
// activator reports those requests too (they would be counted twice).
func (m *RevisionMetrics) Record(now time.Time, s Stat) {
	conc := s.AverageConcurrentRequests - s.AverageProxiedConcurrentRequests
	rps := s.RequestCount - s.ProxiedRequestCount
	m.mu.Lock()
	m.concStable.Record(now, conc)
	m.concPanic.Record(now, conc)
	m.rpsStable.Record(now, rps)
	m.rpsPanic.Record(now, rps)
	m.mu.Unlock()
}

// Collect scrapes once and records a non-empty result at now: one tick of
// Knative's per-second scrape loop.
func (m *RevisionMetrics) Collect(now time.Time, s Scraper) error {
	stat, err := s.Scrape(m.params.StableWindow)
	if err != nil {
		return fmt.Errorf("scrape: %w", err)
	}
	if !stat.IsZero() {
		m.Record(now, stat)
	}
	return nil
}

// StableAndPanicConcurrency returns the windowed averages of revision-wide
// concurrency, or ErrNoData when the stable window is empty.
func (m *RevisionMetrics) StableAndPanicConcurrency(now time.Time) (stable, panic float64, err error) {
	return m.averages(now, m.concStable, m.concPanic)
}

// StableAndPanicRPS is StableAndPanicConcurrency for requests per second.
func (m *RevisionMetrics) StableAndPanicRPS(now time.Time) (stable, panic float64, err error) {
	return m.averages(now, m.rpsStable, m.rpsPanic)
}

func (m *RevisionMetrics) averages(now time.Time, s, p windowAverager) (float64, float64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.IsEmpty(now) && !m.params.ActivatorOnly {
		return 0, 0, ErrNoData
	}
	return s.WindowAverage(now), p.WindowAverage(now), nil
}
