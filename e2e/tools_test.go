package e2e

import (
	"os"
	"os/exec"
	"testing"
)

// tool finds an external program ($env, else name on PATH). Without it the
// test is skipped, or fails when GANTRY_REQUIRE_TOOLS=1 (test.sh installs
// every tool).
func tool(t *testing.T, env, name string) string {
	t.Helper()
	if p := os.Getenv(env); env != "" && p != "" {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	how := name + " not found (set $" + env + " or put it on PATH)"
	if os.Getenv("GANTRY_REQUIRE_TOOLS") == "1" {
		t.Fatal(how + "; GANTRY_REQUIRE_TOOLS=1 requires it")
	}
	t.Skip(how + ": skipping; GANTRY_REQUIRE_TOOLS=1 makes this a failure")
	return ""
}
