package queueproxy

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/internal/h1"
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

// BenchmarkServer compares h1Server with net/http's server for the same
// trivial handler: one keep-alive connection on loopback, a raw client.
// Run with -benchmem: the difference is the per-request server cost.
func BenchmarkServer(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "2")
		w.Write([]byte("ok"))
	})
	for _, tc := range []struct {
		name  string
		serve func(net.Listener) (stop func())
	}{
		{"net-http", func(ln net.Listener) func() {
			s := &http.Server{Handler: h}
			go s.Serve(ln)
			return func() { s.Close() }
		}},
		{"h1", func(ln net.Listener) func() {
			s := h1.NewServer(h, &http.Server{Handler: h}, slog.New(slog.DiscardHandler))
			go s.Serve(ln)
			return func() { s.Close() }
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer tc.serve(ln)()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			br := bufio.NewReader(c)
			req := []byte("GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: bench\r\n\r\n")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
