package h1

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

// Each kind of bad request body is classified as the client's fault.
func TestBodyClientStatus(t *testing.T) {
	lim := Limits{MaxBodyBytes: 10, BodyIdleTimeout: 200 * time.Millisecond}
	got := make(chan int, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := NewBody(w, r, lim)
		io.Copy(io.Discard, b)
		got <- b.ClientStatus()
		w.Header().Set("X-Client-Status", strconv.Itoa(b.ClientStatus()))
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name, raw string
		hangUp    bool
		want      int
	}{
		{"fine chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", false, 0},
		{"fine at the limit", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789", false, 0},
		{"chunk size overflow", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nhello\r\n0\r\n\r\n", false, 400},
		{"bare LF in chunk line", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", false, 400},
		{"not hex", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", false, 400},
		{"chunked over the limit", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nb\r\nhello world\r\n0\r\n\r\n", false, 413},
		{"client gone mid-body", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\nabc", true, 499},
		{"stalled", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\nabc", false, 408},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, tc.raw)
			if tc.hangUp {
				time.Sleep(20 * time.Millisecond)
				c.(*net.TCPConn).CloseWrite()
			}
			select {
			case code := <-got:
				if code != tc.want {
					t.Fatalf("ClientStatus %d, want %d", code, tc.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("handler did not finish")
			}
			if tc.hangUp {
				return
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Header.Get("X-Client-Status"); got != strconv.Itoa(tc.want) {
				t.Errorf("answered with X-Client-Status %q", got)
			}
		})
	}
}

func TestCheckHead(t *testing.T) {
	l := Limits{MaxHeaderBytes: 1024, MaxHeaders: 3, MaxRequestLine: 100}
	req := func(target string, fields ...string) *http.Request {
		r := httptest.NewRequest("GET", target, nil)
		for i := 0; i+1 < len(fields); i += 2 {
			r.Header.Add(fields[i], fields[i+1])
		}
		return r
	}
	for _, tc := range []struct {
		name string
		r    *http.Request
		want int
	}{
		{"fine", req("/", "A", "1", "B", "2"), 0},
		{"long line", req("/" + strings.Repeat("a", 100)), 414},
		{"too many fields", req("/", "A", "1", "A", "2", "B", "3"), 431},
		{"too many bytes", req("/", "A", strings.Repeat("x", 1000)), 431},
		{"just fits", req("/", "A", strings.Repeat("x", 1024-len("GET / HTTP/1.1\r\n")-len("Host: example.com\r\n")-len("A: \r\n")-2)), 0},
	} {
		if got := l.CheckHead(tc.r); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	if (Limits{}).CheckHead(req("/"+strings.Repeat("a", 1<<16), "A", strings.Repeat("x", 1<<20))) != 0 {
		t.Error("zero limits refused a request")
	}
	if (Limits{MaxBodyBytes: 5}).CheckBody(&http.Request{ContentLength: 6}) != 413 {
		t.Error("declared length over the limit not refused")
	}
}

// deadlineRecorder is a ResponseWriter whose read deadlines are recorded.
type deadlineRecorder struct {
	httptest.ResponseRecorder
	set []time.Time
}

func (d *deadlineRecorder) SetReadDeadline(t time.Time) error {
	d.set = append(d.set, t)
	return nil
}

// The idle deadline moves once per eighth of the timeout, not per read,
// and is never sooner than the timeout after any read; EOF clears it.
func TestBodyIdleDeadlineIsCoarse(t *testing.T) {
	const idle = 800 * time.Millisecond
	w := &deadlineRecorder{}
	r := httptest.NewRequest("POST", "/", io.NopCloser(iotest.OneByteReader(strings.NewReader(strings.Repeat("x", 100)))))
	b := NewBody(w, r, Limits{BodyIdleTimeout: idle})
	buf := make([]byte, 10)
	for i := 0; i < 50; i++ {
		before := time.Now()
		if _, err := b.Read(buf); err != nil {
			t.Fatal(err)
		}
		if last := w.set[len(w.set)-1]; last.Before(before.Add(idle)) {
			t.Fatalf("read %d: deadline %v is sooner than the idle timeout", i, last.Sub(before))
		}
	}
	if len(w.set) != 1 {
		t.Errorf("%d deadline changes for 50 quick reads, want 1", len(w.set))
	}
	time.Sleep(idle/8 + 10*time.Millisecond)
	b.Read(buf)
	if len(w.set) != 2 {
		t.Errorf("after an eighth of the timeout: %d changes, want 2", len(w.set))
	}
	io.Copy(io.Discard, b)
	if last := w.set[len(w.set)-1]; !last.IsZero() {
		t.Errorf("after EOF the deadline is %v, want none", last)
	}
}

// stopRecorder is a ResponseWriter that keeps its read deadline.
type stopRecorder struct {
	http.ResponseWriter
	mu       sync.Mutex
	deadline time.Time
}

func (d *stopRecorder) SetReadDeadline(t time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.deadline = t
	return nil
}

func (d *stopRecorder) get() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.deadline
}

// Stop ends a read blocked on the client, but leaves no deadline behind
// once the body was read whole: the server's watch for a closed client
// would take it for a client gone and drop the answer not yet flushed.
func TestBodyStop(t *testing.T) {
	for _, idle := range []time.Duration{0, time.Minute} {
		t.Run("idle timeout "+idle.String(), func(t *testing.T) {
			rec := &stopRecorder{ResponseWriter: httptest.NewRecorder()}
			r := httptest.NewRequest("POST", "/", strings.NewReader("abc"))
			b := NewBody(rec, r, Limits{BodyIdleTimeout: idle})
			if _, err := io.ReadAll(b); err != nil {
				t.Fatal(err)
			}
			b.Stop()
			if d := rec.get(); !d.IsZero() {
				t.Errorf("read deadline %v after Stop on a body read whole, want none", d)
			}
			if n, err := b.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Errorf("read after the end and Stop: %d, %v; want EOF", n, err)
			}

			// Stopped before its end: the deadline ends the read, and the
			// error is not the client's.
			pr, pw := io.Pipe()
			r = httptest.NewRequest("POST", "/", pr)
			b = NewBody(rec, r, Limits{BodyIdleTimeout: idle})
			b.Stop()
			if d := rec.get(); !d.Equal(aLongTimeAgo) {
				t.Errorf("read deadline %v after Stop mid-body, want one in the past", d)
			}
			if _, err := b.Read(make([]byte, 1)); !errors.Is(err, errStopped) {
				t.Errorf("read after Stop: %v, want errStopped", err)
			}
			if b.ClientStatus() != 0 {
				t.Errorf("a stopped body is blamed on the client: %d", b.ClientStatus())
			}
			pw.Close()
		})
	}
}
