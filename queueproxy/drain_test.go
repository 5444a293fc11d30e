package queueproxy

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Requests accepted before ctx is cancelled all complete, including slow
// ones still running when the servers shut down, and health turns 503.
func TestDrainUnderLoad(t *testing.T) {
	q := startQP(t, testEnv(startApp(t), "CONTAINER_CONCURRENCY", "4"), "--drain-quiet-period=300ms")
	waitReady(t, q)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var ok, failed atomic.Int32
	var wg sync.WaitGroup
	stopLoad := make(chan struct{})
	// Steady load until shortly after the cancel.
	for range 6 {
		wg.Go(func() {
			for {
				select {
				case <-stopLoad:
					return
				default:
				}
				resp, err := client.Get(q.url(q.HTTP, "/?sleep=5"))
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
					if err == nil {
						resp.Body.Close()
					}
					continue
				}
				resp.Body.Close()
				ok.Add(1)
			}
		})
	}
	// Slow requests that outlive the quiet period, some waiting in the breaker.
	for range 8 {
		wg.Go(func() {
			resp, err := client.Get(q.url(q.HTTP, "/?sleep=700"))
			if err != nil || resp.StatusCode != 200 {
				t.Errorf("slow request: %v %v", err, resp)
				failed.Add(1)
				return
			}
			resp.Body.Close()
			ok.Add(1)
		})
	}
	time.Sleep(200 * time.Millisecond)
	q.cancel()
	time.Sleep(100 * time.Millisecond)
	if code, body := get(t, client, q.url(q.HTTP, "/"), "K-Network-Probe", "queue"); code != 503 || body != "shutting down\n" {
		t.Errorf("health while draining: %d %q", code, body)
	}
	close(stopLoad)
	wg.Wait()
	select {
	case <-q.exited:
		if q.err != nil {
			t.Fatalf("Main: %v", q.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Main did not return")
	}
	if failed.Load() != 0 || ok.Load() < 10 {
		t.Fatalf("ok=%d failed=%d", ok.Load(), failed.Load())
	}
}

func TestDrainerQuietPeriod(t *testing.T) {
	d := NewDrainer(150 * time.Millisecond)
	start := time.Now()
	done := make(chan error)
	go func() { done <- d.Drain(context.Background()) }()
	for range 5 { // each request restarts the quiet period
		time.Sleep(50 * time.Millisecond)
		d.Touch()
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 400*time.Millisecond {
		t.Fatalf("drained after %v, before the last request's quiet period", el)
	}
	if !d.Draining() {
		t.Fatal("not draining")
	}
	go func() { done <- d.Drain(context.Background()) }()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// /wait-for-drain without a following termination undoes the drain.
func TestWaitForDrainReset(t *testing.T) {
	q := startQP(t, testEnv(startApp(t)), "--drain-quiet-period=1500ms")
	waitReady(t, q)
	done := make(chan int)
	go func() { c, _ := get(t, nil, q.url(q.Admin, "/wait-for-drain")); done <- c }()
	time.Sleep(200 * time.Millisecond)
	if code, _ := get(t, nil, q.url(q.HTTP, "/"), "K-Network-Probe", "queue"); code != 503 {
		t.Errorf("health during drain: %d", code)
	}
	<-done
	if code, _ := get(t, nil, q.url(q.HTTP, "/"), "K-Network-Probe", "queue"); code != 200 {
		t.Errorf("health after reset: %d", code)
	}
}
