package queueproxy

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// TelemetryParams is what the sidecar hands SetupTelemetry.
type TelemetryParams struct {
	Env      Env
	Getenv   func(string) string
	Registry *prometheus.Registry // the 9091 registry, to bridge to OTLP metrics
	Log      *slog.Logger
}

// Telemetry is the sidecar's OpenTelemetry pipeline. A nil TracerProvider
// means tracing is off: the data path then does no tracing work at all.
type Telemetry struct {
	TracerProvider trace.TracerProvider
	Shutdown       func(context.Context) error
}

// SetupTelemetry builds the pipeline from the environment (the OTEL_*
// variables). The binary sets it (cmd/gantry wires package exporters), so
// the sidecar package does not depend on the SDK and its exporters; nil
// leaves tracing off.
var SetupTelemetry func(context.Context, TelemetryParams) (Telemetry, error)

// startTelemetry runs SetupTelemetry. A bad tracing configuration is logged
// and leaves tracing off: it never stops requests from being served.
func startTelemetry(ctx context.Context, p TelemetryParams) (*tracer, func()) {
	noop := func() {}
	if SetupTelemetry == nil {
		return nil, noop
	}
	tel, err := SetupTelemetry(ctx, p)
	if err != nil {
		p.Log.Warn("tracing and OTLP metrics off: bad configuration", "err", err)
		return nil, noop
	}
	stop := func() {
		if tel.Shutdown != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := tel.Shutdown(sctx); err != nil {
				p.Log.Warn("flush telemetry", "err", err)
			}
		}
	}
	if tel.TracerProvider == nil {
		return nil, stop
	}
	return newTracer(tel.TracerProvider, p.Env), stop
}

// tracer makes the sidecar's spans: a server span per request, a
// "queue.wait" span for the time spent waiting for a breaker slot, and a
// client span for the call to the app, whose context the app receives in
// traceparent (and baggage, tracestate) headers.
type tracer struct {
	t     trace.Tracer
	prop  propagation.TextMapPropagator
	attrs []attribute.KeyValue // per-revision attributes, resolved once
	port  attribute.KeyValue
}

func newTracer(tp trace.TracerProvider, e Env) *tracer {
	return &tracer{
		t:    tp.Tracer("github.com/gantry-dev/gantry/queueproxy"),
		prop: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		attrs: []attribute.KeyValue{
			attribute.String("kn.revision.name", e.Revision),
			semconv.K8SNamespaceNameKey.String(e.Namespace),
			semconv.K8SPodNameKey.String(e.Pod),
		},
		port: semconv.ServerPortKey.Int(e.UserPort),
	}
}

// reqSpans is one traced request.
type reqSpans struct {
	server trace.Span
}

// begin extracts the caller's trace context and starts the server span; the
// returned request carries it in its context.
func (t *tracer) begin(r *http.Request, start time.Time) (*reqSpans, *http.Request) {
	ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	attrs := append(make([]attribute.KeyValue, 0, len(t.attrs)+6), t.attrs...)
	attrs = append(attrs, semconv.HTTPRequestMethodKey.String(r.Method), semconv.URLPathKey.String(r.URL.Path),
		semconv.ServerAddressKey.String(r.Host), semconv.NetworkProtocolVersionKey.String(protoVersion(r)))
	if tag := r.Header.Get(tagHeader); tag != "" {
		attrs = append(attrs, attribute.String("kn.route.tag", tag))
	}
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginalKey.String(ua))
	}
	ctx, sp := t.t.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(start),
		trace.WithAttributes(attrs...))
	return &reqSpans{server: sp}, r.WithContext(ctx)
}

// exemplarID is the trace id for the latency exemplars: only sampled traces
// can be looked up, so only they are linked.
func (s *reqSpans) exemplarID() string {
	if sc := s.server.SpanContext(); sc.IsSampled() {
		return sc.TraceID().String()
	}
	return ""
}

func (s *reqSpans) end(code int, end time.Time) {
	setStatus(s.server, code, true)
	s.server.End(trace.WithTimestamp(end))
}

// setStatus records the response code; 5xx is an error for a server span,
// 4xx and 5xx for a client span (the HTTP semantic conventions).
func setStatus(sp trace.Span, code int, server bool) {
	sp.SetAttributes(semconv.HTTPResponseStatusCodeKey.Int(code))
	if code >= 500 || (!server && code >= 400) {
		sp.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(code)))
		sp.SetStatus(codes.Error, "")
	}
}

// queueWait waits for a breaker slot once the request has been queued; when
// traced, the wait is its own "queue.wait" span.
func (h *proxyHandler) queueWait(ctx context.Context, ts *reqSpans) error {
	if ts == nil {
		return h.breaker.wait(ctx)
	}
	ctx, sp := h.tracer.t.Start(ctx, "queue.wait", trace.WithAttributes(
		attribute.Int("gantry.breaker.capacity", h.breaker.Capacity()),
		attribute.Int64("gantry.breaker.in_flight", h.breaker.InFlight())))
	err := h.breaker.wait(ctx)
	if err != nil {
		sp.SetStatus(codes.Error, err.Error())
	}
	sp.End()
	return err
}

// clientSpan is the call to the app; the zero value (tracing off) is inert.
type clientSpan struct{ sp trace.Span }

// startClient starts the client span and writes its context into r's
// headers, which both forwarding paths send to the app.
func (t *tracer) startClient(ctx context.Context, r *http.Request) clientSpan {
	ctx, sp := t.t.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		semconv.HTTPRequestMethodKey.String(r.Method), semconv.ServerAddressKey.String("127.0.0.1"), t.port,
		semconv.URLPathKey.String(r.URL.Path)))
	t.prop.Inject(ctx, propagation.HeaderCarrier(r.Header))
	return clientSpan{sp: sp}
}

func (c clientSpan) end(code int) {
	if c.sp == nil {
		return
	}
	setStatus(c.sp, code, false)
	c.sp.End()
}

func protoVersion(r *http.Request) string {
	if r.ProtoMajor == 2 {
		return "2"
	}
	return "1.1"
}
