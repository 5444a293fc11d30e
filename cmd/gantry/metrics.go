package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/gantry-dev/gantry/dashboards"
	"github.com/gantry-dev/gantry/metrics"
	"github.com/gantry-dev/gantry/ui"
	"github.com/prometheus/client_golang/prometheus"
)

// metricsEngine is the embedded Prometheus (TSDB, scraper, PromQL, rules), or
// a remote Prometheus when --prometheus-url is set.
type metricsEngine struct {
	db      *metrics.DB     // nil with a remote Prometheus
	querier metrics.Querier // what the UI reads
	alerts  func() []metrics.Alert
	// interval is how often the embedded engine scrapes.
	interval time.Duration
}

func openMetrics(f upFlags, log *slog.Logger, reg prometheus.Registerer, uiAddr string) (*metricsEngine, error) {
	if f.prometheusURL != "" {
		r, err := metrics.NewRemote(f.prometheusURL, nil)
		if err != nil {
			return nil, fmt.Errorf("--prometheus-url %s: %w", f.prometheusURL, err)
		}
		return &metricsEngine{querier: r, alerts: func() []metrics.Alert { return nil }}, nil
	}
	db, err := metrics.Open(metrics.Options{Dir: filepath.Join(f.stateDir, "metrics"), Retention: f.metricsRetention,
		Logger: log.With("component", "metrics"), Registerer: reg, NotifyURL: f.alertWebhook, EvalInterval: f.ruleInterval,
		ExternalURL: "http://" + uiAddr + "/prom"})
	if err != nil {
		return nil, err
	}
	// The same rules `gantry alerts` writes are evaluated in-process.
	var rules bytes.Buffer
	if err := dashboards.WriteRules(&rules, dashboards.RuleOptions{ErrorRatioThreshold: f.alertThreshold, For: f.alertFor}); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.LoadRulesBytes("gantry.rules.yml", rules.Bytes()); err != nil {
		db.Close()
		return nil, err
	}
	return &metricsEngine{db: db, querier: db, alerts: db.Alerts, interval: f.scrapeInterval}, nil
}

// mount serves Prometheus's HTTP API beside Gantry's: under /prom/ (the
// Grafana data source URL is http://UI-ADDR/prom) and on the exact
// /api/v1/query... paths, which take precedence over Gantry's /api/v1/:resource.
func (m *metricsEngine) mount(api http.Handler) http.Handler {
	if m.db == nil {
		return api
	}
	prom := m.db.APIHandler()
	mux := http.NewServeMux()
	mux.Handle("/prom/", http.StripPrefix("/prom", prom))
	for _, p := range []string{"/api/v1/query", "/api/v1/query_range", "/api/v1/alerts", "/api/v1/rules",
		"/api/v1/series", "/api/v1/labels", "/api/v1/label/", "/api/v1/metadata", "/api/v1/status/buildinfo"} {
		mux.Handle(p, prom)
	}
	mux.Handle("/", api)
	return mux
}

// run scrapes every target of the stack every interval until ctx ends.
func (m *metricsEngine) run(ctx context.Context, targets func() []metrics.Target) {
	if m.db == nil {
		<-ctx.Done()
		return
	}
	m.db.RunScraper(ctx, targets, m.interval)
}

func (m *metricsEngine) close() {
	if m.db != nil {
		m.db.Close()
	}
}

// scrapeTargets turns the service-discovery groups into scrape targets.
func scrapeTargets(sd func() []ui.SDTarget) func() []metrics.Target {
	return func() []metrics.Target {
		var out []metrics.Target
		for _, g := range sd() {
			for _, hp := range g.Targets {
				out = append(out, metrics.Target{URL: hp, Labels: g.Labels})
			}
		}
		return out
	}
}
