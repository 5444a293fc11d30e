package queueproxy

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// respWriter is the one wrapper every proxied request gets: it records the
// status for metrics, tells the timers whether the response has started,
// resets the idle timer on writes and tracks hijacked connections. Pooled.
type respWriter struct {
	w           http.ResponseWriter
	code        int
	wroteHeader atomic.Bool // read by the response-start timer
	hijacked    bool
	idle        *time.Timer
	idleAfter   time.Duration
	tracker     *hijackTracker
}

var respWriterPool = sync.Pool{New: func() any { return new(respWriter) }}

func getRespWriter(w http.ResponseWriter, t *hijackTracker) *respWriter {
	rw := respWriterPool.Get().(*respWriter)
	rw.w, rw.tracker = w, t
	return rw
}

func putRespWriter(rw *respWriter) {
	*rw = respWriter{wroteHeader: atomic.Bool{}}
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
	if rw.idle != nil {
		rw.idle.Reset(rw.idleAfter)
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
	rw.hijacked = true
	if rw.idle != nil {
		rw.idle.Stop()
	}
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
