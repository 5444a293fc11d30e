package queueproxy

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkProxyHandler measures the data path per request (breaker, timers,
// stats, metrics, fast client) against the sample app over loopback, without
// the client-side HTTP server. Run with -benchmem.
func BenchmarkProxyHandler(b *testing.B) {
	env, err := LoadEnv(testEnv(startApp(b), "CONTAINER_CONCURRENCY", "100",
		"REVISION_RESPONSE_START_TIMEOUT_SECONDS", "60", "REVISION_IDLE_TIMEOUT_SECONDS", "60"))
	if err != nil {
		b.Fatal(err)
	}
	br := NewBreaker(env.ContainerConcurrency)
	deps := handlerDeps{env: env, breaker: br, stats: NewRequestStats(time.Now()),
		metrics: NewMetrics(env, MetricsOptions{QueueDepth: func() float64 { return float64(br.InFlight()) }}),
		drainer: NewDrainer(time.Second), prober: NewProber(env.ReadinessProbe, nil), tracker: newHijackTracker(),
		timeouts: Timeouts{Overall: env.RevisionTimeout, ResponseStart: env.ResponseStartTimeout, Idle: env.IdleTimeout}}
	h := buildHandler(deps, newAppTransport(100, false))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("User-Agent", "wrk")
	r.Header.Set("X-Forwarded-For", "10.0.0.1")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, r)
	}
}
