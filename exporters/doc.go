// Package exporters is Gantry's OpenTelemetry plumbing: it reads the tracing
// and metrics export settings (the standard OTEL_* environment variables and
// Knative's config-observability keys), builds the tracer and meter providers
// with OTLP exporters over gRPC or HTTP, bridges a Prometheus registry to OTLP
// metrics so a Collector gets the same series as a Prometheus scrape, and keeps
// the most recent traces in a bounded in-memory Store that gantry up serves as
// a waterfall (TracesHandler) and fills from its own spans and from the
// queue-proxies' OTLP/HTTP exports (Store.ReceiverHandler).
//
// Nothing here runs per request: the request path (gateway, queueproxy) only
// sees a trace.TracerProvider, nil when tracing is off.
package exporters
