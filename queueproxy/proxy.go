package queueproxy

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync/atomic"
	"time"
)

// statusClientClosed records requests whose client went away before any
// response (nginx's 499): they are not the app's failures, so they must not
// show up as 5xx in error-rate alerts.
const statusClientClosed = 499

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
	h2c      bool // proxy to the app with prior-knowledge HTTP/2 (gRPC)
}

// proxyHandler is the data path: probes are answered first, then the
// request is counted, timed, admitted by the breaker and forwarded.
type proxyHandler struct {
	handlerDeps
	fast    *fastClient // nil: always use rp
	rp      *httputil.ReverseProxy
	appDown burstLog
}

// buildHandler assembles the data path for one listener.
func buildHandler(d handlerDeps, transport http.RoundTripper) *proxyHandler {
	h := &proxyHandler{handlerDeps: d}
	h.appDown.log = d.log
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(d.env.UserPort))
	if !d.h2c {
		h.fast = newFastClient(addr, maxIdle(d.env.ContainerConcurrency))
	}
	h.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = addr
			pr.Out.Host = pr.In.Host
			// Pass the gateway's X-Forwarded-For through instead of rebuilding it.
			if v, ok := pr.In.Header["X-Forwarded-For"]; ok {
				pr.Out.Header["X-Forwarded-For"] = v
			}
		},
		Transport:     transport,
		FlushInterval: -1, // streams (gRPC, SSE) must not be held back
		BufferPool:    bufPool{},
		ModifyResponse: func(resp *http.Response) error {
			echoTraceparent(resp.Request.Header, resp.Header)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			h.forwardError(w.(*respWriter), r.Context(), r, err)
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
	if k := classifyProbe(r); k != notProbe {
		serveProbe(w, r, k, h.drainer, h.prober)
		return
	}
	h.drainer.Touch()
	start := time.Now()
	proxied := headerIs(r.Header, proxyHeader, proxyValue)
	shard := h.stats.In(start, proxied)
	rw := getRespWriter(w, h.tracker)
	ctx, timers := h.timeouts.start(r.Context(), rw)
	traceID := traceIDOf(r.Header)
	tag := r.Header.Get(tagHeader)
	// Deferred so that an aborted response (panic(http.ErrAbortHandler)) still
	// releases everything it took.
	defer func() {
		timers.stop(rw)
		end := time.Now()
		h.stats.Out(end, shard, proxied)
		code := rw.code
		if code == 0 {
			code = http.StatusOK
		}
		h.metrics.RecordRequest(tag, code, end.Sub(start), traceID)
		putRespWriter(rw)
	}()

	if err := h.breaker.Acquire(ctx); err != nil {
		h.writeError(rw, ctx, r, err)
		return
	}
	h.forward(rw, r, ctx, traceID)
}

// forward sends the request to the app; it runs with a breaker slot held.
func (h *proxyHandler) forward(rw *respWriter, r *http.Request, ctx context.Context, traceID string) {
	appStart := time.Now()
	defer func() {
		h.breaker.Release()
		code := rw.code
		if code == 0 {
			code = http.StatusOK
		}
		h.metrics.RecordAppRequest(code, time.Since(appStart), traceID)
	}()
	if h.fast != nil && fastEligible(r) {
		if err := h.fast.do(ctx, rw, r); err != nil {
			h.forwardError(rw, ctx, r, err)
		}
		return
	}
	h.rp.ServeHTTP(rw, r.WithContext(ctx))
}

// forwardError handles a failure to get a response from the app.
func (h *proxyHandler) forwardError(rw *respWriter, ctx context.Context, r *http.Request, err error) {
	if rw.wroteHeader.Load() {
		// Too late for a status: abort so the client sees a broken response.
		panic(http.ErrAbortHandler)
	}
	code := h.writeError(rw, ctx, r, err)
	if code == http.StatusBadGateway {
		h.appDown.note(err)
	}
}

// writeError is the one place errors become HTTP responses.
func (h *proxyHandler) writeError(rw *respWriter, ctx context.Context, r *http.Request, err error) int {
	var code int
	var body string
	switch {
	case isTimeout(ctx):
		code, body = http.StatusGatewayTimeout, "request timeout"
	case errors.Is(err, ErrRequestQueueFull):
		code, body = http.StatusServiceUnavailable, ErrRequestQueueFull.Error()
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
