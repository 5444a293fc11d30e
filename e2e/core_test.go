package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func helloYAML(target string) string {
	return fmt.Sprintf(`apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: hello
  namespace: default
spec:
  template:
    spec:
      containers:
        - image: gantry/sample-app
          env:
            - name: TARGET
              value: %q
`, target)
}

type serviceJSON struct {
	Status struct {
		URL                       string `json:"url"`
		LatestReadyRevisionName   string `json:"latestReadyRevisionName"`
		LatestCreatedRevisionName string `json:"latestCreatedRevisionName"`
		Conditions                []struct {
			Type, Status, Reason, Message string
		} `json:"conditions"`
	} `json:"status"`
}

func (s serviceJSON) cond(t string) (string, string) {
	for _, c := range s.Status.Conditions {
		if c.Type == t {
			return c.Status, c.Message
		}
	}
	return "", ""
}

// waitServing waits until host answers 200 with a body containing want.
func (s *stack) waitServing(host, want string) string {
	s.t.Helper()
	var body string
	waitFor(s.t, 30*time.Second, host+" to answer with "+want, func() bool {
		code, b, err := s.request(host, "/")
		body = b
		return err == nil && code == 200 && strings.Contains(b, want)
	})
	return body
}

// TestCoreLifecycle is issue 2's end-to-end acceptance: apply, serve, change
// the template, restart, and stop with no process left behind.
func TestCoreLifecycle(t *testing.T) {
	state := t.TempDir()
	s := startStack(t, state)
	host := "hello.default.localhost"

	out := s.mustGantry(helloYAML("World"), "apply", "-f", "-")
	if !strings.Contains(out, "hello created") {
		t.Fatalf("apply output %q, want it to say created", out)
	}
	body := s.waitServing(host, "Hello World!")
	if !strings.Contains(body, "hello-00001") {
		t.Fatalf("body %q does not name revision hello-00001", body)
	}
	// Unknown hosts are told so.
	code, b, err := s.request("nope.default.localhost", "/")
	if err != nil || code != 404 || !strings.Contains(b, "nope.default.localhost") {
		t.Fatalf("unknown host: %d %q %v, want 404 naming the host", code, b, err)
	}

	// Status as Knative reports it.
	var svc serviceJSON
	if err := s.getJSON("/api/v1/services/default/hello", &svc); err != nil {
		t.Fatal(err)
	}
	if want := "http://hello.default.localhost:" + strings.Split(s.gateway, ":")[1]; svc.Status.URL != want {
		t.Errorf("status.url = %q, want %q", svc.Status.URL, want)
	}
	for _, c := range []string{"Ready", "ConfigurationsReady", "RoutesReady"} {
		if st, msg := svc.cond(c); st != "True" {
			t.Errorf("condition %s = %q (%s), want True", c, st, msg)
		}
	}

	// Applying the same manifest again creates no revision.
	if out := s.mustGantry(helloYAML("World"), "apply", "-f", "-"); !strings.Contains(out, "unchanged") {
		t.Errorf("re-apply output %q, want unchanged", out)
	}

	// A template change makes hello-00002, which takes the traffic.
	s.mustGantry(helloYAML("Gantry"), "apply", "-f", "-")
	body = s.waitServing(host, "Hello Gantry!")
	if !strings.Contains(body, "hello-00002") {
		t.Fatalf("after the change body %q, want revision hello-00002", body)
	}
	revs := s.mustGantry("", "get", "revisions")
	if !strings.Contains(revs, "hello-00001") || !strings.Contains(revs, "hello-00002") || strings.Contains(revs, "hello-00003") {
		t.Fatalf("get revisions:\n%s\nwant exactly hello-00001 and hello-00002", revs)
	}
	table := s.mustGantry("", "get", "services")
	for _, col := range []string{"NAME", "URL", "LATEST", "READY", "AGE", "hello-00002", "True"} {
		if !strings.Contains(table, col) {
			t.Errorf("get services table lacks %q:\n%s", col, table)
		}
	}
	if y := s.mustGantry("", "get", "services", "hello", "-o", "yaml"); !strings.Contains(y, "latestReadyRevisionName: hello-00002") {
		t.Errorf("get -o yaml:\n%s", y)
	}

	// Restart on the same state dir: same service, same revisions, no new one.
	if kids := s.children(); len(kids) == 0 {
		t.Fatalf("no instance processes found while serving")
	}
	s.stop()
	if kids := s.children(); len(kids) > 0 {
		t.Fatalf("processes left after gantry up stopped:\n%s", strings.Join(kids, "\n"))
	}
	s2 := startStack(t, state)
	body = s2.waitServing(host, "Hello Gantry!")
	if !strings.Contains(body, "hello-00002") {
		t.Fatalf("after restart body %q, want hello-00002", body)
	}
	revs = s2.mustGantry("", "get", "revisions")
	if strings.Contains(revs, "hello-00003") {
		t.Fatalf("restart created a revision:\n%s", revs)
	}
	// Each instance keeps its output in a log file under the state dir.
	logs, _ := filepath.Glob(filepath.Join(state, "logs", "default", "hello-00002", "*.log"))
	if len(logs) == 0 {
		t.Errorf("no instance logs under %s", filepath.Join(state, "logs"))
	}
	for _, l := range logs {
		if b, _ := os.ReadFile(l); strings.Contains(l, "queue-proxy") == false && !strings.Contains(string(b), "sample-app listening") {
			t.Errorf("log %s lacks the app's output: %q", l, b)
		}
	}
	s2.stop()
	if kids := s2.children(); len(kids) > 0 {
		t.Fatalf("processes left after the second stop:\n%s", strings.Join(kids, "\n"))
	}
}
