package queueproxy

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gantry-dev/gantry/internal/h1"
)

// respWriter is the one wrapper every proxied request gets: it records the
// status for metrics, tells the timers whether the response has started,
// notes writes for the idle timer and tracks hijacked connections. It also
// holds the request's timer state (timeout.go). Pooled, timer included.
type respWriter struct {
	w           http.ResponseWriter
	code        int
	wroteHeader atomic.Bool // read by the timer
	hijacked    atomic.Bool // read by the timer
	tracker     *hijackTracker
	lastWrite   atomic.Int64 // nanotime of the last Write (or of arrival)
	idleAfter   int64        // 0: no idle timer; set before the request runs
	timedOut    atomic.Bool  // a timer ended the request
	body        *h1.Body     // the client's body as forwarded; nil: none

	mu         sync.Mutex // guards the fields below against the callbacks
	active     bool       // a request is using the writer
	req        *http.Request
	overallAt  int64       // nanotime deadlines, 0: none
	startAt    int64       // response-start deadline, 0: none
	timer      *time.Timer // kept across requests
	ctx        context.Context
	cancel     context.CancelCauseFunc
	app        net.Conn // fast path: connection to abort when the request ends
	appAborted bool
	armed      bool   // timer started for this request
	goneFn     func() // rw.onClientGone, made once

	// sweeper list membership, guarded by the shard's lock
	listed               bool
	seen                 bool // found by a sweep once already
	sweepPrev, sweepNext *respWriter
	sweepIdx             int // shard; written only by the request's goroutine
}

var respWriterPool = sync.Pool{New: func() any {
	rw := new(respWriter)
	rw.goneFn = rw.onClientGone
	return rw
}}

func getRespWriter(w http.ResponseWriter, t *hijackTracker) *respWriter {
	rw := respWriterPool.Get().(*respWriter)
	rw.w, rw.tracker = w, t
	return rw
}

// putRespWriter recycles rw once its timers are stopped.
func putRespWriter(rw *respWriter) {
	rw.mu.Lock()
	rw.idleAfter = 0
	rw.mu.Unlock()
	rw.w, rw.tracker, rw.code, rw.body = nil, nil, 0, nil
	rw.wroteHeader.Store(false)
	rw.hijacked.Store(false)
	rw.timedOut.Store(false)
	respWriterPool.Put(rw)
}

func (rw *respWriter) Header() http.Header { return rw.w.Header() }

func (rw *respWriter) WriteHeader(code int) {
	if rw.wroteHeader.Load() {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		rw.w.WriteHeader(code) // informational: the real status is still to come
		return
	}
	rw.code = code
	rw.wroteHeader.Store(true)
	rw.w.WriteHeader(code)
}

func (rw *respWriter) Write(b []byte) (int, error) {
	if !rw.wroteHeader.Load() {
		rw.WriteHeader(http.StatusOK)
	}
	if rw.idleAfter > 0 {
		rw.lastWrite.Store(nanotime())
	}
	return rw.w.Write(b)
}

func (rw *respWriter) Flush() {
	if !rw.wroteHeader.Load() {
		rw.WriteHeader(http.StatusOK)
	}
	if f, ok := rw.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack hands the connection over (WebSocket): the response-start and idle
// timers no longer mean anything, and the connection is tracked for drain.
func (rw *respWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := rw.w.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("queueproxy: connection cannot be hijacked")
	}
	c, brw, err := h.Hijack()
	if err != nil {
		return nil, nil, err
	}
	rw.hijacked.Store(true)
	if !rw.wroteHeader.Load() {
		rw.code = http.StatusSwitchingProtocols
		rw.wroteHeader.Store(true)
	}
	if rw.tracker != nil {
		c, brw = rw.tracker.track(c, brw)
	}
	return c, brw, nil
}

// Unwrap lets http.ResponseController reach the server's writer.
func (rw *respWriter) Unwrap() http.ResponseWriter { return rw.w }
