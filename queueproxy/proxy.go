package queueproxy

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"reflect"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gantry-dev/gantry/internal/h1"
)

// statusClientClosed records requests whose client went away before any
// response (nginx's 499): they are not the app's failures, so they must not
// show up as 5xx in error-rate alerts.
const statusClientClosed = h1.StatusClientClosed

// handlerDeps is everything the data path needs; built once by Main.
type handlerDeps struct {
	env      Env
	breaker  *Breaker
	stats    *RequestStats
	metrics  *Metrics
	drainer  *Drainer
	prober   *Prober
	timeouts Timeouts
	tracker  *hijackTracker
	log      *slog.Logger
	h2c      bool    // proxy to the app with prior-knowledge HTTP/2 (gRPC)
	tracer   *tracer // nil: tracing off (tracing.go)
}

// proxyHandler is the data path: probes are answered first, then the
// request is counted, timed, admitted by the breaker and forwarded.
type proxyHandler struct {
	handlerDeps
	fast    *fastClient // nil: always use rp
	rp      *httputil.ReverseProxy
	appDown burstLog
	sweep   *sweeper // hands long requests to their timers
}

// buildHandler assembles the data path for one listener.
func buildHandler(d handlerDeps, transport http.RoundTripper) *proxyHandler {
	h := &proxyHandler{handlerDeps: d, sweep: newSweeper()}
	h.appDown.log = d.log
	addr := net.JoinHostPort(d.env.UserHost, strconv.Itoa(d.env.UserPort))
	if !d.h2c {
		h.fast = newFastClient(addr, maxIdle(d.env.ContainerConcurrency))
	}
	h.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = addr
			pr.Out.Host = pr.In.Host
			// ReverseProxy wraps the body, which makes the Transport flush the
			// head on its own: undo that for a body read ahead in memory.
			if reflect.TypeOf(pr.In.Body) == memBodyType {
				pr.Out.Body = pr.In.Body
			}
			// The trailers the body ends with are read after this: the
			// Transport sends what the map holds then (Clone copied it empty).
			pr.Out.Trailer = pr.In.Trailer
			// Pass the gateway's X-Forwarded-* and Forwarded through
			// instead of rebuilding them (Rewrite drops them), as the fast
			// path does.
			for _, k := range forwardedHeaders {
				if v, ok := pr.In.Header[k]; ok {
					pr.Out.Header[k] = v
				}
			}
		},
		Transport: transport,
		// ReverseProxy flushes every write itself when the response is a
		// stream (text/event-stream, or no Content-Length: gRPC, chunked);
		// a response of known length is written through the server's buffer,
		// in as few writes as possible.
		FlushInterval: 0,
		BufferPool:    h1.BufPool{},
		ModifyResponse: func(resp *http.Response) error {
			echoTraceparent(resp.Request.Header, resp.Header)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			h.forwardError(w.(*respWriter), r, err)
		},
	}
	return h
}

func maxIdle(cc int) int {
	if cc > 0 {
		return cc
	}
	return 1000
}

func (h *proxyHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h1.ShareTrailers(r)
	if k := classifyProbe(r); k != notProbe {
		serveProbe(w, r, k, h.drainer, h.prober)
		return
	}
	h.drainer.Touch()
	start := time.Now()
	proxied := headerIs(r.Header, proxyHeader, proxyValue)
	shard := h.stats.In(start, proxied)
	var ts *reqSpans // tracing.go; nil when tracing is off
	if h.tracer != nil {
		ts, r = h.tracer.begin(r, start)
	}
	rw := getRespWriter(w, h.tracker)
	h.timeouts.start(rw, r, int64(start.Sub(monoBase)), h.sweep)
	traceID := traceIDOf(r.Header)
	if ts != nil {
		traceID = ts.exemplarID()
	}
	tag := r.Header.Get(tagHeader)
	// Deferred so that an aborted response (panic(http.ErrAbortHandler)) still
	// releases everything it took.
	defer func() {
		rw.stopTimers(h.sweep)
		end := time.Now()
		h.stats.Out(end, shard, proxied)
		code := rw.code
		if code == 0 {
			code = http.StatusOK
		}
		h.metrics.RecordRequest(tag, code, end.Sub(start), traceID)
		if ts != nil {
			ts.end(code, end)
		}
		putRespWriter(rw)
	}()

	if code := max(h.env.Limits.CheckHead(r), h.env.Limits.CheckBody(r)); code != 0 {
		h.writeError(rw, r, &statusError{code})
		return
	}
	admitted, err := h.breaker.tryAcquire()
	if !admitted && err == nil {
		// Queued: wait with a context that the timers and the client can end.
		h1.WatchClient(r.Context())
		err = h.queueWait(rw.context(r.Context()), ts)
	}
	if err != nil {
		h.writeError(rw, r, err)
		return
	}
	h.forward(rw, r, traceID)
}

// forward sends the request to the app; it runs with a breaker slot held.
func (h *proxyHandler) forward(rw *respWriter, r *http.Request, traceID string) {
	appStart := time.Now()
	var cs clientSpan // tracing.go
	if h.tracer != nil {
		cs = h.tracer.startClient(r.Context(), r)
	}
	defer func() {
		h.breaker.Release()
		code := rw.code
		if code == 0 {
			code = http.StatusOK
		}
		cs.end(code)
		h.metrics.RecordAppRequest(code, time.Since(appStart), traceID)
	}()
	pruneRevisionHeaders(r.Header)
	shimForwarded(r.Header)
	if h.fast != nil && fastEligible(r) {
		if err := h.fast.do(rw, r, nil); err != nil {
			h.forwardError(rw, r, err)
		}
		return
	}
	out := r.WithContext(rw.context(r.Context()))
	if b := h1.NewBody(rw, r, h.env.Limits); b != nil && !smallBody(r) {
		rw.body, out.Body = b, b // writeError blames the client for its errors
	}
	if smallBody(r) {
		b, err := readSmallBody(rw, r, h.env.Limits.BodyIdleTimeout)
		if err != nil {
			h.forwardError(rw, r, err)
			return
		}
		if h.fast != nil && r.Method != http.MethodConnect {
			// Head and body in one write on a pooled connection, as a GET.
			if err := h.fast.do(rw, r, b); err != nil {
				h.forwardError(rw, r, err)
			}
			return
		}
		// An in-memory body lets the Transport write the request head and
		// body with one write (it flushes the head first for other readers).
		out.Body = io.NopCloser(bytes.NewReader(b))
	} else if h.fast != nil && rw.body != nil && h1.Streams(r) && h1.Forwards(r) {
		// Bodies over 16 KiB and chunked ones stream on a pooled
		// connection too, while the answer is read (full duplex: net/http
		// would drop the unread body at the first write otherwise; the
		// engine's server always allows it). 4-16 KiB stay on the
		// ReverseProxy, whose read of them ends with the request's timer.
		http.NewResponseController(rw).EnableFullDuplex()
		r.Body = rw.body
		if err := h.fast.do(rw, r, nil); err != nil {
			h.forwardError(rw, r, err)
		}
		return
	}
	h.rp.ServeHTTP(rw, out)
}

// The headers by which the gateway names the revision are for the
// activator and the queue-proxy: as Knative's queue-proxy does, they are
// removed before the app (and the app pays for none of them).
const (
	revisionHeader          = "Knative-Serving-Revision"
	revisionNamespaceHeader = "Knative-Serving-Namespace"
)

// The ReverseProxy drops these from the outgoing request before Rewrite;
// they go to the app as they came (and as shimForwarded set Forwarded).
var forwardedHeaders = [...]string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"}

func pruneRevisionHeaders(h http.Header) {
	delete(h, revisionHeader)
	delete(h, revisionNamespaceHeader)
}

// maxBufferedBody is the largest request body read ahead so that it goes to
// the app in the same write as the request head (the Transport's write
// buffer holds appWriteBuffer bytes).
const (
	maxBufferedBody = 4 << 10
	appWriteBuffer  = 8 << 10
)

var memBodyType = reflect.TypeOf(io.NopCloser(bytes.NewReader(nil)))

// smallBody: an HTTP/1 request body of known, small length that nobody waits
// on (no Expect: 100-continue, no upgrade).
func smallBody(r *http.Request) bool {
	if r.ProtoMajor != 1 || r.ContentLength <= 0 || r.ContentLength > maxBufferedBody ||
		r.Body == nil || r.Body == http.NoBody {
		return false
	}
	if _, ok := r.Header["Expect"]; ok {
		return false
	}
	if _, ok := r.Header["Upgrade"]; ok {
		return false
	}
	return true
}

// readSmallBody reads the whole body, bounded by the request's earliest
// deadline (none moves while nothing has been written, so a client that
// stalls mid-body still gets its 504 on time) and by the body idle timeout,
// which comes first when shorter: a stalled client's 408, as for any body.
func readSmallBody(rw *respWriter, r *http.Request, idle time.Duration) ([]byte, error) {
	rw.mu.Lock()
	next := rw.nextDeadlineLocked()
	rw.mu.Unlock()
	rc := http.NewResponseController(rw)
	idleFirst := false
	if idle > 0 {
		if at := nanotime() + int64(idle); at < next {
			next, idleFirst = at, true
		}
	}
	deadline := next != math.MaxInt64
	if deadline {
		rc.SetReadDeadline(monoBase.Add(time.Duration(next)))
	}
	b := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(r.Body, b); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) && !idleFirst {
			// The deadline stays: the server gives up on the rest of the
			// body at once and sends the 504 (then closes the connection).
			return nil, errRequestTimeout
		}
		return nil, &bodyError{err}
	}
	if deadline {
		rc.SetReadDeadline(time.Time{})
	}
	return b, nil
}

// forwardError handles a failure to get a response from the app.
func (h *proxyHandler) forwardError(rw *respWriter, r *http.Request, err error) {
	if rw.wroteHeader.Load() {
		// Too late for a status: abort so the client sees a broken response.
		panic(http.ErrAbortHandler)
	}
	code := h.writeError(rw, r, err)
	if code == http.StatusBadGateway {
		h.appDown.note(err)
	}
}

// writeError is the one place errors become HTTP responses.
func (h *proxyHandler) writeError(rw *respWriter, r *http.Request, err error) int {
	var code int
	var body string
	switch {
	case rw.timedOut.Load() || errors.Is(err, errRequestTimeout):
		code, body = http.StatusGatewayTimeout, "request timeout"
	case errors.Is(err, ErrRequestQueueFull):
		code, body = http.StatusServiceUnavailable, ErrRequestQueueFull.Error()
	case clientFault(rw, err) != 0:
		code = clientFault(rw, err)
		if code == h1.StatusClientClosed {
			rw.code = code
			return code
		}
		body = http.StatusText(code)
		if r.ContentLength != 0 {
			// The rest of the body is not worth reading (nor always
			// possible): the server closes instead.
			rw.Header().Set("Connection", "close")
		}
	case r.Context().Err() != nil:
		rw.code = statusClientClosed // nobody to answer
		return statusClientClosed
	default:
		code, body = http.StatusBadGateway, "app unreachable"
	}
	hdr := rw.Header()
	hdr.Del("Content-Length")
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	rw.WriteHeader(code)
	rw.Write([]byte(body + "\n"))
	return code
}

// statusError refuses a request with a client error status (a limit).
type statusError struct{ code int }

func (e *statusError) Error() string { return http.StatusText(e.code) }

// bodyError is a failure to read the client's request body.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return "read request body: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// clientFault is the 4xx (or 499) of a failure that is the client's doing:
// a refused head, a malformed, oversized, stalled or abandoned body. 0: not.
func clientFault(rw *respWriter, err error) int {
	var se *statusError
	if errors.As(err, &se) {
		return se.code
	}
	var be *bodyError
	if errors.As(err, &be) {
		return h1.ClientStatus(be.err)
	}
	return rw.body.ClientStatus()
}

func headerIs(h http.Header, key, want string) bool {
	v := h[key]
	return len(v) > 0 && v[0] == want
}

// traceIDOf returns the trace id of a W3C traceparent header, or "".
func traceIDOf(h http.Header) string {
	v := h["Traceparent"]
	if len(v) == 0 {
		return ""
	}
	tp := v[0]
	// version "-" trace-id(32) "-" parent-id(16) "-" flags(2)
	if len(tp) < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' {
		return ""
	}
	id := tp[3:35]
	zero := true
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return ""
		}
		if c != '0' {
			zero = false
		}
	}
	if zero {
		return ""
	}
	return id
}

// echoTraceparent returns the request's trace context to the client when
// the app did not set its own, so callers can find the trace.
func echoTraceparent(req, resp http.Header) {
	if _, ok := resp["Traceparent"]; ok {
		return
	}
	if v, ok := req["Traceparent"]; ok {
		resp["Traceparent"] = v
	}
}

// burstLog logs the first error of a burst (errors less than burstGap
// apart) so a down app costs one log line, not one per request.
type burstLog struct {
	log  *slog.Logger
	last atomic.Int64
	n    atomic.Int64
}

const burstGap = 5 * time.Second

func (b *burstLog) note(err error) {
	now := time.Now().UnixNano()
	prev := b.last.Swap(now)
	n := b.n.Add(1)
	if now-prev < int64(burstGap) {
		return
	}
	b.n.Store(0)
	if b.log != nil {
		b.log.Warn("app unreachable", "err", err, "suppressed", n-1)
	}
}
