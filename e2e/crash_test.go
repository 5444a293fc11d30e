package e2e

import (
	"os"
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
		Ports    struct {
			Unix string `json:"unix"`
		} `json:"ports"`
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
	sock := inst.Items[0].Ports.Unix
	if sock == "" || unixConns(t, sock) < 2 {
		t.Fatalf("the gateway does not reach the queue-proxy over its Unix socket %q (%d sockets on it)", sock, unixConns(t, sock))
	}

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
	// The new queue-proxy has a socket of its own, which the gateway uses;
	// the old one is gone.
	if err := s.getJSON("/api/v1/revisions/default/hello-00001/instances", &inst); err != nil || len(inst.Items) != 1 {
		t.Fatalf("instances: %+v %v", inst, err)
	}
	if now := inst.Items[0].Ports.Unix; now == "" || now == sock || unixConns(t, now) < 2 {
		t.Errorf("after the restart: socket %q (was %q), %d sockets on it", now, sock, unixConns(t, now))
	}
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("the stopped queue-proxy's socket %s is left: %v", sock, err)
	}
	// gantry up itself is unaffected.
	select {
	case <-s.done:
		t.Fatalf("gantry up exited: %v", s.exitError)
	default:
	}
}

// unixConns counts the sockets bound to path in /proc/net/unix: the
// listener and, on the server side, each connection it accepted.
func unixConns(t *testing.T, path string) int {
	t.Helper()
	if path == "" {
		return 0
	}
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 8 && f[len(f)-1] == path {
			n++
		}
	}
	return n
}
