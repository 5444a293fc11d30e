package h1

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Server serves the HTTP/1.1 ports of the gateway and the queue-proxy. It
// parses and answers the requests that are nearly all of the traffic
// itself - common methods without a body or with a Content-Length one, in
// a strict subset of HTTP/1.1 (parse.go) - and
// hands any connection that sends something else, or anything malformed,
// to a net/http server with the same handler, which then owns it for good.
//
// Why not net/http for everything: per request it starts a background
// read of the connection (a goroutine, a failed read, two deadline changes
// and two goroutine switches) and allocates the request, its context and
// header maps afresh; together about a fifth of the proxy's CPU at 5,000
// requests/s (docs/benchmarks-queueproxy.md). Here a connection keeps one
// request, header map and writer, and the client is watched only for
// requests that wait or run long (h1ctx.go).
type Server struct {
	// WatchAfter starts the client watch of a request still running after
	// this long (give or take the reaper's second), so that a client
	// leaving during a long wait ends its context. 0: only on WatchClient.
	WatchAfter time.Duration

	handler           http.Handler
	fallback          *http.Server
	log               *slog.Logger
	readHeaderTimeout time.Duration
	idleTimeout       time.Duration

	closing  atomic.Bool
	handoffs *handoffListener

	mu           sync.Mutex
	ln           net.Listener
	conns        map[*conn]struct{}
	stopReap     chan struct{}
	reapOnce     sync.Once
	fallbackDone chan struct{} // closed when fallback.Serve returns; nil: not started
}

func NewServer(h http.Handler, fallback *http.Server, log *slog.Logger) *Server {
	return &Server{handler: h, fallback: fallback, log: log,
		readHeaderTimeout: fallback.ReadHeaderTimeout, idleTimeout: fallback.IdleTimeout,
		handoffs: newHandoffListener(), conns: map[*conn]struct{}{}, stopReap: make(chan struct{})}
}

// Serve accepts connections on ln until Shutdown or Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing.Load() || s.ln != nil {
		s.mu.Unlock()
		ln.Close()
		return http.ErrServerClosed
	}
	s.ln = ln
	s.handoffs.addr = ln.Addr()
	done := make(chan struct{})
	s.fallbackDone = done
	s.mu.Unlock()
	go func() {
		defer close(done)
		s.fallback.Serve(s.handoffs)
	}()
	go s.reap()

	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		c := newConn(s, nc)
		if !s.track(c) {
			nc.Close()
			continue
		}
		go c.serve()
	}
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// reap closes connections idle for longer than idleTimeout and those
// taking longer than readHeaderTimeout to send a request head.
func (s *Server) reap() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stopReap:
			return
		case <-t.C:
		}
		now := nanotime()
		s.mu.Lock()
		for c := range s.conns {
			since := now - c.since.Load()
			switch c.state.Load() {
			case connIdle:
				// Before its first request a connection has the header
				// timeout, as with net/http.
				limit := s.idleTimeout
				if !c.served.Load() {
					limit = s.readHeaderTimeout
				}
				if limit > 0 && since > int64(limit) && c.state.CompareAndSwap(connIdle, connClosed) {
					c.nc.Close()
				}
			case connHeld:
				// Past heldWait the wait is ended and the connection read
				// the ordinary way (sendThenWait); the deadline is set under
				// s.mu, which the connection takes to clear it.
				if since > int64(heldWait) && c.state.CompareAndSwap(connHeld, connHeldEnded) {
					c.nc.SetReadDeadline(aLongTimeAgo)
				}
			case connServe:
				if s.WatchAfter > 0 && since > int64(s.WatchAfter) {
					c.ctx.watch() // no-op once watching or between requests
				}
			case connHead:
				if s.readHeaderTimeout > 0 && since > int64(s.readHeaderTimeout) &&
					c.state.CompareAndSwap(connHead, connClosed) {
					c.nc.Close()
				}
			}
		}
		s.mu.Unlock()
	}
}

// beginClose stops accepting; it is idempotent.
func (s *Server) beginClose() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Swap(true) {
		return
	}
	if s.ln != nil {
		s.ln.Close()
	}
}

// stopReaper ends the reaper once no connection needs it; until then it
// keeps enforcing the header timeout, also while Shutdown waits.
func (s *Server) stopReaper() {
	s.reapOnce.Do(func() { close(s.stopReap) })
}

// closeIdle closes idle connections and returns how many are left. A new
// connection that has not sent its first request yet is left 5 s to send
// it (net/http's rule), so a request racing the shutdown is still served.
func (s *Server) closeIdle() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := nanotime()
	for c := range s.conns {
		if !c.served.Load() && now-c.since.Load() < int64(5*time.Second) {
			continue
		}
		if c.state.CompareAndSwap(connIdle, connClosed) || c.state.CompareAndSwap(connHeld, connClosed) {
			c.nc.Close()
		}
	}
	return len(s.conns)
}

// Shutdown stops accepting, closes idle connections and waits for the
// others to finish their request (they answer with Connection: close),
// as http.Server.Shutdown does; handed-off connections are the fallback
// server's to drain.
func (s *Server) Shutdown(ctx context.Context) error {
	s.beginClose()
	defer s.stopReaper()
	wait := time.Millisecond
	for s.closeIdle() > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			s.fallback.Shutdown(ctx) // ends at once: ctx is done
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
	// Only now: until the last own connection is gone, one may still be
	// handed over (a request with a body arriving during the drain).
	err := s.fallback.Shutdown(ctx)
	s.waitFallback()
	return err
}

// Close closes the listener and every connection at once.
func (s *Server) Close() error {
	s.beginClose()
	err := s.fallback.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.state.Store(connClosed)
		c.nc.Close()
	}
	s.mu.Unlock()
	s.stopReaper()
	s.waitFallback()
	return err
}

func (s *Server) waitFallback() {
	s.mu.Lock()
	done := s.fallbackDone
	s.mu.Unlock()
	if done != nil {
		<-done
	}
}

// Connection states, for the reaper and Shutdown.
const (
	connIdle      int32 = iota // waiting for a request
	connHead                   // reading a request head
	connServe                  // serving a request
	connHeld                   // answered, waiting for the next request in sendThenWait
	connHeldEnded              // that wait ended by the reaper
	connClosed                 // closed by Shutdown or the reaper
)

type conn struct {
	srv    *Server
	nc     net.Conn
	cr     connReader
	br     *bufio.Reader
	bw     *bufio.Writer
	remote string
	state  atomic.Int32
	since  atomic.Int64 // nanotime the current state began
	served atomic.Bool  // a request has been served
	// bodyOpen: the request's body is not read to its end (no watch then).
	bodyOpen atomic.Bool
	cw       connWriter // c.bw's writer: holds back a response's last write
	sw       sendWait   // sends it while waiting for the next request
	noHold   bool       // the client pipelines or idles: no sendThenWait

	// Reused by every request of the connection.
	req  *http.Request
	url  url.URL
	hdr  http.Header
	vals []string
	w    respWriter
	ctx  connCtx
	body reqBody
}

// connReader returns a byte read by the client watch before reading on.
type connReader struct {
	nc       net.Conn
	buf      [1]byte
	pending  bool
	aborting atomic.Bool // the watch's read is being interrupted
}

func (r *connReader) Read(p []byte) (int, error) {
	if r.pending {
		if len(p) == 0 {
			return 0, nil
		}
		p[0] = r.buf[0]
		r.pending = false
		return 1, nil
	}
	return r.nc.Read(p)
}

// A connection's read buffer takes a head and a small body in one read: at
// 4 KiB (net/http's size) a 4 KiB POST cost two reads at each hop; HAProxy
// reads into 16 KiB. Heads that do not fit are net/http's (PeekHead).
const (
	h1ReadBufSize  = 8 << 10
	h1WriteBufSize = 4 << 10
)

var (
	h1Readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, h1ReadBufSize) }}
	h1Writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, h1WriteBufSize) }}
)

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{srv: s, nc: nc, hdr: make(http.Header, 16)}
	c.cr.nc = nc
	c.br = h1Readers.Get().(*bufio.Reader)
	c.br.Reset(&c.cr)
	c.cw.nc = nc
	c.sw.init(nc)
	c.sw.onWait = c.waitingHeld
	c.bw = h1Writers.Get().(*bufio.Writer)
	c.bw.Reset(&c.cw)
	c.remote = nc.RemoteAddr().String()
	c.ctx.c = c
	c.req = (&http.Request{}).WithContext(&c.ctx)
	c.w.hdr = make(http.Header, 16)
	c.since.Store(nanotime())
	return c
}

func (c *conn) serve() {
	handedOff := false
	defer func() {
		c.srv.untrack(c)
		if !handedOff {
			c.nc.Close()
			c.br.Reset(nil)
			h1Readers.Put(c.br)
		}
		c.bw.Reset(nil)
		h1Writers.Put(c.bw)
	}()
	for {
		c.since.Store(nanotime())
		if !c.state.CompareAndSwap(connServe, connIdle) && c.state.Load() != connIdle {
			return
		}
		if _, err := c.br.Peek(1); err != nil {
			return
		}
		if !c.state.CompareAndSwap(connIdle, connHead) {
			return // closed while idle
		}
		c.since.Store(nanotime())
		n, err := PeekHead(c.br)
		if err != nil {
			return
		}
		if n == 0 || !c.prepare(n) {
			if buf, _ := c.br.Peek(n); bothFramings(buf) {
				// net/http would go by Transfer-Encoding and keep the
				// connection; a front proxy going by the length would
				// then see another request than we do. Refused, as Envoy
				// does (RFC 9112 §6.3 allows it).
				io.WriteString(c.nc, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
				return
			}
			c.srv.untrack(c)
			handedOff = c.srv.handoffs.give(&handoffConn{Conn: c.nc, r: c.br})
			return
		}
		if !c.state.CompareAndSwap(connHead, connServe) {
			return // the reaper gave up on this head
		}
		c.served.Store(true)
		if !c.serveRequest() {
			c.cw.writeHeld() // nothing is held for a closing response; kept safe
			if c.w.closeAfter && c.w.err == nil {
				c.lingerClose()
			}
			return
		}
		if c.srv.closing.Load() {
			c.cw.writeHeld()
			return
		}
		if c.cw.held != nil && !c.sendThenWait() {
			return
		}
	}
}

// heldWait bounds the wait of sendThenWait: arming the poller drops a
// readiness that came before it, which only a client that pipelines (or
// half-closes before its answer) can have caused. The reaper ends a wait
// older than this (within its second); the connection is then read the
// ordinary way, which sees such bytes at once. One that had bytes waiting
// is not held again, so a pipelining client waits once; an idle one pays
// one wake-up per idle spell. No timer per request: deadlines set and
// cleared on every request cost the netpoller spurious wake-ups.
const heldWait = 500 * time.Millisecond

// sendThenWait writes the held last bytes of a response from inside the
// wait for the next request (sendWait): a keep-alive client's next request
// can only come after its answer, and the read that would fail with
// EAGAIN first is saved. False means the connection is done.
func (c *conn) sendThenWait() bool {
	out := c.cw.held
	c.cw.held = nil
	err := c.sw.do(out)
	if c.sw.err == nil && c.sw.sent < len(out) {
		_, c.sw.err = c.nc.Write(out[c.sw.sent:])
	}
	if c.state.CompareAndSwap(connHeld, connIdle) || c.state.CompareAndSwap(connServe, connIdle) {
		return c.sw.err == nil && err == nil
	}
	if !c.state.CompareAndSwap(connHeldEnded, connIdle) {
		return false // closed by Shutdown or the reaper
	}
	c.srv.mu.Lock() // the reaper set the deadline under it
	c.nc.SetReadDeadline(time.Time{})
	c.srv.mu.Unlock()
	if c.sw.err != nil || err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	// Bytes at once after the wait ended: they were there before it.
	start := nanotime()
	if _, perr := c.br.Peek(1); perr == nil && nanotime()-start < int64(time.Millisecond) {
		c.noHold = true
	}
	return true
}

// waitingHeld marks the connection idle in sendThenWait, once its answer
// is out (sendWait.onWait): from then on Shutdown may close it.
func (c *conn) waitingHeld() {
	c.since.Store(nanotime())
	c.state.CompareAndSwap(connServe, connHeld)
}

// connWriter is the writer under a connection's bufio.Writer. Asked to
// hold (hold), it keeps the slice of the next write, the buffer's final
// flush, instead of writing it: the buffer is not touched again before
// sendThenWait or writeHeld sends it.
type connWriter struct {
	nc   net.Conn
	hold bool
	held []byte
}

func (w *connWriter) Write(p []byte) (int, error) {
	if w.hold && w.held == nil {
		w.held = p
		return len(p), nil
	}
	return w.nc.Write(p)
}

// writeHeld writes what was held the ordinary way.
func (w *connWriter) writeHeld() {
	if w.held != nil {
		w.nc.Write(w.held)
		w.held = nil
	}
}

// mayHold tells whether a keep-alive response's last write may wait for
// sendThenWait: a socket, no pipelined bytes read already, no body left.
func (c *conn) mayHold() bool {
	if c.br.Buffered() > 0 || c.cr.pending {
		c.noHold = true // it pipelines
	}
	return c.sw.raw != nil && !c.noHold && !c.bodyOpen.Load()
}

// prepare turns the first n buffered bytes into c.req; false means they
// are outside the subset (nothing is consumed then).
func (c *conn) prepare(n int) bool {
	buf, _ := c.br.Peek(n)
	head := string(buf)
	clear(c.hdr)
	h, vals, ok := parseHead(head, c.hdr, c.vals[:0])
	c.vals = vals
	if !ok {
		return false
	}
	u, ok := setRequestURL(&c.url, h.target)
	if !ok {
		return false
	}
	c.br.Discard(n)
	r := c.req
	r.Method, r.URL, r.RequestURI, r.Host = h.method, u, h.target, h.host
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	r.Header, r.Trailer = c.hdr, nil
	r.Body, r.GetBody, r.ContentLength, r.TransferEncoding = http.NoBody, nil, 0, nil
	c.body.reset(c, h.length)
	if h.length > 0 {
		r.Body, r.ContentLength = &c.body, h.length
	}
	r.Close = h.close
	r.Form, r.PostForm, r.MultipartForm = nil, nil, nil
	r.RemoteAddr, r.TLS, r.Response, r.Pattern = c.remote, nil, nil, ""
	return true
}

// serveRequest runs the handler; false means the connection must close.
func (c *conn) serveRequest() (keep bool) {
	w := &c.w
	w.reset(c, c.req.Method == http.MethodHead, c.req.Close || c.srv.closing.Load())
	c.ctx.setActive(true)
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		c.ctx.setActive(false)
		c.ctx.stopWatch()
		c.ctx.endRequest()
		if p != http.ErrAbortHandler {
			c.srv.log.Error("panic serving request", "remote", c.remote, "panic", p, "stack", string(debug.Stack()))
		}
		// What was sent stays as it is: a truncated response.
		if w.headOut {
			c.bw.Flush()
		}
		keep = false
		w.closeAfter = false
	}()
	c.srv.handler.ServeHTTP(w, c.req)
	c.ctx.setActive(false)
	c.ctx.stopWatch()
	c.ctx.endRequest()
	if c.ctx.Err() != nil {
		return false
	}
	keep = w.finish()
	if !c.body.finish() {
		// Unread body left: close once the response is out, without a
		// reset that could destroy it.
		w.closeAfter = true
		keep = false
	}
	return keep
}

// lingerClose closes after a Connection: close response without losing it
// to a reset: the write side is shut and unread input drained briefly.
func (c *conn) lingerClose() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		c.nc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		io.Copy(io.Discard, io.LimitReader(c.nc, 256<<10))
	}
}

// handoffListener gives handed-off connections to the fallback server.
type handoffListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
	addr net.Addr
}

func newHandoffListener() *handoffListener {
	return &handoffListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// give hands c over; false means the fallback server is closed.
func (l *handoffListener) give(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

// handoffConn replays what Server already read.
type handoffConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *handoffConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *handoffConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
