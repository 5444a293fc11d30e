package queueproxy

import (
	"net/http/httptest"
	"testing"
	"time"
)

func TestTimeouts(t *testing.T) {
	app := startApp(t)
	for _, tc := range []struct {
		name string
		env  []string
		path string
		code int
	}{
		{"overall", []string{"REVISION_TIMEOUT_SECONDS", "1"}, "/?sleep=3000", 504},
		{"response start", []string{"REVISION_RESPONSE_START_TIMEOUT_SECONDS", "1"}, "/?sleep=3000", 504},
		{"idle", []string{"REVISION_IDLE_TIMEOUT_SECONDS", "1"}, "/?sleep=3000", 504},
		{"within limits", []string{"REVISION_TIMEOUT_SECONDS", "2", "REVISION_IDLE_TIMEOUT_SECONDS", "1"}, "/?sleep=200&bytes=100000", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q := startQP(t, testEnv(app, tc.env...))
			waitReady(t, q)
			start := time.Now()
			code, body := get(t, nil, q.url(q.HTTP, tc.path))
			if code != tc.code {
				t.Fatalf("got %d %q, want %d", code, body, tc.code)
			}
			if code == 504 {
				if body != "request timeout\n" {
					t.Errorf("body %q", body)
				}
				if d := time.Since(start); d > 2500*time.Millisecond {
					t.Errorf("504 after %v, want about 1s", d)
				}
			}
		})
	}
}

// A request waiting in the breaker queue also ends with 504 at the timeout.
func TestTimeoutWhileQueued(t *testing.T) {
	q := startQP(t, testEnv(startApp(t), "CONTAINER_CONCURRENCY", "1", "REVISION_TIMEOUT_SECONDS", "1"))
	waitReady(t, q)
	done := make(chan int)
	go func() { c, _ := get(t, nil, q.url(q.HTTP, "/?sleep=2000")); done <- c }()
	time.Sleep(100 * time.Millisecond)
	if code, body := get(t, nil, q.url(q.HTTP, "/?sleep=2000")); code != 504 || body != "request timeout\n" {
		t.Errorf("queued: %d %q", code, body)
	}
	if c := <-done; c != 504 {
		t.Errorf("running: %d", c)
	}
}

// A sweep hands a request to its timer (and its client watch) only when
// it finds the request a second time, so that one a few microseconds old
// at a sweep costs nothing; deadlines closer than three periods arm at once.
func TestSweepHandsOverAtTheSecondSighting(t *testing.T) {
	s := newSweeper()
	s.running.Store(true) // the test runs the sweeps
	r := httptest.NewRequest("GET", "/", nil)
	long := Timeouts{Overall: time.Hour}
	rw := &respWriter{}
	long.start(rw, r, nanotime(), s)
	if rw.armed || !rw.listed {
		t.Fatalf("a request with an hour to go: armed %v, listed %v; want listed for the sweep", rw.armed, rw.listed)
	}
	s.sweep()
	if rw.armed || !rw.listed {
		t.Fatalf("after its first sweep: armed %v, listed %v; want still only listed", rw.armed, rw.listed)
	}
	s.sweep()
	if !rw.armed || rw.listed {
		t.Fatalf("after its second sweep: armed %v, listed %v; want armed and off the list", rw.armed, rw.listed)
	}
	rw.timer.Stop()

	// Others on the list are kept in order when one is taken off.
	a, b, c := &respWriter{}, &respWriter{}, &respWriter{}
	long.start(a, r, nanotime(), s)
	s.sweep()
	long.start(b, r, nanotime(), s)
	long.start(c, r, nanotime(), s)
	s.sweep() // a goes, b and c are seen
	if !a.armed || a.listed || b.armed || !b.listed || c.armed || !c.listed {
		t.Fatalf("a: armed %v listed %v; b: %v %v; c: %v %v", a.armed, a.listed, b.armed, b.listed, c.armed, c.listed)
	}
	s.remove(b) // ended
	s.sweep()
	if !c.armed || c.listed || b.armed {
		t.Fatalf("c: armed %v listed %v; b armed %v", c.armed, c.listed, b.armed)
	}
	a.timer.Stop()
	c.timer.Stop()
	for i := range s.shards {
		if n := s.shards[i].n; n != 0 || s.shards[i].head != nil {
			t.Fatalf("shard %d: %d left listed", i, n)
		}
	}

	soon := Timeouts{Overall: 3*sweepPeriod - time.Millisecond}
	d := &respWriter{}
	soon.start(d, r, nanotime(), s)
	if !d.armed || d.listed {
		t.Fatalf("a deadline under three periods away: armed %v, listed %v; want armed at once", d.armed, d.listed)
	}
	d.timer.Stop()
}
