package queueproxy

import (
	"context"
	"errors"
	"sync/atomic"
)

// ErrRequestQueueFull is returned when the breaker has no slot and no room to wait.
var ErrRequestQueueFull = errors.New("pending request queue full")

// Breaker lets at most Capacity requests run at once and up to QueueDepth
// more wait, first come first served; anything beyond that fails at once.
// A nil *Breaker admits everything (containerConcurrency 0).
type Breaker struct {
	total    int64         // capacity + queue depth
	inFlight atomic.Int64  // admitted: running plus waiting
	sem      chan struct{} // one token per running request
}

// NewBreaker returns a breaker for containerConcurrency cc, with Knative's
// queue depth of 10·cc, or nil when cc <= 0.
func NewBreaker(cc int) *Breaker {
	if cc <= 0 {
		return nil
	}
	return &Breaker{total: int64(11 * cc), sem: make(chan struct{}, cc)}
}

// Acquire waits for a slot. It fails with ErrRequestQueueFull when the queue
// is full, or with the context's error when ctx ends first; only a nil error
// must be paired with Release.
func (b *Breaker) Acquire(ctx context.Context) error {
	admitted, err := b.tryAcquire()
	if admitted || err != nil {
		return err
	}
	return b.wait(ctx)
}

// tryAcquire is Acquire without waiting: admitted, or ErrRequestQueueFull,
// or neither, and then the caller is queued and must call wait.
func (b *Breaker) tryAcquire() (admitted bool, err error) {
	if b == nil {
		return true, nil
	}
	for {
		n := b.inFlight.Load()
		if n >= b.total {
			return false, ErrRequestQueueFull
		}
		if b.inFlight.CompareAndSwap(n, n+1) {
			break
		}
	}
	select {
	case b.sem <- struct{}{}:
		return true, nil
	default:
		return false, nil
	}
}

// wait blocks a request queued by tryAcquire until it gets a slot or ctx ends.
func (b *Breaker) wait(ctx context.Context) error {
	// Blocked senders on a channel are woken in arrival order, which gives
	// the queue its FIFO order; a released token goes straight to the oldest.
	select {
	case b.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		b.inFlight.Add(-1)
		return context.Cause(ctx)
	}
}

// Release frees the slot taken by a successful Acquire.
func (b *Breaker) Release() {
	if b == nil {
		return
	}
	<-b.sem
	b.inFlight.Add(-1)
}

// InFlight is the number of admitted requests, running or waiting.
func (b *Breaker) InFlight() int64 {
	if b == nil {
		return 0
	}
	return b.inFlight.Load()
}

// Capacity is the number of requests allowed to run at once.
func (b *Breaker) Capacity() int {
	if b == nil {
		return 0
	}
	return cap(b.sem)
}
