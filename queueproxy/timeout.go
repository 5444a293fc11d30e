package queueproxy

import (
	"context"
	"errors"
	"time"
)

// errRequestTimeout is the cancel cause of every timer below; it maps to 504.
var errRequestTimeout = errors.New("request timeout")

// Timeouts are the revision's request timers; zero disables a timer.
type Timeouts struct {
	Overall       time.Duration // from arrival to the end of the response
	ResponseStart time.Duration // from arrival to the first byte of the response
	Idle          time.Duration // between two writes of the response
}

// requestTimers is what start returns: call stop when the request ends.
type requestTimers struct {
	cancel   context.CancelCauseFunc
	deadline context.CancelFunc
	start    *time.Timer
}

// start derives the request context. The overall timer rides on the context
// deadline; the response-start and idle timers, which depend on what has
// been written, cancel it with the same cause.
func (t Timeouts) start(parent context.Context, rw *respWriter) (context.Context, requestTimers) {
	var ctx context.Context
	var rt requestTimers
	ctx, rt.cancel = context.WithCancelCause(parent)
	if t.Overall > 0 {
		ctx, rt.deadline = context.WithDeadlineCause(ctx, time.Now().Add(t.Overall), errRequestTimeout)
	}
	cancel := rt.cancel
	if t.ResponseStart > 0 && (t.Overall <= 0 || t.ResponseStart < t.Overall) {
		rt.start = time.AfterFunc(t.ResponseStart, func() {
			if !rw.wroteHeader.Load() {
				cancel(errRequestTimeout)
			}
		})
	}
	if t.Idle > 0 {
		rw.idleAfter = t.Idle
		rw.idle = time.AfterFunc(t.Idle, func() { cancel(errRequestTimeout) })
	}
	return ctx, rt
}

func (rt requestTimers) stop(rw *respWriter) {
	if rt.start != nil {
		rt.start.Stop()
	}
	if rw.idle != nil {
		rw.idle.Stop()
	}
	if rt.deadline != nil {
		rt.deadline()
	}
	rt.cancel(context.Canceled)
}

// isTimeout reports whether ctx was ended by one of the request timers.
func isTimeout(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errRequestTimeout)
}
