package h1

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// h1TestHandler answers by path; X-Served-By tells which server parsed
// the request.
func h1TestHandler(w http.ResponseWriter, r *http.Request) {
	by := "net/http"
	if _, ok := r.Context().Value(connCtxKey{}).(*connCtx); ok {
		by = "h1"
	}
	w.Header().Set("X-Served-By", by)
	switch r.URL.Path {
	case "/small":
		io.WriteString(w, "abc")
	case "/big":
		io.WriteString(w, strings.Repeat("x", 10<<10))
	case "/flush":
		io.WriteString(w, "a")
		w.(http.Flusher).Flush()
		io.WriteString(w, "b")
	case "/cl":
		w.Header().Set("Content-Length", "5")
		io.WriteString(w, "hello")
	case "/204":
		w.WriteHeader(http.StatusNoContent)
	case "/trailer":
		w.Header().Set("Trailer", "X-T")
		io.WriteString(w, "x")
		w.Header().Set("X-T", "v")
	case "/late":
		// Fields set after the body was written (undeclared trailers, a
		// wrong length) must not reach the held response's head.
		io.WriteString(w, "abc")
		w.Header().Set("Content-Length", "50")
		w.Header().Set("X-Late", "1")
	case "/inject":
		w.Header().Set("X-V", "a\r\nX-Evil: 1")
	case "/abort":
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "0123456789")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	case "/slow":
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "slow")
	case "/echo":
		io.Copy(w, r.Body)
	default:
		io.WriteString(w, r.URL.Path)
	}
}

func startH1(t *testing.T, idle, readHeader time.Duration) (*Server, string) {
	t.Helper()
	h := http.HandlerFunc(h1TestHandler)
	fb := &http.Server{Handler: h, IdleTimeout: idle, ReadHeaderTimeout: readHeader}
	s := NewServer(h, fb, slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, ln.Addr().String()
}

type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (rc *rawConn) send(s string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.c, s); err != nil {
		rc.t.Fatal(err)
	}
}

// read reads one response to a request of method.
func (rc *rawConn) read(method string) (*http.Response, string) {
	rc.t.Helper()
	resp, err := http.ReadResponse(rc.br, &http.Request{Method: method})
	if err != nil {
		rc.t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		rc.t.Fatal(err)
	}
	return resp, string(b)
}

// One connection: requests without a body or with a Content-Length one
// are served by Server until a chunked one arrives; net/http then serves
// it and the rest.
func TestH1HandsOffConnection(t *testing.T) {
	_, addr := startH1(t, time.Minute, time.Minute)
	rc := dialRaw(t, addr)
	for i := range 3 {
		rc.send("GET /n" + strconv.Itoa(i) + " HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, body := rc.read("GET")
		if resp.StatusCode != 200 || body != "/n"+strconv.Itoa(i) || resp.Header.Get("X-Served-By") != "h1" {
			t.Fatalf("GET %d: %d %q by %s", i, resp.StatusCode, body, resp.Header.Get("X-Served-By"))
		}
		if resp.Header.Get("Date") == "" {
			t.Error("no Date")
		}
	}
	rc.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
	resp, body := rc.read("POST")
	if resp.StatusCode != 200 || body != "hello" || resp.Header.Get("X-Served-By") != "h1" {
		t.Fatalf("POST with a length: %d %q by %s", resp.StatusCode, body, resp.Header.Get("X-Served-By"))
	}
	rc.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	resp, body = rc.read("POST")
	if resp.StatusCode != 200 || body != "hello" || resp.Header.Get("X-Served-By") != "net/http" {
		t.Fatalf("chunked POST: %d %q by %s", resp.StatusCode, body, resp.Header.Get("X-Served-By"))
	}
	rc.send("GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body = rc.read("GET")
	if body != "/after" || resp.Header.Get("X-Served-By") != "net/http" {
		t.Fatalf("GET after hand-off: %q by %s", body, resp.Header.Get("X-Served-By"))
	}
}

// Bodies with a Content-Length: read from the connection's buffer, whole
// or in part, in one segment or many, and the connection stays in step.
func TestH1Bodies(t *testing.T) {
	_, addr := startH1(t, time.Minute, time.Minute)
	big := strings.Repeat("0123456789abcdef", 8<<10) // 128 KiB: past any buffer
	rc := dialRaw(t, addr)
	for _, tc := range []struct{ name, req, path, want string }{
		{"small", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", "", "hello"},
		{"zero", "PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", "", ""},
		{"large", "PATCH /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + strconv.Itoa(len(big)) + "\r\n\r\n" + big, "", big},
		// The handler leaves the body: it is dropped, the next request is
		// read from where it ends.
		{"unread", "POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\nignored", "", "abc"},
		{"unread large", "POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: " + strconv.Itoa(len(big)) + "\r\n\r\n" + big, "", "abc"},
		{"pipelined", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none" +
			"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\ntwo", "", "one"},
		{"pipelined second", "", "", "two"},
		{"after", "GET /after HTTP/1.1\r\nHost: x\r\n\r\n", "", "/after"},
	} {
		if tc.req != "" {
			go io.WriteString(rc.c, tc.req)
		}
		resp, body := rc.read("POST")
		if resp.StatusCode != 200 || body != tc.want || resp.Header.Get("X-Served-By") != "h1" || resp.Close {
			t.Fatalf("%s: %d close=%v by %s, body %d bytes, want %d", tc.name, resp.StatusCode, resp.Close,
				resp.Header.Get("X-Served-By"), len(body), len(tc.want))
		}
	}

	// A body the handler leaves and that is too large to drop: the answer
	// arrives whole, then the connection closes.
	huge := strings.Repeat("z", 600<<10)
	rc = dialRaw(t, addr)
	go io.WriteString(rc.c, "POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(len(huge))+"\r\n\r\n"+huge)
	if resp, body := rc.read("POST"); resp.StatusCode != 200 || body != "abc" {
		t.Fatalf("huge unread body: %d %q", resp.StatusCode, body)
	}
	if _, err := rc.br.ReadByte(); err == nil {
		t.Fatal("the connection stayed open after a huge unread body")
	}

	// A client that ends before its length: the handler's read fails with
	// io.ErrUnexpectedEOF, and the connection is not reused.
	got := make(chan error, 1)
	srv := NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		got <- err
	}), &http.Server{}, slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	rc = dialRaw(t, ln.Addr().String())
	rc.send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nshort")
	rc.c.(*net.TCPConn).CloseWrite()
	select {
	case err := <-got:
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("truncated body: read error %v, want io.ErrUnexpectedEOF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handler never saw the truncated body end")
	}
}

// connStates lists the states of s's connections.
func connStates(s *Server) []int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int32
	for c := range s.conns {
		out = append(out, c.state.Load())
	}
	return out
}

// A keep-alive answer's last write goes out from inside the wait for the
// next request (the connection is then connHeld); a client seen to
// pipeline is read the ordinary way from then on.
func TestH1HoldsKeepAliveAnswers(t *testing.T) {
	s, addr := startH1(t, time.Minute, time.Minute)
	rc := dialRaw(t, addr)
	rc.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, body := rc.read("GET"); resp.StatusCode != 200 || body != "/a" {
		t.Fatalf("GET: %d %q", resp.StatusCode, body)
	}
	held := func() bool { st := connStates(s); return len(st) == 1 && st[0] == connHeld }
	deadline := time.Now().Add(time.Second)
	for !held() {
		if time.Now().After(deadline) {
			t.Fatalf("after a keep-alive answer: states %v, want one connHeld (%d)", connStates(s), connHeld)
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	rc.send("GET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{"/b", "/c"} {
		if resp, body := rc.read("GET"); resp.StatusCode != 200 || body != want {
			t.Fatalf("pipelined: %d %q, want %q", resp.StatusCode, body, want)
		}
	}
	// Bytes already read are served at once, never after a held wait.
	if d := time.Since(start); d > heldWait/2 {
		t.Errorf("two pipelined requests took %v", d)
	}
	time.Sleep(50 * time.Millisecond)
	if held() {
		t.Errorf("a pipelining client's connection is still held: %v", connStates(s))
	}
}

// A client that pipelines while its first request is being served: the
// second request's bytes reach the socket before the first answer is out,
// so the wait for the next request after that answer (sendThenWait) may
// not hear of them; it gives up after heldWait and reads them anyway.
func TestH1PipelinedWhileServing(t *testing.T) {
	_, addr := startH1(t, time.Minute, time.Minute)
	rc := dialRaw(t, addr)
	rc.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(100 * time.Millisecond) // the handler is sleeping
	rc.send("GET /second HTTP/1.1\r\nHost: x\r\n\r\n")
	start := time.Now()
	if resp, body := rc.read("GET"); resp.StatusCode != 200 || body != "slow" {
		t.Fatalf("first: %d %q", resp.StatusCode, body)
	}
	if resp, body := rc.read("GET"); resp.StatusCode != 200 || body != "/second" || resp.Header.Get("X-Served-By") != "h1" {
		t.Fatalf("second: %d %q by %s", resp.StatusCode, body, resp.Header.Get("X-Served-By"))
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the pipelined request took %v", d)
	}
	// And the connection goes on as usual.
	for i := range 50 {
		rc.send("GET /n HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, body := rc.read("GET"); resp.StatusCode != 200 || body != "/n" {
			t.Fatalf("request %d after: %d %q", i, resp.StatusCode, body)
		}
	}
}

func TestH1Pipelined(t *testing.T) {
	_, addr := startH1(t, time.Minute, time.Minute)
	rc := dialRaw(t, addr)
	rc.send("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /cl HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []struct{ method, body string }{{"GET", "/1"}, {"HEAD", ""}, {"GET", "/3"}} {
		resp, body := rc.read(want.method)
		if body != want.body || resp.Header.Get("X-Served-By") != "h1" {
			t.Fatalf("%s: %q by %s, want %q", want.method, body, resp.Header.Get("X-Served-By"), want.body)
		}
		if want.method == "HEAD" && resp.ContentLength != 5 {
			t.Errorf("HEAD Content-Length %d, want 5", resp.ContentLength)
		}
	}
}

// Framing: a held body gets a length, a large or flushed one is chunked,
// trailers and 204 follow HTTP's rules, and no value can inject a field.
func TestH1Framing(t *testing.T) {
	_, addr := startH1(t, time.Minute, time.Minute)
	c := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	for _, tc := range []struct {
		path    string
		code    int
		body    string
		length  int64
		chunked bool
	}{
		{"/small", 200, "abc", 3, false},
		{"/big", 200, strings.Repeat("x", 10<<10), -1, true},
		{"/flush", 200, "ab", -1, true},
		{"/cl", 200, "hello", 5, false},
		{"/204", 204, "", 0, false},
		{"/inject", 200, "", 0, false},
		{"/late", 200, "abc", 3, false},
	} {
		resp, err := c.Get("http://" + addr + tc.path)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		chunked := len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked"
		if resp.StatusCode != tc.code || string(b) != tc.body || resp.ContentLength != tc.length || chunked != tc.chunked {
			t.Errorf("%s: %d len=%d chunked=%v body %.20q", tc.path, resp.StatusCode, resp.ContentLength, chunked, b)
		}
		if resp.Header.Get("X-Served-By") != "h1" {
			t.Errorf("%s served by %s", tc.path, resp.Header.Get("X-Served-By"))
		}
		if tc.path == "/late" && (resp.Header.Get("X-Late") != "" || len(resp.Header["Content-Length"]) != 1) {
			t.Errorf("late fields reached the head: %q", resp.Header)
		}
		if tc.path == "/inject" && (resp.Header.Get("X-Evil") != "" || resp.Header.Get("X-V") != "a  X-Evil: 1") {
			t.Errorf("injected field: %q", resp.Header)
		}
	}
	resp, err := c.Get("http://" + addr + "/trailer")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "x" || resp.Trailer.Get("X-T") != "v" {
		t.Errorf("trailer: body %q trailer %q", b, resp.Trailer)
	}
}

func TestH1ConnectionClose(t *testing.T) {
	_, addr := startH1(t, time.Minute, time.Minute)
	rc := dialRaw(t, addr)
	rc.send("GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	resp, body := rc.read("GET")
	if body != "/x" || !resp.Close {
		t.Fatalf("%q close=%v", body, resp.Close)
	}
	if _, err := rc.br.ReadByte(); err != io.EOF {
		t.Fatalf("connection still open: %v", err)
	}
}

// An aborted response reaches the client truncated; the server goes on.
func TestH1Abort(t *testing.T) {
	_, addr := startH1(t, time.Minute, time.Minute)
	resp, err := http.Get("http://" + addr + "/abort")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, io.ErrUnexpectedEOF) || string(b) != "0123456789" {
		t.Fatalf("aborted body %q, err %v", b, err)
	}
	if code, body := get(t, nil, "http://"+addr+"/ok"); code != 200 || body != "/ok" {
		t.Fatalf("after abort: %d %q", code, body)
	}
}

// Heads outside the subset are net/http's, with net/http's answers.
func TestH1OutsideSubset(t *testing.T) {
	_, addr := startH1(t, time.Minute, time.Minute)
	for _, tc := range []struct {
		name, raw, by string
		code          int
	}{
		{"head over 4 KiB", "GET /l HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 6000) + "\r\n\r\n", "h1", 200},
		{"head over the buffer", "GET /l HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", h1ReadBufSize) + "\r\n\r\n", "net/http", 200},
		{"bare LF", "GET /lf HTTP/1.1\nHost: x\n\n", "net/http", 200},
		{"HTTP/1.0", "GET /old HTTP/1.0\r\n\r\n", "net/http", 200},
		{"no host", "GET / HTTP/1.1\r\n\r\n", "", 400},
		{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "", 400},
		{"bad field", "GET / HTTP/1.1\r\nHost: a\r\nX Y: z\r\n\r\n", "", 400},
		{"huge head", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 2<<20) + "\r\n\r\n", "", 431},
	} {
		rc := dialRaw(t, addr)
		go io.WriteString(rc.c, tc.raw)
		resp, _ := rc.read("GET")
		if resp.StatusCode != tc.code || resp.Header.Get("X-Served-By") != tc.by {
			t.Errorf("%s: %d by %q, want %d by %q", tc.name, resp.StatusCode, resp.Header.Get("X-Served-By"), tc.code, tc.by)
		}
	}
}

// Shutdown closes idle keep-alive connections at once and lets a request
// in flight finish, with Connection: close.
func TestH1Shutdown(t *testing.T) {
	s, addr := startH1(t, time.Minute, time.Minute)
	idle := dialRaw(t, addr)
	idle.send("GET /i HTTP/1.1\r\nHost: x\r\n\r\n")
	idle.read("GET")
	busy := dialRaw(t, addr)
	busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(50 * time.Millisecond)
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		errc <- s.Shutdown(ctx)
	}()
	if _, err := idle.br.ReadByte(); err != io.EOF {
		t.Errorf("idle connection not closed: %v", err)
	}
	resp, body := busy.read("GET")
	if body != "slow" || !resp.Close {
		t.Errorf("in-flight request: %q close=%v", body, resp.Close)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("still accepting after Shutdown")
	}
}

// Requests that race the shutdown are still served: one on a connection
// opened just before it, and one whose body-carrying head, half sent when
// it began, is handed to net/http after it began.
func TestH1ShutdownRacingRequests(t *testing.T) {
	s, addr := startH1(t, time.Minute, 5*time.Second)
	fresh := dialRaw(t, addr)
	half := dialRaw(t, addr)
	half.send("POST /echo HTTP/1.1\r\nHost: x\r\n")
	time.Sleep(50 * time.Millisecond)
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		errc <- s.Shutdown(ctx)
	}()
	time.Sleep(20 * time.Millisecond)
	fresh.send("GET /fresh HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, body := fresh.read("GET"); body != "/fresh" || !resp.Close {
		t.Errorf("fresh connection: %q close=%v", body, resp.Close)
	}
	half.send("Content-Length: 2\r\n\r\nhi")
	if _, body := half.read("POST"); body != "hi" {
		t.Errorf("handed-off request: %q", body)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// A client that sent half a head does not hold Shutdown past the header
// timeout.
func TestH1ShutdownHalfHead(t *testing.T) {
	s, addr := startH1(t, time.Minute, time.Second)
	rc := dialRaw(t, addr)
	rc.send("GET / HTTP/1.1\r\nHost: x\r\n")
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("Shutdown took %v", d)
	}
}

// A connection that never sends a request has the header timeout, not
// the (much longer) idle timeout.
func TestH1SilentConnection(t *testing.T) {
	_, addr := startH1(t, time.Minute, time.Second)
	rc := dialRaw(t, addr)
	start := time.Now()
	if _, err := rc.br.ReadByte(); err != io.EOF {
		t.Fatalf("not closed: %v", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("closed after %v", d)
	}
}

// Idle connections are closed after the idle timeout, and a client that
// never finishes its head after the header timeout.
func TestH1Timeouts(t *testing.T) {
	_, addr := startH1(t, time.Second, time.Second)
	idle := dialRaw(t, addr)
	idle.send("GET /i HTTP/1.1\r\nHost: x\r\n\r\n")
	idle.read("GET")
	slow := dialRaw(t, addr)
	slow.send("GET / HTTP/1.1\r\nHost: x\r\n")
	start := time.Now()
	for _, rc := range []*rawConn{idle, slow} {
		if _, err := rc.br.ReadByte(); err != io.EOF {
			t.Errorf("not closed: %v", err)
		}
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("closed after %v", d)
	}
}

func get(t testing.TB, c *http.Client, url string) (int, string) {
	t.Helper()
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// With WatchAfter, a long request notices its client leaving without
// anyone calling WatchClient.
func TestWatchAfter(t *testing.T) {
	ended := make(chan time.Duration, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		select {
		case <-r.Context().Done():
			ended <- time.Since(start)
		case <-time.After(10 * time.Second):
			ended <- -1
		}
	})
	s := NewServer(h, &http.Server{Handler: h}, slog.New(slog.DiscardHandler))
	s.WatchAfter = time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(100 * time.Millisecond)
	c.Close()
	if d := <-ended; d < 0 || d > 3*time.Second {
		t.Fatalf("context ended after %v, want within the reaper's period", d)
	}
}

// countingConn counts the reads that brought data.
type countingConn struct {
	net.Conn
	reads *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.reads.Add(1)
	}
	return n, err
}

type countingListener struct {
	net.Listener
	reads *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.reads}, nil
}

// A 4 KiB POST sent in one write is read in one: its head and body fit
// the connection's buffer (at net/http's 4 KiB it took two reads).
func TestH1SmallPostInOneRead(t *testing.T) {
	h := http.HandlerFunc(h1TestHandler)
	s := NewServer(h, &http.Server{Handler: h}, slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var reads atomic.Int64
	done := make(chan error, 1)
	go func() { done <- s.Serve(countingListener{ln, &reads}) }()
	defer func() { s.Close(); <-done }()
	rc := dialRaw(t, ln.Addr().String())
	body := strings.Repeat("b", 4096)
	const n = 20
	for i := 0; i < n; i++ {
		if _, err := io.WriteString(rc.c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 4096\r\n\r\n"+body); err != nil {
			t.Fatal(err)
		}
		resp, got := rc.read("POST")
		if resp.StatusCode != 200 || got != body || resp.Header.Get("X-Served-By") != "h1" {
			t.Fatalf("request %d: %d by %q, %d bytes back", i, resp.StatusCode, resp.Header.Get("X-Served-By"), len(got))
		}
	}
	// Loopback delivers a write whole nearly always; allow a split now and then.
	if r := reads.Load(); r > n+n/4 {
		t.Fatalf("%d reads with data for %d requests, want about one each", r, n)
	}
}
