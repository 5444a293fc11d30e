package h1

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrBodyTooLarge is a request body over Limits.MaxBodyBytes.
var ErrBodyTooLarge = errors.New("request body over the configured limit")

// StatusClientClosed is recorded (never sent) for a client that went away
// before its answer, as nginx does.
const StatusClientClosed = 499

// Body is a client's request body on its way to a backend. It enforces the
// size limit and the idle timeout and keeps the first read error, which is
// the client's doing: a forward that failed because of it is answered with
// ClientStatus, not blamed on the backend.
type Body struct {
	rc   io.ReadCloser
	w    http.ResponseWriter      // for Stop
	rc2  *http.ResponseController // nil: no idle timeout
	idle time.Duration
	left int64 // bytes still allowed; -1: no limit

	// deadline is the read deadline last set (zero: none). Read moves it
	// only once it lags by an eighth of idle: each move is a runtime timer
	// change, and may wake the netpoller, so not one per read.
	deadline time.Time

	mu     sync.Mutex // Read runs in the transport's goroutine
	err    error
	eof    bool                     // read to its end (Stop does nothing then)
	stopRC *http.ResponseController // Stop's, when there is no rc2

	stopped atomic.Bool // Stop was called
}

// errStopped: the body was not read to its end because the answer was out.
var errStopped = errors.New("request body no longer read: the answer was sent")

// NewBody wraps r.Body under l; w is the request's writer, for the idle
// timeout's read deadline. It returns nil for a request without a body.
func NewBody(w http.ResponseWriter, r *http.Request, l Limits) *Body {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	b := &Body{rc: r.Body, w: w, left: -1, idle: l.BodyIdleTimeout}
	if l.MaxBodyBytes > 0 {
		b.left = l.MaxBodyBytes
	}
	if b.idle > 0 {
		b.rc2 = http.NewResponseController(w)
	}
	return b
}

func (b *Body) Read(p []byte) (int, error) {
	if b.stopped.Load() {
		return 0, errStopped
	}
	if b.left >= 0 && int64(len(p)) > b.left+1 {
		p = p[:b.left+1] // one byte more tells "at the limit" from "past it"
	}
	if b.rc2 != nil {
		// A stall ends between idle and idle+idle/8 after the last read,
		// never earlier.
		if want := time.Now().Add(b.idle); want.Sub(b.deadline) > 0 {
			b.deadline = want.Add(b.idle / 8)
			b.rc2.SetReadDeadline(b.deadline)
			if b.stopped.Load() { // Stop's deadline may have come first
				b.rc2.SetReadDeadline(aLongTimeAgo)
			}
		}
	}
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF && b.stopped.Load() {
		return n, errStopped // Stop's deadline, not the client's doing
	}
	if b.left >= 0 {
		if int64(n) > b.left {
			n, err = int(b.left), ErrBodyTooLarge
		}
		b.left -= int64(n)
	}
	switch {
	case err == nil:
		return n, nil
	case err == io.EOF:
		// The server's own reads (its watch for a closed connection) must
		// not inherit the body's deadline, nor Stop's: that would end the
		// request before its answer is flushed. After other errors it
		// stays: the server then gives up on the rest of the body at once
		// instead of waiting to discard it.
		b.mu.Lock()
		b.eof = true
		if rc := b.rc2; rc != nil || b.stopped.Load() {
			if rc == nil {
				rc = b.stopRC
			}
			rc.SetReadDeadline(time.Time{})
			b.deadline = time.Time{}
		}
		b.mu.Unlock()
		return n, err
	}
	b.mu.Lock()
	if b.err == nil {
		b.err = err
	}
	b.mu.Unlock()
	return n, err
}

func (b *Body) Close() error { return b.rc.Close() }

// Stop ends a read of the body blocked on the client at once (the answer
// is out and the rest of the body is not wanted), through a read deadline
// in the past; the client's connection then closes after the answer.
func (b *Body) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.eof {
		return // read whole: nothing blocks on the client
	}
	b.stopped.Store(true)
	rc := b.rc2
	if rc == nil {
		b.stopRC = http.NewResponseController(b.w)
		rc = b.stopRC
	}
	rc.SetReadDeadline(aLongTimeAgo)
}

// Err is the first read error, nil if none.
func (b *Body) Err() error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// ClientStatus is the status a forward that failed gets because of the
// body: 413 over the limit, 408 stalled, 499 client gone, 400 malformed
// framing (a bad chunk size, a bare LF); 0 when reading the body did not
// fail.
func (b *Body) ClientStatus() int { return ClientStatus(b.Err()) } // nil b: 0

// ClientStatus classifies a request body read error (see Body.ClientStatus).
func ClientStatus(err error) int {
	switch {
	case err == nil, errors.Is(err, http.ErrBodyReadAfterClose):
		return 0
	case errors.Is(err, ErrBodyTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, os.ErrDeadlineExceeded):
		return http.StatusRequestTimeout
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return StatusClientClosed
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	// net/http's chunked reader reports bad framing with plain errors.
	return http.StatusBadRequest
}
