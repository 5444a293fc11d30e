package metrics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
)

// acceptHeader asks for the classic text format first (the cheapest to
// parse), then OpenMetrics 1.0, as Prometheus's scrape_protocols allow.
const acceptHeader = "text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.5,*/*;q=0.1"

// DefaultScrapeInterval is used by RunScraper when its interval is not positive.
const DefaultScrapeInterval = 5 * time.Second

// Target is one scrape target.
type Target struct {
	// URL is the metrics endpoint: http://host:port/metrics, or host:port as
	// in Prometheus HTTP service discovery (then http:// and /metrics are added).
	URL string
	// Labels are the target's labels (job, and SD labels such as namespace,
	// revision, pod). job defaults to "gantry" and instance to the URL's
	// host:port; names starting with "__" are dropped. Labels exposed by the
	// target win over these (honor_labels: true).
	Labels map[string]string
}

// ScrapeResult reports one target's scrape.
type ScrapeResult struct {
	URL      string
	Up       bool
	Duration time.Duration
	Samples  int   // samples scraped and appended
	Err      error // why the target is down, or nil
}

// The series every scrape writes per target, as Prometheus names them.
var reportNames = [...]string{"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_series_added"}

type scraper struct {
	db     *DB
	client *http.Client
	owned  *http.Transport // closed on close, when we made it

	mu      sync.Mutex
	targets map[string]*targetState

	duration prometheus.Histogram
	failures prometheus.Counter
}

func newScraper(db *DB) *scraper {
	s := &scraper{db: db, client: db.opts.Client, targets: map[string]*targetState{}}
	if s.client == nil {
		s.owned = &http.Transport{
			Proxy:               nil, // targets are local; never through a proxy
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: db.opts.ScrapeConcurrency,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true, // loopback: gzip would only cost CPU
		}
		s.client = &http.Client{Transport: s.owned}
	}
	s.duration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "gantry_scrape_duration_seconds",
		Help:    "Duration of one scrape of one target by Gantry's embedded metrics engine.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	})
	s.failures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gantry_scrape_failures_total",
		Help: "Scrapes by Gantry's embedded metrics engine that failed (target down, bad status, unparsable body, timeout).",
	})
	return s
}

func (s *scraper) collectors(db *DB) []prometheus.Collector {
	return []prometheus.Collector{s.duration, s.failures,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gantry_metrics_head_series",
			Help: "Series in the embedded TSDB's in-memory head block.",
		}, func() float64 { return float64(db.tsdb.Head().NumSeries()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gantry_scrape_targets",
			Help: "Targets the embedded metrics engine scraped in its last round.",
		}, func() float64 { s.mu.Lock(); defer s.mu.Unlock(); return float64(len(s.targets)) }),
	}
}

func (s *scraper) close() {
	if s.owned != nil {
		s.owned.CloseIdleConnections()
	}
}

// RunScraper scrapes targets() every interval until ctx is done: each round
// scrapes every target concurrently (at most Options.ScrapeConcurrency at
// once), each with its own timeout (Options.ScrapeTimeout, capped at the
// interval). A target that is down or answers garbage gets up=0 and its
// series from the last scrape are marked stale; the other targets are not
// affected. Targets that disappear from the list have their series marked
// stale. RunScraper returns when ctx is done or the DB is closed.
func (db *DB) RunScraper(ctx context.Context, targets func() []Target, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultScrapeInterval
	}
	timeout := min(db.opts.ScrapeTimeout, interval)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if _, err := db.scrapeRound(ctx, targets(), time.Now(), timeout); errors.Is(err, ErrClosed) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// ScrapeOnce runs one scrape round over targets, stamping the samples that
// carry no timestamp of their own with ts. Results are in target order.
// RunScraper calls it every interval; tests and benchmarks call it with
// explicit timestamps.
func (db *DB) ScrapeOnce(ctx context.Context, targets []Target, ts time.Time) ([]ScrapeResult, error) {
	return db.scrapeRound(ctx, targets, ts, db.opts.ScrapeTimeout)
}

func (db *DB) scrapeRound(ctx context.Context, targets []Target, ts time.Time, timeout time.Duration) ([]ScrapeResult, error) {
	db.closeMu.RLock()
	defer db.closeMu.RUnlock()
	if db.closed {
		return nil, ErrClosed
	}
	s := db.scr
	states := make([]*targetState, len(targets))
	results := make([]ScrapeResult, len(targets))
	seen := make(map[string]bool, len(targets))
	s.mu.Lock()
	for i, t := range targets {
		st, err := s.state(t)
		if err != nil {
			results[i] = ScrapeResult{URL: t.URL, Err: err}
			continue
		}
		if seen[st.key] {
			results[i] = ScrapeResult{URL: t.URL, Err: errors.New("duplicate target")}
			continue
		}
		seen[st.key] = true
		states[i] = st
	}
	var gone []*targetState
	for k, st := range s.targets {
		if !seen[k] {
			gone = append(gone, st)
			delete(s.targets, k)
		}
	}
	s.mu.Unlock()

	tms := ts.UnixMilli()
	sem := make(chan struct{}, db.opts.ScrapeConcurrency)
	var wg sync.WaitGroup
	for i, st := range states {
		if st == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i] = s.scrape(ctx, st, tms, timeout)
		}()
	}
	wg.Wait()
	for _, st := range gone {
		st.mu.Lock()
		app := db.tsdb.AppenderV2(ctx)
		st.markStale(app, tms, true)
		if err := app.Commit(); err != nil {
			db.log.Warn("stale markers of removed target", "target", st.url, "err", err)
		}
		st.mu.Unlock()
	}
	return results, nil
}

// state returns the state of t, creating it on first sight. s.mu is held.
func (s *scraper) state(t Target) (*targetState, error) {
	u, err := targetURL(t.URL)
	if err != nil {
		return nil, err
	}
	b := labels.NewScratchBuilder(len(t.Labels) + 2)
	hasJob, hasInstance := false, false
	for k, v := range t.Labels {
		if strings.HasPrefix(k, "__") || v == "" {
			continue
		}
		hasJob = hasJob || k == "job"
		hasInstance = hasInstance || k == "instance"
		b.Add(k, v)
	}
	if !hasJob {
		b.Add("job", "gantry")
	}
	if !hasInstance {
		b.Add("instance", u.Host)
	}
	b.Sort()
	tl := b.Labels()
	key := u.String() + tl.String()
	if st, ok := s.targets[key]; ok {
		return st, nil
	}
	st := &targetState{key: key, url: u.String(), tlabels: tl, symbols: labels.NewSymbolTable(),
		cache: map[string]*cacheEntry{}}
	for i, name := range reportNames {
		st.report[i].lset = labels.NewBuilder(tl).Set(labels.MetricName, name).Labels()
	}
	s.targets[key] = st
	return st, nil
}

func targetURL(raw string) (*url.URL, error) {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("target %q: want http://host:port/path or host:port", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/metrics"
	}
	return u, nil
}

// targetState is what the scraper keeps per target between rounds: the
// series of the last scrape (to reuse their labels and references, and to
// mark the ones that vanish stale).
type targetState struct {
	key, url string
	tlabels  labels.Labels
	symbols  *labels.SymbolTable

	mu     sync.Mutex // one scrape of a target at a time
	iter   uint64
	cache  map[string]*cacheEntry // by the series' text as exposed
	report [len(reportNames)]cacheEntry
}

type cacheEntry struct {
	ref        storage.SeriesRef
	lset       labels.Labels
	iter       uint64
	explicitTS bool // exposed with its own timestamp: never marked stale
}

func (s *scraper) scrape(ctx context.Context, st *targetState, tms int64, timeout time.Duration) ScrapeResult {
	st.mu.Lock()
	defer st.mu.Unlock()
	start := time.Now()
	res := ScrapeResult{URL: st.url}
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bodyPool.Put(buf)
	body, ctype, err := s.fetch(ctx, st, buf, timeout)
	app := s.db.tsdb.AppenderV2(ctx)
	var added int
	if err == nil {
		res.Samples, added, err = st.appendBody(app, body, ctype, tms)
	}
	if err != nil && ctx.Err() != nil {
		// Shutting down: the target is not down, we are; record nothing.
		_ = app.Rollback()
		return ScrapeResult{URL: st.url, Err: ctx.Err(), Duration: time.Since(start)}
	}
	if err != nil {
		// Nothing of a failed scrape is kept, and the series of the last
		// good one end here, as in Prometheus.
		_ = app.Rollback()
		app = s.db.tsdb.AppenderV2(ctx)
		st.markStale(app, tms, false)
		res.Samples, added = 0, 0
		s.failures.Inc()
	}
	res.Up, res.Err = err == nil, err
	res.Duration = time.Since(start)
	up := 0.0
	if res.Up {
		up = 1
	}
	st.appendReport(app, tms, up, res.Duration.Seconds(), float64(res.Samples), float64(added))
	if cerr := app.Commit(); cerr != nil {
		s.db.log.Warn("scrape commit", "target", st.url, "err", cerr)
	}
	s.duration.Observe(res.Duration.Seconds())
	return res
}

// fetch reads st's exposition into buf.
func (s *scraper) fetch(ctx context.Context, st *targetState, buf *bytes.Buffer, timeout time.Duration) ([]byte, string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, st.url, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", acceptHeader)
	req.Header.Set("User-Agent", "gantry-metrics")
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64))
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("server returned HTTP status %s", resp.Status)
	}
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, defaultBodySizeLimit+1)); err != nil {
		return nil, "", fmt.Errorf("read body: %w", err)
	}
	if buf.Len() > defaultBodySizeLimit {
		return nil, "", fmt.Errorf("body exceeds %d bytes", defaultBodySizeLimit)
	}
	return buf.Bytes(), resp.Header.Get("Content-Type"), nil
}

// bodyPool holds scrape bodies: at most ScrapeConcurrency are in use at once,
// rather than one buffer per target.
var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// appendBody parses one exposition and appends its samples. It returns the
// samples appended and the series new since the last scrape.
func (st *targetState) appendBody(app storage.AppenderV2, body []byte, ctype string, tms int64) (samples, added int, err error) {
	p, err := textparse.New(body, ctype, st.symbols, textparse.ParserOptions{FallbackContentType: "text/plain"})
	if p == nil {
		return 0, 0, fmt.Errorf("content type %q: %w", ctype, err)
	}
	st.iter++
	var lset labels.Labels
	for {
		entry, err := p.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, 0, fmt.Errorf("parse: %w", err)
		}
		var (
			met []byte
			tp  *int64
			v   float64
		)
		switch entry {
		case textparse.EntrySeries:
			met, tp, v = p.Series()
		default:
			// Metadata, comments; native histograms are not asked for.
			continue
		}
		t := tms
		if tp != nil {
			t = *tp
		}
		ce, ok := st.cache[string(met)]
		if !ok {
			p.Labels(&lset)
			if !lset.Has(labels.MetricName) {
				return 0, 0, errors.New("series without a metric name")
			}
			ce = &cacheEntry{lset: st.withTargetLabels(lset), explicitTS: tp != nil}
			st.cache[string(met)] = ce
			added++
		}
		ref, err := app.Append(ce.ref, ce.lset, 0, t, v, nil, nil, storage.AOptions{})
		switch {
		case err == nil:
			ce.ref = ref
			samples++
		case errors.Is(err, storage.ErrOutOfOrderSample), errors.Is(err, storage.ErrOutOfBounds),
			errors.Is(err, storage.ErrDuplicateSampleForTimestamp), errors.Is(err, storage.ErrTooOldSample):
			// Dropped, as Prometheus drops them, without failing the scrape.
		default:
			return 0, 0, fmt.Errorf("append %s: %w", ce.lset, err)
		}
		ce.iter = st.iter
	}
	// Series that were exposed last time and not now end with a stale marker.
	for k, ce := range st.cache {
		if ce.iter != st.iter {
			if !ce.explicitTS {
				_, _ = app.Append(ce.ref, ce.lset, 0, tms, math.Float64frombits(value.StaleNaN), nil, nil, storage.AOptions{})
			}
			delete(st.cache, k)
		}
	}
	return samples, added, nil
}

// withTargetLabels adds the target's labels that the scraped series does
// not have itself (honor_labels: the target's own labels win).
func (st *targetState) withTargetLabels(scraped labels.Labels) labels.Labels {
	b := labels.NewBuilder(scraped)
	st.tlabels.Range(func(l labels.Label) {
		if !scraped.Has(l.Name) {
			b.Set(l.Name, l.Value)
		}
	})
	return b.Labels()
}

// markStale ends every series of the last scrape (and the report series too
// when the target is gone for good) with a stale marker.
func (st *targetState) markStale(app storage.AppenderV2, tms int64, report bool) {
	stale := math.Float64frombits(value.StaleNaN)
	for k, ce := range st.cache {
		if !ce.explicitTS {
			_, _ = app.Append(ce.ref, ce.lset, 0, tms, stale, nil, nil, storage.AOptions{})
		}
		delete(st.cache, k)
	}
	if report {
		for i := range st.report {
			_, _ = app.Append(st.report[i].ref, st.report[i].lset, 0, tms, stale, nil, nil, storage.AOptions{})
		}
	}
}

func (st *targetState) appendReport(app storage.AppenderV2, tms int64, vals ...float64) {
	for i, v := range vals {
		r := &st.report[i]
		ref, err := app.Append(r.ref, r.lset, 0, tms, v, nil, nil, storage.AOptions{})
		if err == nil {
			r.ref = ref
		}
	}
}
