package queueproxy

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/sampleapp"
)

// startApp runs the sample app on a free loopback port.
func startApp(t testing.TB) (port int) {
	t.Helper()
	srv := httptest.NewServer(sampleapp.Handler(sampleapp.Config{Target: "test", Revision: "rev-1"}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().(*net.TCPAddr).Port
}

// qp is a queue-proxy started with Main on free ports.
type qp struct {
	Ports
	cancel context.CancelFunc
	exited chan struct{} // closed when Main returns, err then holds its result
	err    error
}

func (q *qp) url(port int, path string) string {
	return "http://127.0.0.1:" + strconv.Itoa(port) + path
}

// stop cancels Main (SIGTERM) and waits for it to return.
func (q *qp) stop(t testing.TB) {
	t.Helper()
	q.cancel()
	select {
	case <-q.exited:
		if q.err != nil {
			t.Errorf("Main returned %v", q.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Main did not return after cancel")
	}
}

// testEnv is a minimal environment around userPort, with overrides.
func testEnv(userPort int, kv ...string) func(string) string {
	m := map[string]string{
		"SERVING_NAMESPACE":     "ns",
		"SERVING_SERVICE":       "svc",
		"SERVING_CONFIGURATION": "cfg",
		"SERVING_REVISION":      "rev-1",
		"SERVING_POD":           "pod-1",
		"USER_PORT":             strconv.Itoa(userPort),
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// startQP runs Main on free ports and waits until its ports file appears
// and the app is ready.
func startQP(t testing.TB, getenv func(string) string, extra ...string) *qp {
	t.Helper()
	pf := filepath.Join(t.TempDir(), "ports.json")
	args := append([]string{"--http-port=0", "--h2c-port=0", "--admin-port=0", "--stats-port=0",
		"--metrics-port=0", "--ports-file=" + pf, "--drain-quiet-period=100ms"}, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	q := &qp{cancel: cancel, exited: make(chan struct{})}
	go func() { q.err = Main(ctx, args, getenv); close(q.exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(pf)
		if err == nil {
			if err := json.Unmarshal(b, &q.Ports); err != nil {
				t.Fatalf("ports file %q: %v", b, err)
			}
			break
		}
		select {
		case <-q.exited:
			t.Fatalf("Main exited early: %v", q.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no ports file")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-q.exited:
		case <-time.After(20 * time.Second):
			t.Error("Main did not return after cancel")
		}
	})
	return q
}

// waitReady polls the readiness probe until it answers 200.
func waitReady(t testing.TB, q *qp) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", q.url(q.HTTP, "/"), nil)
		req.Header.Set("K-Network-Probe", "queue")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("queue-proxy never became ready")
}

func get(t testing.TB, c *http.Client, url string, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var b []byte
	b, _ = readAll(resp)
	return resp.StatusCode, string(b)
}

func readAll(resp *http.Response) ([]byte, error) {
	var buf []byte
	tmp := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if err != nil {
			if err.Error() == "EOF" {
				return buf, nil
			}
			return buf, fmt.Errorf("read body: %w", err)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// startHandlerApp runs h as the app on a free loopback port.
func startHandlerApp(t testing.TB, h http.Handler) int {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().(*net.TCPAddr).Port
}
