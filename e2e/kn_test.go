package e2e

import (
	"bytes"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestKnVerbs is issue 17's acceptance for the kn-style verbs: the real
// binary against a real `gantry up`, from create to delete.
func TestKnVerbs(t *testing.T) {
	s := startStack(t, "")
	host := "hello.default.localhost"

	// create --wait shows progress and ends with the URL.
	out := s.mustGantry("", "service", "create", "hello", "--image", "gantry/sample-app", "--env", "TARGET=One")
	for _, want := range []string{"Creating service 'hello' in namespace 'default':", "Ready to serve.",
		"Service 'hello' created to latest revision 'hello-00001' is available at URL:\nhttp://hello.default.localhost:"} {
		if !strings.Contains(out, want) {
			t.Fatalf("create output does not contain %q:\n%s", want, out)
		}
	}
	s.waitServing(host, "Hello One! (revision hello-00001)")
	if out, err := s.gantry("", "service", "create", "hello", "--image", "gantry/sample-app"); err == nil ||
		!strings.Contains(out, "cannot create service 'hello' in namespace 'default' because the service already exists and no --force option was given") {
		t.Fatalf("create of an existing service: %v %q", err, out)
	}

	// update --env: a new revision takes the traffic.
	out = s.mustGantry("", "service", "update", "hello", "--env", "TARGET=Two")
	if !strings.Contains(out, "latest revision 'hello-00002'") {
		t.Fatalf("update output:\n%s", out)
	}
	s.waitServing(host, "Hello Two! (revision hello-00002)")

	// Split 50/50 and measure it.
	s.mustGantry("", "service", "update", "hello", "--traffic", "hello-00001=50", "--traffic", "@latest=50")
	counts := map[string]int{}
	for i := 0; i < 200; i++ {
		code, body, err := s.request(host, "/")
		if err != nil || code != 200 {
			t.Fatalf("request %d: %d %v", i, code, err)
		}
		for _, rev := range []string{"hello-00001", "hello-00002"} {
			if strings.Contains(body, rev) {
				counts[rev]++
			}
		}
	}
	for rev, n := range counts {
		if share := float64(n) / 200; share < 0.35 || share > 0.65 {
			t.Errorf("%s got %d of 200 requests (%.0f%%), want 50%% ± 15%%", rev, n, 100*share)
		}
	}
	if len(counts) != 2 {
		t.Errorf("counts %v, want both revisions", counts)
	}

	// Tag the old revision, reach it by its tag host, untag it.
	s.mustGantry("", "service", "update", "hello", "--tag", "hello-00001=stable", "--traffic", "@latest=100")
	s.waitServing("stable-hello.default.localhost", "Hello One! (revision hello-00001)")
	revs := s.mustGantry("", "revision", "list")
	if !strings.Contains(revs, "TRAFFIC") || !regexp.MustCompile(`(?m)^hello-00001\s+hello\s+0%\s+stable\s+1 `).MatchString(revs) ||
		!regexp.MustCompile(`(?m)^hello-00002\s+hello\s+100%\s+2 `).MatchString(revs) {
		t.Errorf("revision list:\n%s", revs)
	}
	if svcs := s.mustGantry("", "service", "list"); !regexp.MustCompile(`(?m)^hello\s+http://hello\.default\.localhost:\d+\s+hello-00002\s+\S+\s+3 OK / 3\s+True`).MatchString(svcs) {
		t.Errorf("service list:\n%s", svcs)
	}
	// Shell completion of names comes from the API.
	if out := s.mustGantry("", "__complete", "service", "describe", "he"); !strings.HasPrefix(out, "hello\n") {
		t.Errorf("completion of 'service describe he': %q", out)
	}
	if out := s.mustGantry("", "completion", "bash"); !strings.Contains(out, "bash completion") {
		t.Errorf("completion bash: %.80q", out)
	}
	desc := s.mustGantry("", "service", "describe", "hello")
	if !strings.Contains(desc, "hello-00001 #stable") || !strings.Contains(desc, "100%  @latest (hello-00002)") {
		t.Errorf("describe:\n%s", desc)
	}
	s.mustGantry("", "service", "update", "hello", "--untag", "stable")
	waitFor(t, 15*time.Second, "the tag host to go", func() bool {
		code, _, err := s.request("stable-hello.default.localhost", "/")
		return err == nil && code == 404
	})
	if out := s.mustGantry("", "revision", "list", "-s", "hello"); !strings.Contains(out, "hello-00001") || !strings.Contains(out, "hello-00002") {
		t.Errorf("revision list:\n%s", out)
	}
	if out := s.mustGantry("", "route", "describe", "hello"); !strings.Contains(out, "hello-00002") {
		t.Errorf("route describe:\n%s", out)
	}

	// A DomainMapping from the verbs: the custom host serves, then goes.
	if out := s.mustGantry("", "domain", "create", "hello.example.com", "--ref", "hello"); !strings.Contains(out, "Domain mapping 'hello.example.com' created in namespace 'default'.") {
		t.Errorf("domain create: %q", out)
	}
	s.waitServing("hello.example.com", "Hello Two!")
	if out := s.mustGantry("", "domain", "list"); !strings.Contains(out, "hello.example.com") {
		t.Errorf("domain list:\n%s", out)
	}
	if out, err := s.gantry("", "domain", "create", "hello.example.com", "--ref", "hello"); err == nil || !strings.Contains(out, "already exists") {
		t.Errorf("domain create twice: %v %q", err, out)
	}
	s.mustGantry("", "domain", "delete", "hello.example.com")
	waitFor(t, 15*time.Second, "hello.example.com to go", func() bool {
		code, _, err := s.request("hello.example.com", "/")
		return err == nil && code == 404
	})

	// Bad flag values: one kn-like line, a non-zero exit, nothing changed.
	before := s.mustGantry("", "get", "services", "hello", "-o", "json")
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"service", "update", "hello", "--env", "NOEQUALS"}, `invalid --env "NOEQUALS": want NAME=value`},
		{[]string{"service", "update", "hello", "--scale-min", "abc"}, `invalid argument "abc" for "--scale-min" flag: want an integer`},
		{[]string{"service", "update", "hello", "--scale-min", "-1"}, "invalid --scale-min -1"},
		{[]string{"service", "update", "hello", "--scale-min", "5", "--scale-max", "2"}, "--scale-min 5 is greater than --scale-max 2"},
		{[]string{"service", "update", "hello", "--concurrency-limit", "-3"}, "invalid --concurrency-limit -3"},
		{[]string{"service", "update", "hello", "--port", "http:99999"}, `invalid --port "http:99999"`},
		{[]string{"service", "update", "hello", "--traffic", "hello-00001=40", "--traffic", "@latest=50"}, "Traffic targets sum to 90, want 100"},
		{[]string{"service", "update", "hello", "--traffic", "hello-00001=70", "--traffic", "@latest=50"}, "given traffic percents sum to 120, want <=100"},
		{[]string{"service", "update", "hello", "--traffic", "@latest=x"}, "error converting given x to integer value for traffic distribution"},
		{[]string{"service", "update", "hello", "--traffic", "a=50", "--traffic", "a=50"}, "repetition of revision reference a is not allowed, use only once with --traffic flag"},
		{[]string{"service", "update", "hello", "--untag", "nope"}, "tag(s) nope not present for any revisions of service hello"},
		{[]string{"service", "update", "hello", "--tag", "stable"}, `invalid --tag "stable"`},
		{[]string{"service", "update", "hello", "--annotation", "=x"}, `invalid --annotation "=x"`},
		{[]string{"service", "update", "hello", "--label", "Bad Key=x"}, "Bad Key"},
		{[]string{"service", "update", "hello", "-o", "xml"}, `invalid --output "xml": want yaml or json`},
		{[]string{"service", "update", "hello", "--wait=maybe"}, `invalid argument "maybe" for "--wait" flag: want true or false`},
		{[]string{"service", "update", "hello", "--nope"}, "unknown flag: --nope"},
		{[]string{"service", "update", "nope", "--env", "A=1"}, "nope"},
		{[]string{"service", "create", "other"}, "'service create' requires the image name to run provided with the --image option"},
		{[]string{"service", "update"}, "'service update' requires the service name given as single argument"},
		{[]string{"domain", "create", "x.example.com", "--ref", "ksvc:"}, `invalid --ref "ksvc:"`},
	} {
		out, err := s.gantry("", bad.args...)
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
			t.Errorf("%v: err %v, want a non-zero exit; output %q", bad.args, err, out)
			continue
		}
		line := strings.TrimSpace(out)
		if strings.Contains(line, "\n") || !strings.Contains(line, bad.want) || !strings.HasPrefix(line, "gantry ") {
			t.Errorf("%v: output %q, want one line containing %q", bad.args, out, bad.want)
		}
	}
	if after := s.mustGantry("", "get", "services", "hello", "-o", "json"); after != before {
		t.Errorf("bad flags changed the service:\nbefore %s\nafter %s", before, after)
	}

	// A revision that cannot run: create --wait says why.
	out, err := s.gantry("", "service", "create", "broken", "--image", "example.com/not-runnable")
	if err == nil || !strings.Contains(out, "revision 'broken-00001' failed: ImageNotRunnable") {
		t.Errorf("create of a failing service: %v\n%s", err, out)
	}

	// Delete: the host answers 404 after.
	out = s.mustGantry("", "service", "delete", "hello")
	if !strings.Contains(out, "Service 'hello' successfully deleted in namespace 'default'.") {
		t.Errorf("delete output %q", out)
	}
	waitFor(t, 15*time.Second, "hello to answer 404", func() bool {
		code, _, err := s.request(host, "/")
		return err == nil && code == 404
	})
	if out, err := s.gantry("", "service", "describe", "hello"); err == nil || !strings.Contains(out, "not found") {
		t.Errorf("describe after delete: %v %q", err, out)
	}
}

// TestWatchStreams checks that `get revisions -w` prints changes as they
// happen, from the API's stream.
func TestWatchStreams(t *testing.T) {
	s := startStack(t, "")
	s.mustGantry("", "service", "create", "hello", "--image", "gantry/sample-app")
	cmd := exec.Command(gantryBin, "get", "revisions", "-w")
	cmd.Env = append(cmd.Environ(), "GANTRY_SERVER=http://"+s.ui)
	var buf syncBuffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	waitFor(t, 10*time.Second, "the initial list", func() bool { return strings.Contains(buf.String(), "hello-00001") })
	s.mustGantry("", "service", "update", "hello", "--env", "A=1", "--no-wait")
	waitFor(t, 20*time.Second, "a row for hello-00002 going ready", func() bool {
		for _, l := range strings.Split(buf.String(), "\n") {
			if strings.HasPrefix(l, "hello-00002") && strings.Contains(l, "True") {
				return true
			}
		}
		return false
	})
	s.mustGantry("", "revision", "delete", "hello-00001")
	waitFor(t, 10*time.Second, "the deletion row", func() bool { return strings.Contains(buf.String(), "(deleted)") })

	// service describe --watch shows the service again when it changes.
	desc := exec.Command(gantryBin, "service", "describe", "hello", "--watch")
	desc.Env = cmd.Env
	var dbuf syncBuffer
	desc.Stdout, desc.Stderr = &dbuf, &dbuf
	if err := desc.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { desc.Process.Kill(); desc.Wait() }()
	waitFor(t, 10*time.Second, "the first description", func() bool { return strings.Contains(dbuf.String(), "@latest (hello-00002)") })
	s.mustGantry("", "service", "update", "hello", "--env", "A=2", "--no-wait")
	waitFor(t, 20*time.Second, "a description with hello-00003", func() bool {
		out := dbuf.String()
		return strings.Contains(out, "---") && strings.Contains(out, "@latest (hello-00003)")
	})
}

// syncBuffer is a bytes.Buffer safe for a process writing while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
