package queueproxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawRequest writes raw bytes to addr and returns the status line's code.
func rawRequest(t *testing.T, port int, raw string) int {
	t.Helper()
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	go io.WriteString(c, raw)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%.40q: %v", raw, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestBadRequests(t *testing.T) {
	q := startQP(t, testEnv(startApp(t), "CONTAINER_CONCURRENCY", "1"))
	waitReady(t, q)
	for _, tc := range []struct {
		name string
		raw  string
		code int
	}{
		{"garbage", "GARBAGE\r\n\r\n", 400},
		{"bad host", "GET / HTTP/1.1\r\nHost: bad host\r\n\r\n", 400},
		{"no host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"oversized headers", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 2<<20) + "\r\n\r\n", 431},
		{"bad probe value", "GET / HTTP/1.1\r\nHost: x\r\nK-Network-Probe: \xff\xfe\r\n\r\n", 400},
		{"fine", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200},
	} {
		if got := rawRequest(t, q.HTTP, tc.raw); got != tc.code {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.code)
		}
	}
}

func TestAppDown(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there
	before := strings.Count(logs.String(), "app unreachable")
	q := startQP(t, testEnv(port, "SERVING_READINESS_PROBE", `{"tcpSocket":{},"periodSeconds":1}`))
	for range 20 {
		if code, body := get(t, nil, q.url(q.HTTP, "/")); code != 502 || body != "app unreachable\n" {
			t.Fatalf("got %d %q", code, body)
		}
	}
	if code, _ := get(t, nil, q.url(q.HTTP, "/"), "K-Network-Probe", "queue"); code != 503 {
		t.Errorf("health with the app down: %d", code)
	}
	if n := strings.Count(logs.String(), "app unreachable") - before; n != 1 {
		t.Errorf("logged %d times for one burst", n)
	}
}

// A client that goes away mid-body leaks neither the breaker slot nor
// goroutines, and the app hanging is cut at the timeout.
func TestClientDisconnectMidBody(t *testing.T) {
	app := startHandlerApp(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	q := startQP(t, testEnv(app, "CONTAINER_CONCURRENCY", "1"))
	waitReady(t, q)
	disconnect := func() {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(q.HTTP))
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n0123456789")
		time.Sleep(30 * time.Millisecond)
		c.Close()
	}
	// Warm the connection pools first so that idle keep-alives are in the baseline.
	disconnect()
	get(t, nil, q.url(q.HTTP, "/"))
	scrape(t, q.url(q.Metrics, "/metrics"))
	time.Sleep(100 * time.Millisecond)
	base := runtime.NumGoroutine()
	for range 10 {
		disconnect()
	}
	// The single slot is free again: requests pass without queueing forever.
	for range 5 {
		if code, _ := get(t, nil, q.url(q.HTTP, "/")); code != 200 {
			t.Fatalf("after disconnects: %d", code)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mfs := scrape(t, q.url(q.Metrics, "/metrics"))
		depth := mfs["revision_queue_depth"].GetMetric()[0].GetGauge().GetValue()
		n := runtime.NumGoroutine()
		if depth == 0 && n <= base {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("queue depth %v, goroutines %d (was %d)\n%s", depth, n, base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// requestCounts sums revision_request_count by response_code.
func requestCounts(t *testing.T, q *qp) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, m := range scrape(t, q.url(q.Metrics, "/metrics"))["revision_request_count"].GetMetric() {
		out[labelsOf(m)["response_code"]] += m.GetCounter().GetValue()
	}
	return out
}

// A client's bad request body or head is a 4xx (499 recorded for a client
// that left), counted as such and never as a 5xx.
func TestClientErrorsAre4xx(t *testing.T) {
	app := startHandlerApp(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return // the proxy aborted the body: nobody reads this answer
		}
	}))
	q := startQP(t, testEnv(app, "GANTRY_MAX_REQUEST_BODY_BYTES", "1000", "GANTRY_BODY_IDLE_TIMEOUT", "300ms"))
	waitReady(t, q)
	chunked := "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	for _, tc := range []struct {
		name, raw string
		code      int
	}{
		{"chunk size overflow", chunked + "fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n", 400},
		{"bare LF in chunk line", chunked + "5\nhello\r\n0\r\n\r\n", 400},
		{"chunked over the limit", chunked + "7d0\r\n" + strings.Repeat("a", 2000) + "\r\n0\r\n\r\n", 413},
		{"declared length over the limit", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n", 413},
		{"stalled body", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", 408},
		{"headers over 60 KiB", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 61<<10) + "\r\n\r\n", 431},
		{"101 fields", "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-A: 1\r\n", 101) + "\r\n", 431},
		{"fine chunked", chunked + "5\r\nhello\r\n0\r\n\r\n", 200},
		{"stalled body with a length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhel", 408},
		{"fine with a length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 200},
	} {
		before := requestCounts(t, q)
		if got := rawRequest(t, q.HTTP, tc.raw); got != tc.code {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.code)
		}
		after := requestCounts(t, q)
		if d := after[strconv.Itoa(tc.code)] - before[strconv.Itoa(tc.code)]; d != 1 {
			t.Errorf("%s: revision_request_count{response_code=%d} rose by %v, want 1 (%v)", tc.name, tc.code, d, after)
		}
	}

	// A client that goes away mid-body is a 499 in the metrics.
	before := requestCounts(t, q)
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(q.HTTP))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, chunked+"5\r\nhel")
	time.Sleep(50 * time.Millisecond)
	c.Close()
	waitMetric := time.Now().Add(5 * time.Second)
	for requestCounts(t, q)["499"]-before["499"] != 1 {
		if time.Now().After(waitMetric) {
			t.Fatalf("no 499 recorded for a client gone mid-body: %v", requestCounts(t, q))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for code, n := range requestCounts(t, q) {
		if code[0] == '5' && n > 0 {
			t.Errorf("client errors counted as %s: %v", code, n)
		}
	}
}
