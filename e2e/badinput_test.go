package e2e

import (
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestBadInput checks that each kind of bad input gets one clear error line
// and a non-zero exit, and that nothing already stored changes.
func TestBadInput(t *testing.T) {
	s := startStack(t, "")
	s.mustGantry(helloYAML("Stable"), "apply", "-f", "-")
	s.waitServing("hello.default.localhost", "Hello Stable!")
	before := s.mustGantry("", "get", "services", "hello", "-o", "json")

	cases := []struct {
		name, manifest string
		want           []string
	}{
		{"malformed YAML", "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: [oops\n", []string{"document 1", "malformed"}},
		{"unknown kind", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n", []string{"Deployment", "web", "unsupported kind"}},
		{"invalid name", strings.Replace(helloYAML("X"), "name: hello", "name: Hello_World", 1), []string{"Hello_World", "metadata.name"}},
		{"no image nor command", `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: empty
spec:
  template:
    spec:
      containers:
        - env: [{name: A, value: b}]
`, []string{"empty", "containers[0].image"}},
		// One bad object refuses the whole batch: hello is not changed either.
		{"batch with one bad object", helloYAML("Changed") + "---\n" + `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: split
spec:
  template:
    spec:
      containers: [{image: gantry/sample-app}]
  traffic:
    - latestRevision: true
      percent: 90
`, []string{"split", "Traffic targets sum to 90, want 100", "spec.traffic"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := s.gantry(tc.manifest, "apply", "-f", "-")
			if err == nil {
				t.Fatalf("apply succeeded, want an error; output %q", out)
			}
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
				t.Fatalf("err %v, want a non-zero exit", err)
			}
			if lines := strings.Count(strings.TrimSpace(out), "\n") + 1; lines != 1 {
				t.Errorf("error is %d lines, want one:\n%s", lines, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("error %q does not mention %q", out, w)
				}
			}
		})
	}
	if after := s.mustGantry("", "get", "services", "hello", "-o", "json"); after != before {
		t.Errorf("a refused apply changed hello:\nbefore %s\nafter %s", before, after)
	}
	if out, _ := s.gantry("", "get", "services", "split"); !strings.Contains(out, "not found") {
		t.Errorf("split was stored from a refused batch: %q", out)
	}
	if code, body, _ := s.request("hello.default.localhost", "/"); code != 200 || !strings.Contains(body, "Hello Stable!") {
		t.Errorf("hello stopped serving after bad input: %d %q", code, body)
	}

	// Oversized headers get 431 from the gateway, which keeps serving.
	big, _ := http.NewRequest(http.MethodGet, "http://"+s.gateway+"/", nil)
	big.Host = "hello.default.localhost"
	big.Header.Set("X-Big", strings.Repeat("x", 2<<20))
	if resp, err := http.DefaultClient.Do(big); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("2 MiB header answered %d, want 431", resp.StatusCode)
		}
	}
	if code, _, _ := s.request("hello.default.localhost", "/"); code != 200 {
		t.Errorf("hello answered %d after an oversized request", code)
	}

	// A command that does not exist is reported in the revision's status.
	s.mustGantry(`apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: broken
spec:
  template:
    spec:
      containers:
        - image: example.com/broken
          command: ["/nonexistent/gantry-no-such-binary"]
`, "apply", "-f", "-")
	var svc serviceJSON
	waitFor(t, 20*time.Second, "broken to report its failure", func() bool {
		if err := s.getJSON("/api/v1/services/default/broken", &svc); err != nil {
			return false
		}
		st, _ := svc.cond("Ready")
		return st == "False"
	})
	if _, msg := svc.cond("ConfigurationsReady"); !strings.Contains(msg, "broken-00001") || !strings.Contains(msg, "gantry-no-such-binary") {
		t.Errorf("ConfigurationsReady message %q should name the revision and the missing command", msg)
	}
	var rev struct {
		Status struct {
			Conditions []struct{ Type, Status, Reason string } `json:"conditions"`
		} `json:"status"`
	}
	if err := s.getJSON("/api/v1/revisions/default/broken-00001", &rev); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range rev.Status.Conditions {
		if c.Type == "ContainerHealthy" && c.Status == "False" && c.Reason == "ExecFailed" {
			found = true
		}
	}
	if !found {
		t.Errorf("revision conditions %+v, want ContainerHealthy False ExecFailed", rev.Status.Conditions)
	}
	// An image that cannot run here is reported, not refused.
	s.mustGantry(`apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: remote
spec:
  template:
    spec:
      containers:
        - image: gcr.io/example/only-in-a-cluster
`, "apply", "-f", "-")
	waitFor(t, 20*time.Second, "remote to report ImageNotRunnable", func() bool {
		var svc serviceJSON
		if err := s.getJSON("/api/v1/services/default/remote", &svc); err != nil {
			return false
		}
		_, msg := svc.cond("Ready")
		return strings.Contains(msg, "cannot run: no container engine is used")
	})
	// The rest keeps serving.
	if code, _, _ := s.request("hello.default.localhost", "/"); code != 200 {
		t.Errorf("hello answered %d while other services failed", code)
	}
}

// TestPortInUse: gantry up on a taken port fails at once with a clear line.
func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cmd := exec.Command(gantryBin, "up", "--state-dir", t.TempDir(), "--gateway-addr", ln.Addr().String(), "--ui-addr", freeAddr(t))
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("gantry up succeeded on a port in use: %s", out)
	}
	if !strings.Contains(string(out), "--gateway-addr "+ln.Addr().String()) || !strings.Contains(string(out), "address already in use") {
		t.Errorf("output %q, want one line naming --gateway-addr and the address in use", out)
	}
}
