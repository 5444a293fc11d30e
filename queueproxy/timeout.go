package queueproxy

import (
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gantry-dev/gantry/internal/h1"
)

// errRequestTimeout is the cancel cause of every timer below; it maps to 504.
var errRequestTimeout = errors.New("request timeout")

// Timeouts are the revision's request timers; zero disables a timer.
type Timeouts struct {
	Overall       time.Duration // from arrival to the end of the response
	ResponseStart time.Duration // from arrival to the first byte of the response
	Idle          time.Duration // between two writes of the response
}

// The three timers of a request are folded into one runtime timer that
// belongs to the pooled respWriter, and most requests never arm even that:
//
//   - a request records its deadlines and joins the handler's sweep list
//     (a sharded intrusive list: no allocation). A sweep runs every
//     sweepPeriod while requests are in flight and arms the precise timer of
//     each request it finds the second time, so one that has run for at
//     least a whole period. Requests that end within a sweep period -
//     nearly all of them - never touch the runtime's timer heap, whose
//     Reset/Stop costs (and the wake-ups of idle threads that come with them)
//     were a large part of the proxy's CPU. A request whose earliest deadline
//     is closer than 3·sweepPeriod arms its timer at once, so deadlines are
//     met exactly as with one timer per request;
//   - the armed timer fires at the earliest pending deadline, re-checks every
//     deadline against the clock and either ends the request or re-arms for
//     the next one. Writes only store a timestamp (for the idle timer)
//     instead of resetting a timer each;
//   - ending a request marks it timed out, cancels its context if one was
//     derived (breaker wait, ReverseProxy path) and aborts the blocking I/O
//     on the fast path's app connection;
//   - the callbacks (timer, sweep and client gone) carry no per-request data:
//     they act on whatever request the writer holds at the time, after
//     checking that request's own state under rw.mu. A callback that runs
//     late, after the writer was recycled, therefore finds a request that is
//     not due and does nothing harmful.

// monoBase anchors nanotime; time.Since on it reads only the monotonic clock.
var monoBase = time.Now()

func nanotime() int64 { return int64(time.Since(monoBase)) }

const sweepPeriod = 50 * time.Millisecond

// start arms the request's timers; the request arrived at start (nanotime).
func (t Timeouts) start(rw *respWriter, r *http.Request, start int64, sw *sweeper) {
	rw.mu.Lock()
	rw.active = true
	rw.req = r
	rw.overallAt, rw.startAt, rw.idleAfter = 0, 0, 0
	next := int64(math.MaxInt64)
	if t.Overall > 0 {
		rw.overallAt = start + int64(t.Overall)
		next = rw.overallAt
	}
	if t.ResponseStart > 0 && (t.Overall <= 0 || t.ResponseStart < t.Overall) {
		rw.startAt = start + int64(t.ResponseStart)
		next = min(next, rw.startAt)
	}
	if t.Idle > 0 {
		rw.idleAfter = int64(t.Idle)
		rw.lastWrite.Store(start)
		next = min(next, start+rw.idleAfter)
	}
	// Requests with no deadline join the sweep too: a sweep also starts
	// the client watch of the requests it finds (h1ctx.go).
	sweep := false
	if next != math.MaxInt64 && (sw == nil || next-start < int64(3*sweepPeriod)) {
		rw.armLocked(next - start)
	} else if sw != nil {
		sweep = true
	}
	rw.mu.Unlock()
	if sweep {
		sw.add(rw)
	}
}

// armLocked starts the request's precise timer.
func (rw *respWriter) armLocked(d int64) {
	rw.armed = true
	if rw.timer == nil {
		rw.timer = time.AfterFunc(time.Duration(d), rw.onTimer)
	} else {
		rw.timer.Reset(time.Duration(d))
	}
}

// sweeper hands the requests that outlive a sweep period to their timers.
type sweeper struct {
	shards  [sweepShards]sweepShard
	next    atomic.Uint32
	running atomic.Bool
	timer   *time.Timer
}

const sweepShards = 8

type sweepShard struct {
	mu   sync.Mutex
	head *respWriter
	n    int
	_    [40]byte
}

func newSweeper() *sweeper {
	s := &sweeper{}
	s.timer = time.AfterFunc(time.Hour, s.sweep)
	s.timer.Stop()
	return s
}

func (s *sweeper) add(rw *respWriter) {
	i := s.next.Add(1) % sweepShards
	rw.sweepIdx = int(i)
	sh := &s.shards[i]
	sh.mu.Lock()
	rw.listed, rw.seen = true, false
	rw.sweepPrev, rw.sweepNext = nil, sh.head
	if sh.head != nil {
		sh.head.sweepPrev = rw
	}
	sh.head = rw
	sh.n++
	sh.mu.Unlock()
	if !s.running.Load() && s.running.CompareAndSwap(false, true) {
		s.timer.Reset(sweepPeriod)
	}
}

func (s *sweeper) remove(rw *respWriter) {
	sh := &s.shards[rw.sweepIdx]
	sh.mu.Lock()
	if !rw.listed {
		sh.mu.Unlock()
		return
	}
	sh.unlinkLocked(rw)
	sh.mu.Unlock()
}

// unlinkLocked takes rw off sh's list; sh.mu is held.
func (sh *sweepShard) unlinkLocked(rw *respWriter) {
	if rw.sweepPrev != nil {
		rw.sweepPrev.sweepNext = rw.sweepNext
	} else {
		sh.head = rw.sweepNext
	}
	if rw.sweepNext != nil {
		rw.sweepNext.sweepPrev = rw.sweepPrev
	}
	sh.n--
	rw.listed, rw.sweepPrev, rw.sweepNext = false, nil, nil
}

// sweep marks the listed requests it finds for the first time; those it
// finds again have run for a whole period at least: it arms their timers,
// starts their client watches and takes them off the list. Handing over
// at the first sighting would arm and watch requests a few microseconds
// old, under load some fifty per sweep, nearly all of them about to end.
// It runs every sweepPeriod while requests are listed.
func (s *sweeper) sweep() {
	now := nanotime()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for rw := sh.head; rw != nil; {
			next := rw.sweepNext
			if !rw.seen {
				rw.seen = true
				rw = next
				continue
			}
			rw.mu.Lock()
			if rw.active {
				if d := rw.nextDeadlineLocked(); !rw.armed && d != math.MaxInt64 {
					rw.armLocked(max(d-now, 1))
				}
				// Still running after a sweep period: worth noticing a
				// client that goes away.
				h1.WatchClient(rw.req.Context())
			}
			rw.mu.Unlock()
			sh.unlinkLocked(rw)
			rw = next
		}
		sh.mu.Unlock()
	}
	s.running.Store(false)
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n := sh.n
		sh.mu.Unlock()
		if n > 0 {
			if s.running.CompareAndSwap(false, true) {
				s.timer.Reset(sweepPeriod)
			}
			return
		}
	}
}

// nextDeadlineLocked is the earliest pending deadline (nanotime).
func (rw *respWriter) nextDeadlineLocked() int64 {
	next := int64(math.MaxInt64)
	if rw.overallAt > 0 {
		next = rw.overallAt
	}
	if rw.startAt > 0 && !rw.wroteHeader.Load() {
		next = min(next, rw.startAt)
	}
	if rw.idleAfter > 0 && !rw.hijacked.Load() {
		next = min(next, rw.lastWrite.Load()+rw.idleAfter)
	}
	return next
}

// stop ends the request's timers and its derived context, if any.
func (rw *respWriter) stopTimers(sw *sweeper) {
	if sw != nil {
		sw.remove(rw)
	}
	rw.mu.Lock()
	rw.active = false
	rw.req = nil
	if rw.armed {
		rw.timer.Stop()
		rw.armed = false
	}
	if rw.cancel != nil {
		rw.cancel(context.Canceled)
		rw.ctx, rw.cancel = nil, nil
	}
	rw.mu.Unlock()
}

// onTimer runs when the earliest deadline may have passed.
func (rw *respWriter) onTimer() {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if !rw.active || rw.timedOut.Load() {
		return
	}
	now := nanotime()
	next := int64(math.MaxInt64)
	due := func(at int64) bool {
		if now >= at {
			return true
		}
		next = min(next, at)
		return false
	}
	expired := rw.overallAt > 0 && due(rw.overallAt)
	if rw.startAt > 0 && !rw.wroteHeader.Load() && due(rw.startAt) {
		expired = true
	}
	if rw.idleAfter > 0 && !rw.hijacked.Load() && due(rw.lastWrite.Load()+rw.idleAfter) {
		expired = true
	}
	if expired {
		rw.timedOut.Store(true)
		if rw.cancel != nil {
			rw.cancel(errRequestTimeout)
		}
		rw.abortAppLocked()
		return
	}
	if next != math.MaxInt64 {
		rw.timer.Reset(time.Duration(next - now))
	}
}

// context returns the request's context, which ends when the client goes
// away or a timer fires (cause errRequestTimeout). It is derived on first
// use only: the fast path never needs one.
func (rw *respWriter) context(parent context.Context) context.Context {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.ctx == nil {
		rw.ctx, rw.cancel = context.WithCancelCause(parent)
		if rw.timedOut.Load() {
			rw.cancel(errRequestTimeout)
		}
	}
	return rw.ctx
}

// attachApp makes c's blocking I/O end when the request does (timer or
// client gone); false means the request has already ended.
func (rw *respWriter) attachApp(c net.Conn) bool {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.timedOut.Load() || rw.req.Context().Err() != nil {
		return false
	}
	rw.app, rw.appAborted = c, false
	return true
}

// detachApp undoes attachApp; false means c was aborted meanwhile (its
// deadline is in the past, so it must not be reused).
func (rw *respWriter) detachApp() bool {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	rw.app = nil
	return !rw.appAborted
}

func (rw *respWriter) abortAppLocked() {
	if rw.app != nil && !rw.appAborted {
		rw.app.SetDeadline(aLongTimeAgo)
		rw.appAborted = true
	}
}

// onClientGone runs (via context.AfterFunc) when a request context ends.
func (rw *respWriter) onClientGone() {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.active && rw.req.Context().Err() != nil {
		rw.abortAppLocked()
	}
}

// ended reports whether the request ended before its response: a timer
// fired or the client went away.
func (rw *respWriter) ended() bool {
	return rw.timedOut.Load() || rw.req.Context().Err() != nil
}

// isTimeout reports whether ctx was ended by one of the request timers.
func isTimeout(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errRequestTimeout)
}
