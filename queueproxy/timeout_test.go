package queueproxy

import (
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
