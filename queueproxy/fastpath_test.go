package queueproxy

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
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

// connApp answers with what it got and the connection it came on.
func connApp(t *testing.T, idle time.Duration) (port int) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Got", r.Method+" "+strconv.FormatInt(r.ContentLength, 10)+" "+strconv.Itoa(len(b)))
		w.Header().Set("X-Conn", r.RemoteAddr)
		io.WriteString(w, "ok")
	}))
	srv.Config.IdleTimeout = idle
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().(*net.TCPAddr).Port
}

// send makes one request and returns what the app got and on which connection.
func send(t *testing.T, method, url string, body string) (got, conn string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d", method, resp.StatusCode)
	}
	return resp.Header.Get("X-Got"), resp.Header.Get("X-Conn")
}

// A small body of known length takes the fast path: its head and body go to
// the app on the same pooled connection as the GETs, whole.
func TestSmallBodyOnThePooledConnection(t *testing.T) {
	q := startQP(t, testEnv(connApp(t, 0)))
	waitReady(t, q)
	u := q.url(q.HTTP, "/")
	conns := map[string]bool{}
	for _, c := range []struct{ method, body, want string }{
		{"GET", "", "GET 0 0"},
		{"POST", strings.Repeat("p", 4096), "POST 4096 4096"},
		{"PUT", "put", "PUT 3 3"},
		{"PATCH", strings.Repeat("x", 1000), "PATCH 1000 1000"},
		{"GET", "", "GET 0 0"},
	} {
		got, conn := send(t, c.method, u, c.body)
		if got != c.want {
			t.Errorf("%s: the app got %q, want %q", c.method, got, c.want)
		}
		conns[conn] = true
	}
	if len(conns) != 1 {
		t.Errorf("five requests in a row came on %d connections, want one: %v", len(conns), conns)
	}
}

// A request with a body is sent once, so it must not go out on a pooled
// connection the app has closed: an app that closes idle connections after
// 100 ms still gets every POST (a 502 here means the closed one was used),
// and one idle past h1.StaleAfter is not used for a body at all.
func TestBodyNotSentOnAClosedConnection(t *testing.T) {
	q := startQP(t, testEnv(connApp(t, 100*time.Millisecond)))
	waitReady(t, q)
	u := q.url(q.HTTP, "/")
	for i := 0; i < 3; i++ {
		send(t, "GET", u, "")
		time.Sleep(300 * time.Millisecond) // the app closes the pooled connection
		if got, _ := send(t, "POST", u, "body"); got != "POST 4 4" {
			t.Fatalf("POST after the app closed the idle connection: the app got %q", got)
		}
	}

	q = startQP(t, testEnv(connApp(t, 0)))
	waitReady(t, q)
	u = q.url(q.HTTP, "/")
	_, first := send(t, "GET", u, "")
	if _, again := send(t, "POST", u, "body"); again != first {
		t.Errorf("a POST right after a GET came on %s, want the GET's %s", again, first)
	}
	time.Sleep(h1.StaleAfter + 100*time.Millisecond)
	if _, late := send(t, "POST", u, "body"); late == first {
		t.Errorf("a POST after %v idle came on the idle connection %s", h1.StaleAfter, first)
	}
}
