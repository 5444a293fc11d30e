package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestEdgeBenchSmoke runs bench/edge.sh at a token size: nginx, HAProxy
// and the gateway all serve GET and POST in front of the queue-proxy, and
// the script ends with its comparison line.
func TestEdgeBenchSmoke(t *testing.T) {
	for _, name := range []string{"nginx", "haproxy", "wrk", "jq"} {
		tool(t, "", name)
	}
	cmd := exec.Command("bash", "../bench/edge.sh")
	cmd.Env = append(os.Environ(), "ROUNDS=1", "DUR=1", "RATE=200", "RATE_DUR=1", "LAT_DUR=1", "WARM=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("edge.sh: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := lines[len(lines)-1]
	if !regexp.MustCompile(`^edge: gateway/haproxy rps=[0-9.]+ cpu=[0-9.]+ gateway/nginx rps=[0-9.]+ cpu=[0-9.]+$`).MatchString(last) {
		t.Errorf("last line %q\n%s", last, out)
	}
	for _, want := range []string{"get   nginx", "get   haproxy", "get   gateway", "post  nginx", "post  haproxy", "post  gateway"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("no %q row\n%s", want, out)
		}
	}
	if regexp.MustCompile(`failed=[1-9]`).Match(out) {
		t.Errorf("requests failed at the fixed rate\n%s", out)
	}
}

// gantry up carries the gateway with the queue-proxy's runtime settings:
// it starts itself again once with the sysmon setting in GODEBUG (same
// PID), and runs on one P while the load is light (internal/procs).
func TestGatewayRuntimeSettings(t *testing.T) {
	s := startStack(t, t.TempDir())
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", s.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(env, []byte("\x00GODEBUG=schedtrace=2147483647\x00")) {
		t.Errorf("gantry up's environment has no GODEBUG=schedtrace=2147483647: %q", bytes.ReplaceAll(env, []byte{0}, []byte{' '}))
	}
	waitFor(t, 10*time.Second, "one P while idle", func() bool {
		return containsLine(s.controlPlaneMetrics(t), "go_sched_gomaxprocs_threads 1")
	})
}
