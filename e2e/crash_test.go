package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

type instancesJSON struct {
	Items []struct {
		Name     string `json:"name"`
		Ready    bool   `json:"ready"`
		AppPID   int    `json:"appPid"`
		Restarts int    `json:"restarts"`
	} `json:"items"`
}

// TestKilledInstanceRestarts kills an app process in the middle of a
// request: that request fails cleanly, the runtime restarts the instance
// with back-off, and the service serves again.
func TestKilledInstanceRestarts(t *testing.T) {
	s := startStack(t, "")
	s.mustGantry(helloYAML("Crash"), "apply", "-f", "-")
	host := "hello.default.localhost"
	s.waitServing(host, "Hello Crash!")
	var inst instancesJSON
	if err := s.getJSON("/api/v1/revisions/default/hello-00001/instances", &inst); err != nil || len(inst.Items) != 1 || inst.Items[0].AppPID == 0 {
		t.Fatalf("instances: %+v %v", inst, err)
	}
	pid := inst.Items[0].AppPID

	type result struct {
		code int
		err  error
	}
	inFlight := make(chan result, 1)
	go func() {
		code, _, err := s.request(host, "/?sleep=5000")
		inFlight <- result{code, err}
	}()
	time.Sleep(300 * time.Millisecond)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-inFlight:
		if r.err == nil && r.code == 200 {
			t.Errorf("the request whose app was killed answered 200")
		}
		if r.err == nil && r.code != 502 {
			t.Errorf("the request whose app was killed answered %d, want 502", r.code)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the request whose app was killed hung")
	}

	waitFor(t, 20*time.Second, "the instance to restart", func() bool {
		var now instancesJSON
		if err := s.getJSON("/api/v1/revisions/default/hello-00001/instances", &now); err != nil || len(now.Items) != 1 {
			return false
		}
		i := now.Items[0]
		return i.Ready && i.Restarts >= 1 && i.AppPID != pid
	})
	body := s.waitServing(host, "Hello Crash!")
	if !strings.Contains(body, "hello-00001") {
		t.Errorf("after the restart: %q", body)
	}
	// gantry up itself is unaffected.
	select {
	case <-s.done:
		t.Fatalf("gantry up exited: %v", s.exitError)
	default:
	}
}
