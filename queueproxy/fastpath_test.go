package queueproxy

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/internal/h1"
)

// A request queued in the breaker leaves the queue as soon as its client
// goes away (the client watch starts when a request has to wait).
func TestH1QueuedClientGone(t *testing.T) {
	q := startQP(t, testEnv(startApp(t), "CONTAINER_CONCURRENCY", "1"))
	waitReady(t, q)
	go func() {
		if resp, err := http.Get(q.url(q.HTTP, "/?sleep=3000")); err == nil {
			resp.Body.Close()
		}
	}()
	time.Sleep(200 * time.Millisecond)
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(q.HTTP))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /?sleep=10 HTTP/1.1\r\nHost: x\r\n\r\n")
	depth := func() float64 {
		return scrape(t, q.url(q.Metrics, "/metrics"))["revision_queue_depth"].GetMetric()[0].GetGauge().GetValue()
	}
	deadline := time.Now().Add(2 * time.Second)
	for depth() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("queue depth %v, want 2", depth())
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.Close()
	left := time.Now()
	for depth() != 1 {
		if time.Since(left) > time.Second {
			t.Fatalf("the waiter did not leave: depth %v", depth())
		}
		time.Sleep(2 * time.Millisecond)
	}
	// At once: the watch starts when the request queues, not at a sweep.
	if d := time.Since(left); d >= sweepPeriod {
		t.Errorf("the waiter left after %v, a sweep period or more", d)
	}
}

// An app that sends bytes beyond its response (out of step, or trying to
// smuggle a second response) does not get them read as the answer to the
// next request: the connection is not reused.
func TestAppExtraBytesNotReused(t *testing.T) {
	port := rawAppFunc(t, func(req *http.Request, _ []byte) string {
		if req.URL.Path == "/smuggle" {
			return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" +
				"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nEVIL!!"
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfine"
	})
	q := startQP(t, testEnv(port, "SERVING_READINESS_PROBE", `{"tcpSocket":{},"periodSeconds":1}`))
	waitReady(t, q)
	if code, body := get(t, nil, q.url(q.HTTP, "/smuggle")); code != 200 || body != "ok" {
		t.Fatalf("first: %d %q", code, body)
	}
	if code, body := get(t, nil, q.url(q.HTTP, "/next")); code != 200 || body != "fine" {
		t.Fatalf("next request got %d %q", code, body)
	}
}

// A request head larger than the socket's send buffer still reaches the
// app whole: the send-then-wait write finishes with an ordinary write.
func TestLargeRequestHeadToApp(t *testing.T) {
	app := startHandlerApp(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strconv.Itoa(len(r.Header.Get("X-Big"))))
	}))
	// Past the default 60 KiB limit: the limit is lifted here.
	q := startQP(t, testEnv(app, "GANTRY_MAX_REQUEST_HEADER_BYTES", "0", "GANTRY_MAX_REQUEST_LINE_BYTES", "0"))
	waitReady(t, q)
	big := strings.Repeat("b", 700<<10)
	for range 3 {
		if code, body := get(t, nil, q.url(q.HTTP, "/"), "X-Big", big); code != 200 || body != strconv.Itoa(len(big)) {
			t.Fatalf("%d %q", code, body)
		}
	}
}

// With no sweep to fall back on, a queued request still notices its
// client going away: the watch starts when it queues.
func TestH1QueuedClientGoneWithoutSweep(t *testing.T) {
	env, err := LoadEnv(testEnv(startApp(t), "CONTAINER_CONCURRENCY", "1"))
	if err != nil {
		t.Fatal(err)
	}
	br := NewBreaker(1)
	p := NewProber(env.ReadinessProbe, nil)
	p.set(true)
	deps := handlerDeps{env: env, breaker: br, stats: NewRequestStats(time.Now()),
		metrics: NewMetrics(env, MetricsOptions{}), drainer: NewDrainer(time.Second), prober: p,
		tracker: newHijackTracker(), timeouts: Timeouts{Overall: time.Minute}}
	h := buildHandler(deps, newAppTransport(1, false))
	h.sweep.running.Store(true) // no sweep will ever run
	s := h1.NewServer(h, &http.Server{Handler: h}, slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	addr := ln.Addr().String()

	go func() {
		if resp, err := http.Get("http://" + addr + "/?sleep=3000"); err == nil {
			resp.Body.Close()
		}
	}()
	waitInFlight := func(n int64) time.Duration {
		start := time.Now()
		for br.InFlight() != n {
			if time.Since(start) > 2*time.Second {
				t.Fatalf("in flight %d, want %d", br.InFlight(), n)
			}
			time.Sleep(time.Millisecond)
		}
		return time.Since(start)
	}
	waitInFlight(1)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /?sleep=10 HTTP/1.1\r\nHost: x\r\n\r\n")
	waitInFlight(2)
	c.Close()
	if d := waitInFlight(1); d > time.Second {
		t.Errorf("the waiter left after %v", d)
	}
}
