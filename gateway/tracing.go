package gateway

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Span attribute keys for what the gateway decided (Knative's kn.* names).
const (
	attrRoute     = attribute.Key("kn.route.name")
	attrRevision  = attribute.Key("kn.revision.name")
	attrTag       = attribute.Key("kn.route.tag")
	attrColdStart = attribute.Key("gantry.cold_start")
)

// gwTracer makes the gateway's spans: a server span per request (route,
// revision and tag chosen), an "activator" span while a request is held for
// a revision with no ready instance, with an "activator.cold_start" child
// for the wait itself, and a client span for the call to the queue-proxy,
// whose context goes out in traceparent/tracestate/baggage. Nil when off.
type gwTracer struct {
	t    trace.Tracer
	prop propagation.TextMapPropagator
}

// wrap puts tracing around the request path's phases (gateway.go): the
// server span around the whole request, the route and revision chosen as
// its attributes, the activator span around the wait for an instance
// (ended with the request, so the call it let through is inside it), and
// the client span around the call to the queue-proxy.
func (t *gwTracer) wrap(next phases) phases {
	ph := next
	ph.serve = func(w http.ResponseWriter, r *http.Request) {
		sw, r := t.startServer(w, r)
		defer sw.end(r)
		next.serve(sw, r)
	}
	ph.route = func(w http.ResponseWriter, r *http.Request) (*hostRoute, *Target, bool) {
		hr, tg, ok := next.route(w, r)
		if hr != nil {
			t.chose(r.Context(), &hr.entry, tg)
		}
		return hr, tg, ok
	}
	ph.activate = func(w http.ResponseWriter, r *http.Request, tg *Target, ready bool) (*http.Request, activation) {
		sw := w.(*spanWriter)
		r = t.startActivator(r, tg, &sw.act)
		r, a := next.activate(w, r, tg, ready)
		if !ready {
			t.activated(r.Context(), sw.act, a.waited, a.code)
		}
		return r, a
	}
	ph.forward = func(w http.ResponseWriter, r *http.Request, call backendCall) {
		defer endClient(t.startClient(r, call.addr), w.(*spanWriter))
		next.forward(w, r, call)
	}
	return ph
}

func newGWTracer(tp trace.TracerProvider) *gwTracer {
	if tp == nil {
		return nil
	}
	return &gwTracer{t: tp.Tracer("github.com/gantry-dev/gantry/gateway"),
		prop: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})}
}

// startServer continues the caller's trace (or starts one) and returns a
// writer that records the status for the span.
func (t *gwTracer) startServer(w http.ResponseWriter, r *http.Request) (*spanWriter, *http.Request) {
	ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	attrs := []attribute.KeyValue{semconv.HTTPRequestMethodKey.String(r.Method), semconv.URLPathKey.String(r.URL.Path),
		semconv.URLSchemeKey.String(scheme), semconv.ServerAddressKey.String(host),
		semconv.NetworkProtocolVersionKey.String(strconv.Itoa(r.ProtoMajor) + "." + strconv.Itoa(r.ProtoMinor))}
	if r.ProtoMajor == 2 {
		attrs[len(attrs)-1] = semconv.NetworkProtocolVersionKey.String("2")
	}
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginalKey.String(ua))
	}
	ctx, sp := t.t.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
	return &spanWriter{ResponseWriter: w, sp: sp}, r.WithContext(ctx)
}

// chose records the route and the revision picked for the request.
func (t *gwTracer) chose(ctx context.Context, e *RouteEntry, tg *Target) {
	sp := trace.SpanFromContext(ctx)
	sp.SetAttributes(attrRoute.String(e.Route), semconv.K8SNamespaceNameKey.String(e.Namespace))
	if tg != nil {
		sp.SetAttributes(attrRevision.String(tg.Revision))
		if tg.Tag != "" {
			sp.SetAttributes(attrTag.String(tg.Tag))
		}
	}
}

// activated records how the activator's wait ended: a cold-start span
// covering the wait when an instance became ready, an error otherwise.
func (t *gwTracer) activated(ctx context.Context, a actSpan, waited time.Duration, code int) {
	act := a.sp
	if code != 0 {
		act.SetStatus(codes.Error, "no ready instance: "+strconv.Itoa(code))
		return
	}
	now := time.Now()
	act.SetAttributes(attrColdStart.Bool(true), attribute.Float64("gantry.cold_start.wait_ms", float64(waited.Microseconds())/1000))
	_, cs := t.t.Start(ctx, "activator.cold_start", trace.WithTimestamp(now.Add(-waited)))
	cs.End(trace.WithTimestamp(now))
}

// startClient starts the span of the call to the queue-proxy at addr and
// writes its context into r's headers, which the proxy forwards.
func (t *gwTracer) startClient(r *http.Request, addr string) trace.Span {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	ctx, sp := t.t.Start(r.Context(), r.Method, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		semconv.HTTPRequestMethodKey.String(r.Method), semconv.ServerAddressKey.String(host), semconv.ServerPortKey.Int(p),
		semconv.URLFullKey.String("http://"+addr+r.URL.RequestURI())))
	t.prop.Inject(ctx, propagation.HeaderCarrier(r.Header))
	return sp
}

// endClient ends the client span with the status the proxy wrote.
func endClient(sp trace.Span, w *spanWriter) {
	code := w.code
	if code == 0 {
		code = http.StatusBadGateway
	}
	spanStatus(sp, code, false)
	sp.End()
}

func spanStatus(sp trace.Span, code int, server bool) {
	sp.SetAttributes(semconv.HTTPResponseStatusCodeKey.Int(code))
	if code >= 500 || (!server && code >= 400) {
		sp.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(code)))
		sp.SetStatus(codes.Error, "")
	}
}

// spanWriter records the response status for the spans and, when the
// response carries no traceparent of its own, adds the gateway's so the
// client can find the trace.
type spanWriter struct {
	http.ResponseWriter
	sp   trace.Span
	act  actSpan // the activator's, when the request waited
	code int
}

func (w *spanWriter) WriteHeader(code int) {
	if w.code == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.code = code
		h := w.Header()
		if _, ok := h["Traceparent"]; !ok {
			propagation.TraceContext{}.Inject(trace.ContextWithSpan(context.Background(), w.sp), propagation.HeaderCarrier(h))
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *spanWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *spanWriter) Flush() {
	if w.code == 0 {
		w.WriteHeader(http.StatusOK)
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *spanWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.code == 0 {
		w.code = http.StatusSwitchingProtocols
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *spanWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// end ends the server span; a request that wrote nothing was abandoned.
func (w *spanWriter) end(r *http.Request) {
	code := w.code
	if code == 0 {
		if errors.Is(r.Context().Err(), context.Canceled) {
			code = 499
		} else {
			code = http.StatusOK
		}
	}
	w.act.end()
	spanStatus(w.sp, code, true)
	w.sp.End()
}

// TracerProvider is what Options.TracerProvider takes (an OpenTelemetry
// trace.TracerProvider).
type TracerProvider = trace.TracerProvider

// actSpan is the activator span of a request; the zero value is inert.
type actSpan struct{ sp trace.Span }

// startActivator starts a's span, once, as a child of the request's span.
func (t *gwTracer) startActivator(r *http.Request, tg *Target, a *actSpan) *http.Request {
	if a.sp != nil {
		return r
	}
	ctx, sp := t.t.Start(r.Context(), "activator", trace.WithAttributes(attrRevision.String(tg.Revision),
		semconv.K8SNamespaceNameKey.String(tg.Namespace)))
	a.sp = sp
	return r.WithContext(ctx)
}

func (a *actSpan) end() {
	if a.sp != nil {
		a.sp.End()
	}
}
