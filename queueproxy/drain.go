package queueproxy

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ErrDrainReset is returned by Drain when Reset cancels a drain in progress.
var ErrDrainReset = errors.New("drain reset")

// Drainer fails health checks once draining starts and reports when no
// request has arrived for QuietPeriod, so that the instance is taken out of
// rotation before its servers shut down.
type Drainer struct {
	QuietPeriod time.Duration
	now         func() time.Time

	draining atomic.Bool
	lastReq  atomic.Int64 // unix ns of the latest request, kept only while draining

	mu    sync.Mutex
	reset chan struct{} // closed by Reset
}

// NewDrainer returns a drainer with the given quiet period.
func NewDrainer(quiet time.Duration) *Drainer {
	return &Drainer{QuietPeriod: quiet, now: time.Now, reset: make(chan struct{})}
}

// Draining reports whether a drain has started.
func (d *Drainer) Draining() bool { return d.draining.Load() }

// Touch notes a request; it costs one atomic load unless draining.
func (d *Drainer) Touch() {
	if d.draining.Load() {
		d.lastReq.Store(d.now().UnixNano())
	}
}

// Start begins draining if it has not begun.
func (d *Drainer) Start() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.draining.Load() {
		d.lastReq.Store(d.now().UnixNano())
		d.draining.Store(true)
	}
}

// Reset stops a drain (a PreStop hook not followed by termination).
func (d *Drainer) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.draining.Store(false)
	close(d.reset)
	d.reset = make(chan struct{})
}

// Drain starts draining and blocks until a full quiet period passes with no
// request, ctx ends, or Reset is called.
func (d *Drainer) Drain(ctx context.Context) error {
	d.Start()
	d.mu.Lock()
	reset := d.reset
	d.mu.Unlock()
	for {
		idle := d.now().Sub(time.Unix(0, d.lastReq.Load()))
		wait := d.QuietPeriod - idle
		if wait <= 0 {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-reset:
			t.Stop()
			return ErrDrainReset
		}
	}
}

// hijackTracker keeps the connections handed to upgraded (WebSocket)
// requests, which http.Server.Shutdown neither waits for nor closes.
type hijackTracker struct {
	mu    sync.Mutex
	conns map[*trackedConn]struct{}
}

func newHijackTracker() *hijackTracker {
	return &hijackTracker{conns: map[*trackedConn]struct{}{}}
}

type trackedConn struct {
	net.Conn
	t    *hijackTracker
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.t.mu.Lock()
		delete(c.t.conns, c)
		c.t.mu.Unlock()
	})
	return c.Conn.Close()
}

func (t *hijackTracker) track(c net.Conn, brw *bufio.ReadWriter) (net.Conn, *bufio.ReadWriter) {
	tc := &trackedConn{Conn: c, t: t}
	t.mu.Lock()
	t.conns[tc] = struct{}{}
	t.mu.Unlock()
	return tc, brw
}

// Len is the number of open hijacked connections.
func (t *hijackTracker) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns)
}

// Shutdown waits for hijacked connections to close, up to ctx, then closes
// whatever is left.
func (t *hijackTracker) Shutdown(ctx context.Context) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for t.Len() > 0 {
		select {
		case <-ctx.Done():
			t.mu.Lock()
			left := make([]*trackedConn, 0, len(t.conns))
			for c := range t.conns {
				left = append(left, c)
			}
			t.mu.Unlock()
			for _, c := range left {
				c.Close()
			}
			return
		case <-tick.C:
		}
	}
}
