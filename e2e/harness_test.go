package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// gantryBin is built once by TestMain.
var gantryBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gantry-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	gantryBin = filepath.Join(dir, "gantry")
	build := exec.Command("go", "build", "-o", gantryBin, "../cmd/gantry")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build gantry:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func hasFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			return true
		}
	}
	return false
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// stack is one running `gantry up`.
type stack struct {
	t         testing.TB
	stateDir  string
	gateway   string
	tls       string
	ui        string
	marker    string
	cmd       *exec.Cmd
	done      chan struct{}
	log       *bytes.Buffer
	exitError error
}

// startStack runs `gantry up` in stateDir (a new temp dir when empty).
func startStack(t testing.TB, stateDir string, extra ...string) *stack {
	t.Helper()
	if stateDir == "" {
		stateDir = t.TempDir()
	}
	// A port freeAddr found free may be taken again before gantry up binds
	// it (the kernel hands it to another socket): then try new ones.
	for attempt := 1; ; attempt++ {
		s, healthy := launchStack(t, stateDir, extra)
		if healthy {
			return s
		}
		<-s.done
		if attempt < 3 && strings.Contains(s.log.String(), "address already in use") {
			t.Logf("gantry up lost a port to another socket, trying new ones: %s", strings.TrimSpace(s.log.String()))
			continue
		}
		t.Fatalf("gantry up exited before its API answered: %v\n%s", s.exitError, s.log.String())
	}
}

// launchStack starts gantry up once and waits until its API answers
// (healthy) or it exits.
func launchStack(t testing.TB, stateDir string, extra []string) (*stack, bool) {
	t.Helper()
	s := &stack{t: t, stateDir: stateDir, gateway: freeAddr(t), tls: freeAddr(t), ui: freeAddr(t),
		marker: fmt.Sprintf("GANTRY_E2E_MARKER=%d-%s", time.Now().UnixNano(), t.Name()), log: &bytes.Buffer{}, done: make(chan struct{})}
	args := append([]string{"up", "--state-dir", stateDir, "--gateway-addr", s.gateway, "--gateway-tls-addr", s.tls, "--ui-addr", s.ui}, extra...)
	if !hasFlag(extra, "--runtime") {
		// The tests written for host processes keep them where an engine runs.
		args = append(args, "--runtime", "process")
	}
	s.cmd = exec.Command(gantryBin, args...)
	s.cmd.Env = append(os.Environ(), s.marker)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.exitError = s.cmd.Wait(); close(s.done) }()
	healthy := false
	deadline := time.Now().Add(15 * time.Second)
	for !healthy && time.Now().Before(deadline) {
		select {
		case <-s.done:
			return s, false
		default:
		}
		if resp, err := http.Get("http://" + s.ui + "/healthz"); err == nil {
			resp.Body.Close()
			healthy = resp.StatusCode == 200
		}
		if !healthy {
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("gantry up output:\n%s", s.log.String())
		}
	})
	if !healthy {
		t.Fatalf("timed out after 15s waiting for the API to answer")
	}
	return s, true
}

// stop sends SIGTERM and waits for gantry up to exit.
func (s *stack) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		s.t.Errorf("gantry up did not stop within 30s of SIGTERM")
	}
}

// children lists processes carrying this stack's marker in their
// environment, other than gantry up itself.
func (s *stack) children() []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !bytes.Contains(env, []byte(s.marker+"\x00")) || e.Name() == fmt.Sprint(s.cmd.Process.Pid) {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if stat, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil && bytes.Contains(stat, []byte(") Z ")) {
			continue // a zombie is already dead
		}
		out = append(out, e.Name()+" "+strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return out
}

// gantry runs a CLI command against the stack and returns its output and error.
func (s *stack) gantry(stdin string, args ...string) (string, error) {
	cmd := exec.Command(gantryBin, args...)
	cmd.Env = append(os.Environ(), "GANTRY_SERVER=http://"+s.ui)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (s *stack) mustGantry(stdin string, args ...string) string {
	s.t.Helper()
	out, err := s.gantry(stdin, args...)
	if err != nil {
		s.t.Fatalf("gantry %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// request sends GET path to the gateway with the given Host.
func (s *stack) request(host, path string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+s.gateway+path, nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// getJSON decodes an API GET.
func (s *stack) getJSON(path string, out any) error {
	resp, err := http.Get("http://" + s.ui + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func waitFor(t testing.TB, timeout time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
