package queueproxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawApp accepts connections and hands each request's first Read to got,
// answering every request with a fixed small response.
func rawApp(t *testing.T, got chan<- []byte) int {
	return rawAppFunc(t, func(_ *http.Request, first []byte) string {
		got <- first
		return "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"
	})
}

// rawAppFunc accepts connections and writes, for each request, the bytes
// answer returns, as they are; first is the request's first Read.
func rawAppFunc(t *testing.T, answer func(req *http.Request, first []byte) string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					first := append([]byte(nil), buf[:n]...)
					// Drain the rest of this request, if any, before answering.
					br := bufio.NewReader(io.MultiReader(bytes.NewReader(first), c))
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					io.WriteString(c, answer(req, first))
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// A request with a small body reaches the app in one write: its first read
// holds the head and the whole body.
func TestSmallBodyOneWrite(t *testing.T) {
	got := make(chan []byte, 100)
	q := startQP(t, testEnv(rawApp(t, got), "CONTAINER_CONCURRENCY", "10",
		"REVISION_RESPONSE_START_TIMEOUT_SECONDS", "5", "REVISION_IDLE_TIMEOUT_SECONDS", "5"))
	body := strings.Repeat("b", 3000)
	for i := range 20 {
		resp, err := http.Post(q.url(q.HTTP, "/p"+strconv.Itoa(i)), "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok\n" {
			t.Fatalf("POST: %d %q", resp.StatusCode, b)
		}
		first := <-got
		if !bytes.HasPrefix(first, []byte("POST /p"+strconv.Itoa(i)+" ")) || !bytes.HasSuffix(first, []byte("\r\n\r\n"+body)) {
			t.Fatalf("request %d: first read of the app is %d bytes, want head and body together:\n%.200q", i, len(first), first)
		}
	}
}

// A client that stalls in the middle of a small body gets its 504 on time
// (before, the server hung discarding the unread body until the client left).
func TestStalledBodyTimesOut(t *testing.T) {
	q := startQP(t, testEnv(startApp(t), "REVISION_RESPONSE_START_TIMEOUT_SECONDS", "1"))
	waitReady(t, q)
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(q.HTTP))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 504 {
		t.Errorf("status %d, want 504", resp.StatusCode)
	}
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Errorf("504 after %v, want about 1s", d)
	}
}

// Streams are flushed as they come, on both paths: no Content-Length, or
// text/event-stream even with one.
func TestStreamsFlushed(t *testing.T) {
	release := make(chan struct{})
	app := startHandlerApp(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("sse") != "" {
			w.Header().Set("Content-Type", "text/event-stream")
			w.Header().Set("Content-Length", "20")
		}
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "data: x\n\n")
	}))
	defer close(release)
	q := startQP(t, testEnv(app, "REVISION_IDLE_TIMEOUT_SECONDS", "10"))
	for _, tc := range []struct{ name, method, query string }{
		{"fast path, no length", "GET", ""},
		{"fast path, event-stream", "GET", "?sse=1"},
		{"reverse proxy, no length", "POST", ""},
		{"reverse proxy, event-stream", "POST", "?sse=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.method == "POST" {
				body = strings.NewReader("x")
			}
			req, _ := http.NewRequest(tc.method, q.url(q.HTTP, "/"+tc.query), body)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			line := make(chan string, 1)
			go func() {
				l, _ := bufio.NewReader(resp.Body).ReadString('\n')
				line <- l
			}()
			select {
			case l := <-line:
				if l != "data: first\n" {
					t.Errorf("first line %q", l)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("first event not flushed to the client")
			}
		})
	}
}

// A client that goes away while the app works is recorded as 499, and the
// app's request is abandoned (its context ends) rather than waited for.
func TestClientGoneFastPath(t *testing.T) {
	appDone := make(chan struct{}, 1)
	app := startHandlerApp(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			appDone <- struct{}{}
		case <-time.After(10 * time.Second):
		}
	}))
	q := startQP(t, testEnv(app, "REVISION_TIMEOUT_SECONDS", "30"))
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(q.HTTP))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(200 * time.Millisecond) // past a sweep: the request's timer is armed
	c.Close()
	select {
	case <-appDone:
	case <-time.After(5 * time.Second):
		t.Fatal("the app's request was not abandoned when the client left")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mfs := scrape(t, q.url(q.Metrics, "/metrics"))
		if mfs["revision_request_count"] != nil &&
			find(t, mfs, "revision_request_count", map[string]string{"response_code": "499"}).GetCounter().GetValue() == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 499 recorded:\n%v", mfs["revision_request_count"])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
