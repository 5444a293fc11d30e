package e2e

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
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
