package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

// Defaults of Options.
const (
	DefaultRetention      = 15 * 24 * time.Hour // Prometheus's default
	DefaultEvalInterval   = 15 * time.Second
	DefaultScrapeTimeout  = 10 * time.Second
	DefaultQueryTimeout   = 2 * time.Minute
	DefaultMaxSamples     = 50_000_000 // Prometheus's --query.max-samples
	DefaultResendDelay    = time.Minute
	defaultBodySizeLimit  = 64 << 20
	defaultScrapeParallel = 16
)

// ErrClosed is returned by operations on a closed DB.
var ErrClosed = errors.New("metrics: database closed")

// Options configures Open. Only Dir is required; the zero value of every
// other field is a working default.
type Options struct {
	// Dir holds the TSDB (blocks, WAL, head chunks): STATE_DIR/metrics.
	Dir string
	// Retention is how long samples are kept. Zero means DefaultRetention.
	Retention time.Duration
	Logger    *slog.Logger
	// Registerer gets the engine's own metrics (gantry_scrape_duration_seconds,
	// ...), normally the control plane's registry so that they are scraped
	// like any other. Nil registers nothing.
	Registerer prometheus.Registerer

	// ScrapeTimeout bounds one scrape of one target; it is also capped at the
	// scrape interval. Zero means DefaultScrapeTimeout.
	ScrapeTimeout time.Duration
	// ScrapeConcurrency is how many targets are scraped at once. Zero: 16.
	ScrapeConcurrency int
	// Client does the scrapes. Nil: a client with keep-alives and no gzip
	// (the targets are on loopback).
	Client *http.Client

	// EvalInterval is the rule groups' default evaluation interval (a group's
	// own `interval:` wins). Zero means DefaultEvalInterval.
	EvalInterval time.Duration
	// NotifyURL, when set, receives firing and resolved alerts as POSTs of the
	// Alertmanager v2 JSON alerts format. An Alertmanager's base URL
	// (http://host:9093) gets /api/v2/alerts appended; any other URL (a
	// webhook) is used as it is.
	NotifyURL string
	// ResendDelay is how often a still-firing alert is sent again. Zero means
	// DefaultResendDelay.
	ResendDelay time.Duration
	// ExternalURL prefixes the generatorURL of sent alerts, for example
	// http://127.0.0.1:8090/prom.
	ExternalURL string

	// QueryTimeout bounds one PromQL query. Zero means DefaultQueryTimeout.
	QueryTimeout time.Duration
	// MaxSamples bounds the samples one query may hold. Zero: 50 million.
	MaxSamples int
}

// DB is the embedded metrics engine. Its methods are safe for concurrent use.
type DB struct {
	opts   Options
	log    *slog.Logger
	tsdb   *tsdb.DB
	engine *promql.Engine
	parser parser.Parser

	ruleMgr  *rules.Manager
	ruleMu   sync.Mutex // serializes rule reloads
	ruleSrc  ruleSources
	notifier *sender
	cancel   context.CancelFunc
	bg       sync.WaitGroup

	scr *scraper

	closeMu sync.RWMutex // held for reading while a scrape round appends
	closed  bool
}

// Open opens (or creates) the TSDB under o.Dir and starts rule evaluation.
func Open(o Options) (*DB, error) {
	if o.Dir == "" {
		return nil, errors.New("metrics: no directory")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.Retention < 0 {
		return nil, fmt.Errorf("metrics: retention %v: want a positive duration", o.Retention)
	}
	if o.ScrapeTimeout <= 0 {
		o.ScrapeTimeout = DefaultScrapeTimeout
	}
	if o.ScrapeConcurrency <= 0 {
		o.ScrapeConcurrency = defaultScrapeParallel
	}
	if o.EvalInterval <= 0 {
		o.EvalInterval = DefaultEvalInterval
	}
	if o.ResendDelay <= 0 {
		o.ResendDelay = DefaultResendDelay
	}
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = DefaultQueryTimeout
	}
	if o.MaxSamples <= 0 {
		o.MaxSamples = DefaultMaxSamples
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("metrics dir %s: %w", o.Dir, err)
	}
	log := o.Logger

	topts := tsdb.DefaultOptions()
	topts.RetentionDuration = o.Retention.Milliseconds()
	// Compacted blocks span at most a tenth of the retention, up to 31 days,
	// as Prometheus sizes them, so that retention drops data in small steps.
	topts.MaxBlockDuration = min(max(topts.RetentionDuration/10, topts.MinBlockDuration), (31 * 24 * time.Hour).Milliseconds())
	tdb, err := tsdb.Open(o.Dir, log.With("engine", "tsdb"), nil, topts, nil)
	if err != nil {
		return nil, fmt.Errorf("metrics: open tsdb %s: %w", o.Dir, err)
	}

	db := &DB{opts: o, log: log, tsdb: tdb, parser: parser.NewParser(parser.Options{})}
	evalMillis := o.EvalInterval.Milliseconds()
	db.engine = promql.NewEngine(promql.EngineOpts{
		Logger:                   log.With("engine", "promql"),
		MaxSamples:               o.MaxSamples,
		Timeout:                  o.QueryTimeout,
		NoStepSubqueryIntervalFn: func(int64) int64 { return evalMillis },
		EnableAtModifier:         true,
		EnableNegativeOffset:     true,
		Parser:                   db.parser,
	})
	db.scr = newScraper(db)
	if o.Registerer != nil {
		for _, c := range db.scr.collectors(db) {
			if err := o.Registerer.Register(c); err != nil {
				_ = tdb.Close()
				return nil, fmt.Errorf("metrics: register own metrics: %w", err)
			}
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	db.cancel = cancel
	notify := func(context.Context, string, ...*rules.Alert) {}
	if o.NotifyURL != "" {
		db.notifier, err = newSender(o.NotifyURL, log.With("engine", "notifier"))
		if err != nil {
			cancel()
			_ = tdb.Close()
			return nil, err
		}
		db.bg.Add(1)
		go func() { defer db.bg.Done(); db.notifier.run(ctx) }()
		notify = rules.SendAlerts(db.notifier, o.ExternalURL)
	}
	db.ruleSrc = ruleSources{blobs: map[string][]byte{}}
	db.ruleMgr = rules.NewManager(&rules.ManagerOptions{
		ExternalURL:     nil,
		QueryFunc:       rules.EngineQueryFunc(db.engine, tdb),
		NotifyFunc:      notify,
		Context:         ctx,
		AppendableV2:    tdb,
		Queryable:       tdb,
		Logger:          log.With("engine", "rules"),
		OutageTolerance: time.Hour,
		ForGracePeriod:  10 * time.Minute,
		ResendDelay:     o.ResendDelay,
		GroupLoader:     &groupLoader{src: &db.ruleSrc, parser: db.parser, log: log},
		Parser:          db.parser,
	})
	db.bg.Add(1)
	go func() { defer db.bg.Done(); db.ruleMgr.Run() }()
	return db, nil
}

// Close stops rule evaluation and notification and closes the TSDB. A
// running RunScraper should be stopped (its context cancelled) first; a
// scrape round still in flight is waited for.
func (db *DB) Close() error {
	db.closeMu.Lock()
	if db.closed {
		db.closeMu.Unlock()
		return nil
	}
	db.closed = true
	db.closeMu.Unlock()
	db.ruleMgr.Stop()
	db.cancel()
	db.bg.Wait()
	db.scr.close()
	return db.tsdb.Close()
}

// Retention is the retention the TSDB was opened with.
func (db *DB) Retention() time.Duration { return db.opts.Retention }

// Storage is the TSDB, for callers that need Prometheus's storage interfaces.
func (db *DB) Storage() storage.Storage { return db.tsdb }

// Engine is the PromQL engine queries run on.
func (db *DB) Engine() *promql.Engine { return db.engine }

// HeadStats describes the in-memory head block.
type HeadStats struct {
	NumSeries        uint64
	MinTime, MaxTime time.Time
}

// HeadStats returns the head block's series count and time range.
func (db *DB) HeadStats() HeadStats {
	h := db.tsdb.Head()
	s := HeadStats{NumSeries: h.NumSeries()}
	if s.NumSeries > 0 {
		s.MinTime, s.MaxTime = model.Time(h.MinTime()).Time(), model.Time(h.MaxTime()).Time()
	}
	return s
}

// labelsToMap converts for the exported, Prometheus-free types.
func labelsToMap(ls labels.Labels) map[string]string {
	m := make(map[string]string, ls.Len())
	ls.Range(func(l labels.Label) { m[l.Name] = l.Value })
	return m
}
