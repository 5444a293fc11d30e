package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func tracedGateway(t *testing.T, o Options) (*Gateway, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	o.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	return New(o), rec
}

func byName(spans []sdktrace.ReadOnlySpan) map[string]sdktrace.ReadOnlySpan {
	m := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		name := s.Name()
		if name == "GET" {
			name += "/" + s.SpanKind().String()
		}
		m[name] = s
	}
	return m
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

// TestTraceColdStart: a request that waits for an instance gets a server
// span, an activator span holding a cold-start span and the client call,
// all in the caller's trace; the backend receives the client span's context.
func TestTraceColdStart(t *testing.T) {
	be := newBackend(t, "one")
	waiting := make(chan struct{}, 1)
	g, rec := tracedGateway(t, Options{OnColdStart: func(string, string) { waiting <- struct{}{} }})
	tg := target("hello-1", 100)
	tg.Tag = "canary"
	g.SetTable(mustTable(t, entry("hello.default.localhost", tg)))
	const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		done <- serve(g, "hello.default.localhost", http.Header{"Traceparent": {parent}, "Baggage": {"user=42"}})
	}()
	<-waiting
	time.Sleep(20 * time.Millisecond)
	g.SetEndpoints(Endpoints{EndpointKey("default", "hello-1"): {{HTTP: be.addr()}}})
	res := <-done
	if res.Code != 200 {
		t.Fatalf("%d %s", res.Code, res.Body)
	}
	spans := byName(rec.Ended())
	srv, act, cold, cli := spans["GET/server"], spans["activator"], spans["activator.cold_start"], spans["GET/client"]
	if srv == nil || act == nil || cold == nil || cli == nil {
		t.Fatalf("spans %v", spans)
	}
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	for name, s := range spans {
		if s.SpanContext().TraceID().String() != traceID {
			t.Errorf("%s: trace %s, want the caller's", name, s.SpanContext().TraceID())
		}
	}
	if srv.Parent().SpanID().String() != "b7ad6b7169203331" || act.Parent().SpanID() != srv.SpanContext().SpanID() ||
		cold.Parent().SpanID() != act.SpanContext().SpanID() || cli.Parent().SpanID() != act.SpanContext().SpanID() {
		t.Error("spans do not nest gateway > activator > (cold_start, client)")
	}
	if attr(srv, "kn.revision.name") != "hello-1" || attr(srv, "kn.route.tag") != "canary" || attr(srv, "kn.route.name") != "hello" ||
		attr(srv, "http.response.status_code") != "200" || attr(cli, "http.response.status_code") != "200" {
		t.Errorf("attributes: %v / %v", srv.Attributes(), cli.Attributes())
	}
	if d := cold.EndTime().Sub(cold.StartTime()); d < 20*time.Millisecond {
		t.Errorf("cold start span %s, want the wait (>= 20ms)", d)
	}
	// Durations add up: the children fit in the activator span, which fits in the server span.
	if cold.EndTime().After(cli.StartTime()) || act.StartTime().Before(srv.StartTime()) || act.EndTime().After(srv.EndTime()) ||
		cli.EndTime().After(act.EndTime()) {
		t.Error("child spans are not within their parents, in order")
	}
	got := be.last(t)
	if tp := got.Header.Get("Traceparent"); !strings.HasPrefix(tp, "00-"+traceID+"-"+cli.SpanContext().SpanID().String()) {
		t.Errorf("backend traceparent %q, want the client span's", tp)
	}
	if got.Header.Get("Baggage") != "user=42" {
		t.Errorf("baggage %q", got.Header.Get("Baggage"))
	}
}

// TestTraceErrorAndResponseHeader: gateway errors are error spans, and the
// response tells the client its trace.
func TestTraceErrorAndResponseHeader(t *testing.T) {
	g, rec := tracedGateway(t, Options{})
	res := serve(g, "nobody.localhost", nil)
	spans := rec.Ended()
	if res.Code != 404 || len(spans) != 1 {
		t.Fatalf("%d, %d spans", res.Code, len(spans))
	}
	if tp := res.Header().Get("Traceparent"); !strings.Contains(tp, spans[0].SpanContext().TraceID().String()) {
		t.Errorf("response traceparent %q", tp)
	}
	tg := target("r", 100)
	tg.Timeout = 10 * time.Millisecond
	g.SetTable(mustTable(t, entry("h", tg)))
	res = serve(g, "h", nil)
	sp := byName(rec.Ended())
	if res.Code != 504 || sp["activator"] == nil || sp["activator"].Status().Code.String() != "Error" || sp["activator.cold_start"] != nil {
		t.Errorf("timeout: %d %v", res.Code, sp)
	}
}

// BenchmarkServeTracing compares the warm path with tracing off and on.
func BenchmarkServeTracing(b *testing.B) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer be.Close()
	for _, on := range []bool{false, true} {
		name := "off"
		o := Options{}
		if on {
			name = "on"
			o.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
		}
		g := New(o)
		g.SetTable(&Table{hosts: map[string]*hostRoute{}})
		tb, _ := NewTable([]RouteEntry{entry("h", target("r", 100))})
		g.SetTable(tb)
		g.SetEndpoints(Endpoints{"default/r": {{HTTP: be.Listener.Addr().String()}}})
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				serve(g, "h", nil)
			}
		})
	}
}
