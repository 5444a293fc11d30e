package queueproxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// fastClient is a minimal HTTP/1.1 client for the common case: a request
// without a body, forwarded on a pooled keep-alive connection and answered
// in the handler's own goroutine. http.Transport needs two goroutines per
// connection and channel hand-offs per request; skipping them is most of
// the proxy's overhead. Everything else goes through httputil.ReverseProxy.
type fastClient struct {
	addr   string
	idle   chan *appConn
	dialer net.Dialer
}

type appConn struct {
	c   net.Conn
	br  *bufio.Reader
	out []byte // the request head being sent

	// Send-then-wait (sendAndWait): nil when c is not a socket.
	raw      syscall.RawConn
	waitFn   func(fd uintptr) bool // ac.sendThenWait, made once
	sent     int                   // bytes of out written by waitFn
	sendErr  error
	waiting  bool
	lastUsed int64 // nanotime of the last request sent
}

func newFastClient(addr string, maxIdle int) *fastClient {
	return &fastClient{addr: addr, idle: make(chan *appConn, maxIdle),
		dialer: net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}}
}

// fastEligible: no body, no upgrade, no Expect, idempotent (safe to retry on
// a keep-alive connection the app closed meanwhile).
func fastEligible(r *http.Request) bool {
	if r.ProtoMajor != 1 || r.Body != http.NoBody && r.Body != nil {
		return false
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodDelete:
	default:
		return false
	}
	h := r.Header
	if _, ok := h["Upgrade"]; ok {
		return false
	}
	if _, ok := h["Expect"]; ok {
		return false
	}
	return true
}

func (f *fastClient) get(rw *respWriter, r *http.Request) (*appConn, bool, error) {
	select {
	case ac := <-f.idle:
		return ac, true, nil
	default:
	}
	// Dialling is rare (the pool is empty): a context is worth deriving here.
	c, err := f.dialer.DialContext(rw.context(r.Context()), "tcp", f.addr)
	if err != nil {
		return nil, false, err
	}
	return newAppConn(c), false, nil
}

func (f *fastClient) put(ac *appConn) {
	if ac.br.Buffered() > 0 {
		ac.c.Close() // bytes beyond the response: the app is out of step
		return
	}
	select {
	case f.idle <- ac:
	default:
		ac.c.Close()
	}
}

// closeIdle closes pooled connections (at shutdown).
func (f *fastClient) closeIdle() {
	for {
		select {
		case ac := <-f.idle:
			ac.c.Close()
		default:
			return
		}
	}
}

var aLongTimeAgo = time.Unix(1, 0)

// do forwards r and copies the response to rw. An error means no response
// header was written; failures after that abort the response.
func (f *fastClient) do(rw *respWriter, r *http.Request) error {
	// Make blocking I/O on the app connection notice that the client went
	// away; the request's timer does the same for timeouts (rw.attachApp).
	if x, ok := r.Context().Value(connCtxKey{}).(*connCtx); ok {
		x.setOnGone(rw.goneFn) // h1Server: no allocation
		defer x.setOnGone(nil)
	} else {
		stopWatch := context.AfterFunc(r.Context(), rw.goneFn)
		defer stopWatch()
	}
	for attempt := 0; ; attempt++ {
		ac, reused, err := f.get(rw, r)
		if err != nil {
			if rw.ended() {
				return endedErr(rw, r)
			}
			return err
		}
		if !rw.attachApp(ac.c) {
			f.put(ac) // untouched
			return endedErr(rw, r)
		}
		resp, sr, err := f.roundTrip(ac, rw, r)
		if err != nil {
			rw.detachApp()
			ac.c.Close()
			if reused && attempt == 0 && !rw.ended() {
				continue // the app closed an idle connection: retry on a new one
			}
			if rw.ended() {
				return endedErr(rw, r)
			}
			return err
		}
		var ok, closeApp bool
		if resp == nil {
			ok = copySimple(rw, r, sr, ac.br)
		} else {
			ok = copyResponse(rw, resp, ac.br)
			closeApp = resp.Close
			resp.Body.Close()
		}
		if !rw.detachApp() || !ok || closeApp {
			ac.c.Close()
			if !ok {
				panic(http.ErrAbortHandler)
			}
			return nil
		}
		f.put(ac)
		return nil
	}
}

// endedErr is the error of a request that a timer or the client ended.
func endedErr(rw *respWriter, r *http.Request) error {
	if rw.timedOut.Load() {
		return errRequestTimeout
	}
	if err := r.Context().Err(); err != nil {
		return err
	}
	return errRequestTimeout
}

// simpleResp is a response whose head parseRespHead took: its fields are
// already in the client's header, its body is length bytes.
type simpleResp struct {
	code   int
	length int64
}

// roundTrip sends r and reads the response head: the common kind straight
// into rw's header (resp nil), any other with http.ReadResponse.
func (f *fastClient) roundTrip(ac *appConn, rw *respWriter, r *http.Request) (*http.Response, simpleResp, error) {
	ac.out = appendRequestHead(ac.out[:0], r)
	if err := ac.sendAndWait(); err != nil {
		return nil, simpleResp{}, err
	}
	n, err := peekHead(ac.br)
	if err != nil {
		return nil, simpleResp{}, err
	}
	if n > 0 {
		buf, _ := ac.br.Peek(n)
		// The values outlive the request when net/http writes the head
		// after the handler returns: a fresh backing array each time.
		vals := make([]string, 0, bytes.Count(buf, crlf)-2)
		if code, length, _, ok := parseRespHead(string(buf), rw.Header(), vals); ok {
			ac.br.Discard(n)
			return nil, simpleResp{code: code, length: length}, nil
		}
	}
	for {
		resp, err := http.ReadResponse(ac.br, r)
		if err != nil {
			return nil, simpleResp{}, err
		}
		switch {
		case resp.StatusCode == http.StatusSwitchingProtocols:
			return nil, simpleResp{}, errors.New("unexpected 101 Switching Protocols")
		case resp.StatusCode < 200:
			continue // informational responses are not forwarded
		}
		return resp, simpleResp{}, nil
	}
}

var crlf = []byte("\r\n")

// copySimple relays a simpleResp's body from br; false as copyResponse.
func copySimple(rw *respWriter, r *http.Request, sr simpleResp, br *bufio.Reader) bool {
	dst := rw.Header()
	echoTraceparent(r.Header, dst)
	rw.WriteHeader(sr.code)
	if r.Method == http.MethodHead || sr.code == http.StatusNoContent || sr.code == http.StatusNotModified {
		return true
	}
	streaming := isEventStream(dst)
	for n := sr.length; n > 0; {
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err != nil {
				return false
			}
		}
		b, _ := br.Peek(int(min(n, int64(br.Buffered()))))
		if _, err := rw.Write(b); err != nil {
			return false
		}
		br.Discard(len(b))
		n -= int64(len(b))
		if streaming && br.Buffered() == 0 {
			rw.Flush()
		}
	}
	return true
}

// appendRequestHead appends an HTTP/1.1 request head with r's method,
// target, Host and end-to-end headers.
func appendRequestHead(b []byte, r *http.Request) []byte {
	uri := r.RequestURI
	if uri == "" || uri[0] != '/' && uri != "*" {
		uri = r.URL.RequestURI()
	}
	b = append(b, r.Method...)
	b = append(b, ' ')
	b = append(b, uri...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, r.Host...)
	b = append(b, "\r\n"...)
	conn := r.Header["Connection"]
	for k, vv := range r.Header {
		if isHopHeader(k) || listedIn(conn, k) {
			continue
		}
		for _, v := range vv {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	return append(b, "\r\n"...)
}

// copyResponse writes resp to rw; false means the body could not be fully
// relayed (the connection to the app must be dropped and the response aborted).
func copyResponse(rw *respWriter, resp *http.Response, br *bufio.Reader) bool {
	dst := rw.Header()
	conn := resp.Header["Connection"]
	for k, vv := range resp.Header {
		if isHopHeader(k) || listedIn(conn, k) {
			continue
		}
		dst[k] = vv
	}
	if len(resp.Trailer) > 0 {
		for k := range resp.Trailer {
			dst.Add("Trailer", k)
		}
	}
	echoTraceparent(resp.Request.Header, dst)
	rw.WriteHeader(resp.StatusCode)
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	// A stream (no Content-Length, or server-sent events) is flushed
	// whenever the app has nothing more buffered; a body of known length
	// goes through the server's buffer, with the header in the same write
	// when it is small.
	streaming := resp.ContentLength < 0 || isEventStream(resp.Header)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := rw.Write(buf[:n]); werr != nil {
				return false
			}
			if streaming && br.Buffered() == 0 {
				rw.Flush()
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return false
		}
	}
	for k, vv := range resp.Trailer {
		dst[k] = vv
	}
	return true
}

// isEventStream reports whether the Content-Type is text/event-stream.
func isEventStream(h http.Header) bool {
	v := h["Content-Type"]
	if len(v) == 0 {
		return false
	}
	ct := v[0]
	const es = "text/event-stream"
	if len(ct) < len(es) || !equalFold(ct[:len(es)], es) {
		return false
	}
	rest := trimOWS(ct[len(es):])
	return rest == "" || rest[0] == ';'
}

// hopHeaders are connection-specific and never forwarded (RFC 9110 §7.6.1).
func isHopHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

func listedIn(conn []string, k string) bool {
	for _, v := range conn {
		if containsToken(v, k) {
			return true
		}
	}
	return false
}

// containsToken reports whether the comma-separated list v holds token k,
// compared case-insensitively.
func containsToken(v, k string) bool {
	for len(v) > 0 {
		i := 0
		for i < len(v) && v[i] != ',' {
			i++
		}
		tok := trimOWS(v[:i])
		if len(tok) == len(k) && equalFold(tok, k) {
			return true
		}
		if i == len(v) {
			break
		}
		v = v[i+1:]
	}
	return false
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

func equalFold(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// bufPool shares 32 KiB copy buffers between the fast path and ReverseProxy.
type bufPool struct{}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufPool) Get() []byte  { return *copyBufs.Get().(*[]byte) }
func (bufPool) Put(b []byte) { copyBufs.Put(&b) }
