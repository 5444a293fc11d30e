package queueproxy

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// logs collects what the queue-proxy logs during tests.
var logs lockedBuffer

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	os.Exit(m.Run())
}

func TestSmokeProxyAndPortsFile(t *testing.T) {
	q := startQP(t, testEnv(startApp(t)))
	waitReady(t, q)
	code, body := get(t, nil, q.url(q.HTTP, "/?status=201"))
	if code != 201 || !strings.Contains(body, "Hello test!") {
		t.Fatalf("got %d %q", code, body)
	}
	ports := []int{q.HTTP, q.H2C, q.Admin, q.Stats, q.Metrics}
	seen := map[int]bool{}
	for _, p := range ports {
		if p == 0 || seen[p] {
			t.Fatalf("ports %+v", q.Ports)
		}
		seen[p] = true
	}
	q.stop(t)
}

func TestMainErrors(t *testing.T) {
	ctx := t.Context()
	if err := Main(ctx, []string{"--nope"}, testEnv(1)); err == nil {
		t.Error("unknown flag accepted")
	}
	if err := Main(ctx, nil, testEnv(1, "CONTAINER_CONCURRENCY", "x")); err == nil ||
		!strings.Contains(err.Error(), "CONTAINER_CONCURRENCY") {
		t.Errorf("bad env: %v", err)
	}
	// A port that is taken fails cleanly and names the listener.
	q := startQP(t, testEnv(startApp(t)))
	err := Main(ctx, []string{"--http-port=0", "--h2c-port=0", "--admin-port=0", "--stats-port=0",
		"--metrics-port=" + itoa(q.Metrics)}, testEnv(1))
	if err == nil || !strings.Contains(err.Error(), "metrics") {
		t.Errorf("taken port: %v", err)
	}
}

func TestWritePortsFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "p.json")
	if err := writePortsFile(p, Ports{HTTP: 1, H2C: 2, Admin: 3, Stats: 4, Metrics: 5}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	var got map[string]int
	if err := json.Unmarshal(b, &got); err != nil || len(got) != 5 || got["http"] != 1 || got["metrics"] != 5 {
		t.Fatalf("%s: %v", b, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("temp files left: %v", ents)
	}
}
