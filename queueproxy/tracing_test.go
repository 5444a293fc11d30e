package queueproxy

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// tracedHandler is the data path with tracing on (tp), or off (tp nil).
func tracedHandler(t testing.TB, port int, tp *sdktrace.TracerProvider, cc string) *proxyHandler {
	env, err := LoadEnv(testEnv(port, "CONTAINER_CONCURRENCY", cc))
	if err != nil {
		t.Fatal(err)
	}
	br := NewBreaker(env.ContainerConcurrency)
	deps := handlerDeps{env: env, breaker: br, stats: NewRequestStats(time.Now()),
		metrics: NewMetrics(env, MetricsOptions{QueueDepth: func() float64 { return float64(br.InFlight()) }}),
		drainer: NewDrainer(time.Second), prober: NewProber(env.ReadinessProbe, nil), tracker: newHijackTracker(),
		timeouts: Timeouts{Overall: env.RevisionTimeout}}
	if tp != nil {
		deps.tracer = newTracer(tp, env)
	}
	return buildHandler(deps, newAppTransport(env.ContainerConcurrency, false))
}

// TestTracingSpans: the server span continues the caller's trace, a queued
// request gets a queue.wait span, the app receives the client span's
// context and baggage, and the latency exemplar names the trace.
func TestTracingSpans(t *testing.T) {
	var mu sync.Mutex
	var seen []http.Header
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		time.Sleep(40 * time.Millisecond)
		w.Write([]byte("ok"))
	}))
	defer app.Close()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
	h := tracedHandler(t, app.Listener.Addr().(*net.TCPAddr).Port, tp, "1")
	srv := httptest.NewServer(h)
	defer srv.Close()

	parents := []string{"00-11111111111111111111111111111111-aaaaaaaaaaaaaaaa-01", "00-22222222222222222222222222222222-bbbbbbbbbbbbbbbb-01"}
	var wg sync.WaitGroup
	resps := make([]*http.Response, 2)
	for i, p := range parents {
		wg.Go(func() {
			time.Sleep(time.Duration(i) * 10 * time.Millisecond) // the second one queues
			req, _ := http.NewRequest("GET", srv.URL+"/x", nil)
			req.Header.Set("Traceparent", p)
			req.Header.Set("Baggage", "tenant=a")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			resps[i] = resp
		})
	}
	wg.Wait()
	spans := rec.Ended()
	byTrace := map[string]map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		id := s.SpanContext().TraceID().String()
		if byTrace[id] == nil {
			byTrace[id] = map[string]sdktrace.ReadOnlySpan{}
		}
		byTrace[id][s.Name()+"/"+s.SpanKind().String()] = s
	}
	second := byTrace["22222222222222222222222222222222"]
	srvSpan, wait, cli := second["GET/server"], second["queue.wait/internal"], second["GET/client"]
	if srvSpan == nil || wait == nil || cli == nil {
		t.Fatalf("second request spans: %v (all: %d)", second, len(spans))
	}
	if srvSpan.Parent().SpanID().String() != "bbbbbbbbbbbbbbbb" || wait.Parent().SpanID() != srvSpan.SpanContext().SpanID() ||
		cli.Parent().SpanID() != srvSpan.SpanContext().SpanID() {
		t.Error("spans do not nest server > (queue.wait, client)")
	}
	if d := wait.EndTime().Sub(wait.StartTime()); d < 15*time.Millisecond {
		t.Errorf("queue.wait %s, want the time the first request held the slot", d)
	}
	if wait.EndTime().After(cli.StartTime()) || cli.EndTime().After(srvSpan.EndTime()) {
		t.Error("queue wait and app call overlap or leave the server span")
	}
	if _, ok := byTrace["11111111111111111111111111111111"]["queue.wait/internal"]; ok {
		t.Error("an admitted request got a queue.wait span")
	}
	mu.Lock()
	defer mu.Unlock()
	found := false
	for _, hdr := range seen {
		if strings.HasPrefix(hdr.Get("Traceparent"), "00-22222222222222222222222222222222-"+cli.SpanContext().SpanID().String()+"-01") {
			found = true
			if hdr.Get("Baggage") != "tenant=a" {
				t.Errorf("baggage %q", hdr.Get("Baggage"))
			}
		}
	}
	if !found {
		t.Errorf("the app did not get the client span's traceparent: %v", seen)
	}
	if tp := resps[1].Header.Get("Traceparent"); !strings.Contains(tp, "22222222222222222222222222222222") {
		t.Errorf("response traceparent %q", tp)
	}
	if ids := exemplarTraceIDs(t, h); !ids["22222222222222222222222222222222"] {
		t.Errorf("exemplars %v, want the sampled trace", ids)
	}
}

// TestTracingUnsampled: an unsampled request makes no recorded span and no
// exemplar, but the app still gets a valid traceparent.
func TestTracingUnsampled(t *testing.T) {
	var got string
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Get("Traceparent") }))
	defer app.Close()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
	h := tracedHandler(t, app.Listener.Addr().(*net.TCPAddr).Port, tp, "0")
	r := httptest.NewRequest("GET", "/", nil)
	h.ServeHTTP(httptest.NewRecorder(), r)
	if len(rec.Ended()) != 0 || len(exemplarTraceIDs(t, h)) != 0 {
		t.Errorf("unsampled request recorded: %d spans", len(rec.Ended()))
	}
	if len(got) != 55 || !strings.HasSuffix(got, "-00") {
		t.Errorf("app traceparent %q, want an unsampled context", got)
	}
}

func exemplarTraceIDs(t testing.TB, h *proxyHandler) map[string]bool {
	mfs, err := h.metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var exs []*dto.Exemplar
			if c := m.GetCounter(); c != nil && c.Exemplar != nil {
				exs = append(exs, c.Exemplar)
			}
			for _, b := range m.GetHistogram().GetBucket() {
				if b.Exemplar != nil {
					exs = append(exs, b.Exemplar)
				}
			}
			for _, ex := range exs {
				for _, l := range ex.GetLabel() {
					if l.GetName() == "trace_id" {
						ids[l.GetValue()] = true
					}
				}
			}
		}
	}
	return ids
}

// discardExporter drops spans after the batch processor hands them over, so
// the benchmark measures span creation, sampling and batching.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

// BenchmarkProxyHandlerTracing is BenchmarkProxyHandler with tracing off,
// sampling 1% and sampling 100% of new traces (docs/benchmarks-tracing.md).
func BenchmarkProxyHandlerTracing(b *testing.B) {
	port := startApp(b)
	for _, c := range []struct {
		name  string
		ratio float64
	}{{"off", -1}, {"sample=0.01", 0.01}, {"sample=1", 1}} {
		b.Run(c.name, func(b *testing.B) {
			var tp *sdktrace.TracerProvider
			if c.ratio >= 0 {
				tp = sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardExporter{}),
					sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(c.ratio))))
				defer tp.Shutdown(context.Background())
			}
			h := tracedHandler(b, port, tp, "100")
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("User-Agent", "wrk")
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				w := &discardWriter{h: http.Header{}}
				h.ServeHTTP(w, r)
				delete(r.Header, "Traceparent") // the client span's context is written into r
			}
		})
	}
}
