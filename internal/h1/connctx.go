package h1

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// connCtx is the context of every request on one Server connection: it
// ends when the client goes away. Unlike net/http, which starts a
// background read on the connection for every request to notice that,
// the watch starts only when someone needs it: a request queued in the
// breaker, or one still running after a sweep period (timeout.go). Short
// requests, nearly all of them, never pay for it.
type connCtx struct {
	c *conn

	mu       sync.Mutex
	done     chan struct{} // made on first Done
	err      error
	fns      []ctxFn
	onGone   func() // the fast path's one hook, set without allocating
	nextID   uint64
	watching bool
	active   bool          // a request is being served: watch may start
	stopped  chan struct{} // closed when the watch goroutine returns
}

// setActive marks the span in which watch may start; it ends before
// stopWatch, so that no watch (from the reaper, say) starts after it.
func (x *connCtx) setActive(on bool) {
	x.mu.Lock()
	x.active = on
	x.mu.Unlock()
}

type ctxFn struct {
	id uint64
	f  func()
}

type connCtxKey struct{}

func (x *connCtx) Deadline() (time.Time, bool) { return time.Time{}, false }

func (x *connCtx) Done() <-chan struct{} {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done == nil {
		x.done = make(chan struct{})
		if x.err != nil {
			close(x.done)
		}
	}
	return x.done
}

func (x *connCtx) Err() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.err
}

func (x *connCtx) Value(key any) any {
	switch key {
	case connCtxKey{}:
		return x
	case http.LocalAddrContextKey:
		return x.c.nc.LocalAddr()
	}
	return nil
}

// AfterFunc lets context.AfterFunc and derived contexts register without a
// goroutine each (the context package looks for this method).
func (x *connCtx) AfterFunc(f func()) (stop func() bool) {
	x.mu.Lock()
	if x.err != nil {
		x.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	x.nextID++
	id := x.nextID
	x.fns = append(x.fns, ctxFn{id: id, f: f})
	x.mu.Unlock()
	return func() bool { return x.remove(id) }
}

func (x *connCtx) remove(id uint64) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	for i, fn := range x.fns {
		if fn.id == id {
			x.fns = append(x.fns[:i], x.fns[i+1:]...)
			return true
		}
	}
	return false
}

// gone ends the context: the client closed its side of the connection.
func (x *connCtx) gone() {
	x.mu.Lock()
	if x.err != nil {
		x.mu.Unlock()
		return
	}
	x.err = context.Canceled
	if x.done != nil {
		close(x.done)
	}
	fns, onGone := x.fns, x.onGone
	x.fns, x.onGone = nil, nil
	x.mu.Unlock()
	if onGone != nil {
		onGone()
	}
	for _, fn := range fns {
		fn.f()
	}
}

// setOnGone sets (or, with nil, clears) the fast path's hook.
func (x *connCtx) setOnGone(f func()) {
	x.mu.Lock()
	gone := x.err != nil
	if !gone {
		x.onGone = f
	}
	x.mu.Unlock()
	if gone && f != nil {
		f()
	}
}

// endRequest drops registrations a request left behind (none should).
func (x *connCtx) endRequest() {
	x.mu.Lock()
	clear(x.fns)
	x.fns, x.onGone = x.fns[:0], nil
	x.mu.Unlock()
}

// watch starts reading the connection in the background so that a client
// going away ends the context. A byte that arrives instead (a pipelined
// request) is kept for the next read.
func (x *connCtx) watch() {
	c := x.c
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.active || x.watching || x.err != nil || c.bodyOpen.Load() || c.br.Buffered() > 0 || c.cr.pending {
		return
	}
	x.watching = true
	x.stopped = make(chan struct{})
	stopped := x.stopped
	go func() {
		defer close(stopped)
		n, err := c.nc.Read(c.cr.buf[:])
		if n == 1 {
			c.cr.pending = true
			return
		}
		if err != nil && !c.cr.aborting.Load() {
			x.gone()
		}
	}()
}

// stopWatch ends a background read before the connection reads again.
func (x *connCtx) stopWatch() {
	x.mu.Lock()
	watching, stopped := x.watching, x.stopped
	x.watching, x.stopped = false, nil
	x.mu.Unlock()
	if !watching {
		return
	}
	c := x.c
	c.cr.aborting.Store(true)
	c.nc.SetReadDeadline(aLongTimeAgo)
	<-stopped
	c.nc.SetReadDeadline(time.Time{})
	c.cr.aborting.Store(false)
}

// WatchClient starts the client watch of an Server request; it does
// nothing for requests net/http serves (they are always watched).
func WatchClient(ctx context.Context) {
	if x, ok := ctx.Value(connCtxKey{}).(*connCtx); ok {
		x.watch()
	}
}

// SetOnGone makes f run when the client of ctx's connection goes away, or
// clears it (f nil), without allocating. It reports false when ctx is not
// a Server connection's: the caller uses context.AfterFunc instead.
func SetOnGone(ctx context.Context, f func()) bool {
	x, ok := ctx.Value(connCtxKey{}).(*connCtx)
	if ok {
		x.setOnGone(f)
	}
	return ok
}
