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
