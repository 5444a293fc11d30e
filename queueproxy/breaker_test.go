package queueproxy

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestBreakerNilAdmitsAll(t *testing.T) {
	var b *Breaker = NewBreaker(0)
	if b != nil {
		t.Fatal("cc=0 must mean no breaker")
	}
	if err := b.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.Release()
}

func TestBreakerOverflowAndFIFO(t *testing.T) {
	b := NewBreaker(1) // 1 running + 10 waiting
	ctx := context.Background()
	if err := b.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	var order []int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if err := b.Acquire(ctx); err != nil {
				t.Errorf("waiter %d: %v", i, err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			b.Release()
		})
		for b.InFlight() != int64(2+i) { // enqueue in a known order
			time.Sleep(time.Millisecond)
		}
	}
	if err := b.Acquire(ctx); !errors.Is(err, ErrRequestQueueFull) {
		t.Fatalf("12th request: got %v, want ErrRequestQueueFull", err)
	}
	b.Release()
	wg.Wait()
	for i, v := range order {
		if v != i {
			t.Fatalf("waiters ran in order %v, want FIFO", order)
		}
	}
	if n := b.InFlight(); n != 0 {
		t.Fatalf("InFlight = %d after all released", n)
	}
}

func TestBreakerWaiterLeavesOnCancel(t *testing.T) {
	b := NewBreaker(1)
	if err := b.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() { errc <- b.Acquire(ctx) }()
	for b.InFlight() != 2 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if n := b.InFlight(); n != 1 {
		t.Fatalf("InFlight = %d, want 1 after the waiter left", n)
	}
	b.Release()
}

// The breaker through real sockets: CC=1 with a slow app admits 1 running
// plus 10 waiting, and exactly the rest get 503 at once.
func TestBreakerOverflowThroughProxy(t *testing.T) {
	q := startQP(t, testEnv(startApp(t), "CONTAINER_CONCURRENCY", "1"))
	waitReady(t, q)
	const total = 16
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: total}}
	var c200, c503, other atomic.Int32
	var wg sync.WaitGroup
	// The first request holds the slot long enough for all others to arrive.
	first := make(chan struct{})
	wg.Go(func() {
		close(first)
		if code, _ := get(t, client, q.url(q.HTTP, "/?sleep=1500")); code == 200 {
			c200.Add(1)
		} else {
			other.Add(1)
		}
	})
	<-first
	time.Sleep(100 * time.Millisecond)
	for range total - 1 {
		wg.Go(func() {
			switch code, body := get(t, client, q.url(q.HTTP, "/?sleep=10")); code {
			case 200:
				c200.Add(1)
			case 503:
				if body != "pending request queue full\n" {
					t.Errorf("503 body %q", body)
				}
				c503.Add(1)
			default:
				other.Add(1)
			}
		})
	}
	wg.Wait()
	if c200.Load() != 11 || c503.Load() != total-11 || other.Load() != 0 {
		t.Fatalf("200s=%d 503s=%d other=%d, want 11, %d, 0", c200.Load(), c503.Load(), other.Load(), total-11)
	}
}
