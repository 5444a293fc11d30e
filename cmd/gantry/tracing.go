package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/exporters"
	"github.com/gantry-dev/gantry/gateway"
	"github.com/gantry-dev/gantry/queueproxy"
	"github.com/gantry-dev/gantry/store"
	"github.com/gantry-dev/gantry/ui"
	"github.com/prometheus/client_golang/prometheus"
)

// The sidecar builds its OpenTelemetry pipeline with package exporters; the
// queueproxy package itself stays free of the SDK.
func init() { queueproxy.SetupTelemetry = queueProxyTelemetry }

func queueProxyTelemetry(ctx context.Context, p queueproxy.TelemetryParams) (queueproxy.Telemetry, error) {
	cfg, err := exporters.ConfigFromEnv(p.Getenv)
	if err != nil {
		return queueproxy.Telemetry{}, err
	}
	e := p.Env
	tel, err := exporters.Setup(ctx, exporters.Options{Config: cfg, Gatherer: p.Registry, Logger: p.Log,
		Resource: exporters.ResourceInfo{Namespace: e.Namespace, Pod: e.Pod, Container: "queue-proxy",
			KnService: e.Service, Configuration: e.Configuration, Revision: e.Revision}})
	if err != nil {
		return queueproxy.Telemetry{}, err
	}
	return queueproxy.Telemetry{TracerProvider: tel.TracerProvider, Shutdown: tel.Shutdown}, nil
}

// upTracing is gantry up's tracing: its own spans (the gateway's), the
// bounded in-memory store the queue-proxies also export to, and the
// environment each queue-proxy gets.
type upTracing struct {
	tel   *exporters.Telemetry
	store *exporters.Store // nil: tracing off
	qpEnv map[string]string
}

// setupTracing reads OTEL_* from the environment, then the stored
// config-observability ConfigMap (read at start; restart to apply a
// change), then --trace-sampling (negative: not given). Tracing is on when
// an exporter is configured or the sampling ratio is above zero; either way
// the most recent traces are kept in memory for /traces.
func setupTracing(ctx context.Context, sampling float64, st *store.Store, reg prometheus.Gatherer, uiAddr string, log *slog.Logger) (*upTracing, error) {
	if sampling > 1 {
		return nil, fmt.Errorf("--trace-sampling %g: want a ratio in [0, 1]", sampling)
	}
	cfg, err := exporters.ConfigFromEnv(os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	if o, err := st.Get(api.KindConfigMap, api.ConfigNamespace, exporters.ConfigMapObservability); err == nil {
		if cm, ok := o.(*api.ConfigMap); ok {
			if err := cfg.ApplyObservability(cm.Data); err != nil {
				log.Warn("ignoring invalid config map", "name", exporters.ConfigMapObservability, "err", err)
			}
		}
	}
	if sampling >= 0 {
		cfg.Sampler, cfg.SamplingRatio = "parentbased_traceidratio", sampling
	}
	u := &upTracing{}
	on := cfg.TracingEnabled() || (sampling > 0 && !cfg.Disabled)
	if on {
		u.store = exporters.NewStore(exporters.StoreOptions{})
	}
	u.tel, err = exporters.Setup(ctx, exporters.Options{Config: cfg, Gatherer: reg, Store: u.store, Logger: log,
		Resource: exporters.ResourceInfo{ServiceName: "gantry-gateway"}})
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	if on {
		// The queue-proxies export to the store through the UI address too.
		cfg.LocalTracesEndpoint = "http://" + uiAddr + "/v1/traces"
	}
	u.qpEnv = cfg.Env()
	if on {
		u.qpEnv["OTEL_SERVICE_NAME"] = "" // a queue-proxy is named after its Knative service
		log.Info("tracing on", "sampling", cfg.SamplingRatio, "traces", "http://"+uiAddr+"/traces",
			"otlpTraces", cfg.TracesEndpoint, "otlpMetrics", cfg.MetricsEndpoint)
	} else if cfg.MetricsEnabled() {
		log.Info("OTLP metrics on", "endpoint", cfg.MetricsEndpoint)
	}
	return u, nil
}

// tracerProvider is the gateway's tracer provider, nil when tracing is off.
func (u *upTracing) tracerProvider() gateway.TracerProvider {
	if u == nil || u.store == nil || u.tel.TracerProvider == nil {
		return nil
	}
	return u.tel.TracerProvider
}

// mount serves the trace pages and API and the OTLP/HTTP receiver beside next.
func (u *upTracing) mount(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	th := exporters.TracesHandler(u.store)
	for _, p := range []string{"/traces", "/traces/", "/api/v1/traces", "/api/v1/traces/"} {
		mux.Handle(p, th)
	}
	if u.store != nil {
		mux.Handle("/v1/traces", u.store.ReceiverHandler())
	}
	mux.Handle("/", next)
	return mux
}

// shutdown flushes the exporters.
func (u *upTracing) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := u.tel.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		slog.Warn("flush telemetry", "err", err)
	}
}

// recentErrorsSource returns what lists a service's recent failed requests,
// or nil when tracing is off (the UI then says they are not reported).
func (u *upTracing) recentErrorsSource() func(namespace, service string, limit int) []ui.RequestError {
	if u == nil || u.store == nil {
		return nil
	}
	return u.recentErrors
}

// recentErrors lists a service's latest failed requests from the in-memory
// traces (sampled requests only), for the service page.
func (u *upTracing) recentErrors(namespace, service string, limit int) []ui.RequestError {
	out := []ui.RequestError{}
	for _, sum := range u.store.List(exporters.ListOptions{Limit: 500, ErrorOnly: true}) {
		if len(out) >= limit {
			break
		}
		tr, ok := u.store.Get(sum.TraceID)
		if !ok {
			continue
		}
		for _, sp := range tr.SpanList {
			if sp.Kind != "server" || sp.Attributes["kn.route.name"] != service || sp.Attributes["k8s.namespace.name"] != namespace {
				continue
			}
			out = append(out, ui.RequestError{Time: sp.Start, Revision: sp.Attributes["kn.revision.name"], Status: sum.StatusCode,
				Method: sp.Attributes["http.request.method"], Path: sp.Attributes["url.path"], LatencyMs: sp.DurationMS, TraceID: sum.TraceID})
			break
		}
	}
	return out
}
