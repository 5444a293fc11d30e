package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"
)

// dockerEnv is the Docker Engine and registry that test.sh started
// (hack/dockerd.sh): DOCKER_HOST and GANTRY_TEST_REGISTRY.
type dockerEnv struct {
	cli      *client.Client
	registry string // 127.0.0.1:PORT
}

// requireDocker returns the engine, or skips the test where none was
// started (a failure under GANTRY_REQUIRE_DOCKER=1, as test.sh sets).
func requireDocker(t testing.TB) *dockerEnv {
	t.Helper()
	reg := os.Getenv("GANTRY_TEST_REGISTRY")
	if os.Getenv("DOCKER_HOST") == "" || reg == "" {
		if os.Getenv("GANTRY_REQUIRE_DOCKER") == "1" {
			t.Fatal("GANTRY_REQUIRE_DOCKER=1 but DOCKER_HOST or GANTRY_TEST_REGISTRY is not set (test.sh starts them with hack/dockerd.sh)")
		}
		t.Skip("no Docker Engine: run ./test.sh, which starts one (hack/dockerd.sh)")
	}
	cli, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		t.Fatalf("Docker Engine at %s: %v", os.Getenv("DOCKER_HOST"), err)
	}
	t.Cleanup(func() { cli.Close() })
	return &dockerEnv{cli: cli, registry: reg}
}

var testImageBin = map[string]string{}
var testImageMu sync.Mutex

// testImageBinary builds e2e/testimage static, once per version.
func testImageBinary(t testing.TB, version string) string {
	t.Helper()
	testImageMu.Lock()
	defer testImageMu.Unlock()
	if p := testImageBin[version]; p != "" {
		return p
	}
	dir := filepath.Join(filepath.Dir(gantryBin), "testimage-"+version)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "app")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version, "-o", bin, "./testimage")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build testimage: %v\n%s", err, out)
	}
	testImageBin[version] = bin
	return bin
}

// buildImage builds the test app, FROM scratch, as tag.
func (d *dockerEnv) buildImage(t testing.TB, tag, version string) {
	t.Helper()
	bin := testImageBinary(t, version)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	df := "FROM scratch\nCOPY app /app\nENTRYPOINT [\"/app\"]\nCMD [\"from-image-cmd\"]\n"
	tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(df))})
	io.WriteString(tw, df)
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	tw.WriteHeader(&tar.Header{Name: "app", Mode: 0o755, Size: int64(len(b))})
	tw.Write(b)
	tw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := d.cli.ImageBuild(ctx, &buf, client.ImageBuildOptions{Tags: []string{tag}, Remove: true})
	if err != nil {
		t.Fatalf("build %s: %v", tag, err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if bytes.Contains(out, []byte(`"error"`)) {
		t.Fatalf("build %s: %s", tag, out)
	}
}

// push pushes tag to its registry with the given credentials (empty: none).
func (d *dockerEnv) push(t testing.TB, tag, user, password string) {
	t.Helper()
	auth, _ := authconfig.Encode(registry.AuthConfig{Username: user, Password: password})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resp, err := d.cli.ImagePush(ctx, tag, client.ImagePushOptions{RegistryAuth: auth})
	if err != nil {
		t.Fatalf("push %s: %v", tag, err)
	}
	defer resp.Close()
	for m, err := range resp.JSONMessages(ctx) {
		if err != nil {
			t.Fatalf("push %s: %v", tag, err)
		}
		if m.Error != nil {
			t.Fatalf("push %s: %s", tag, m.Error.Message)
		}
	}
}

// removeImage removes tag from the engine, so the next use pulls it.
func (d *dockerEnv) removeImage(t testing.TB, tag string) {
	t.Helper()
	if _, err := d.cli.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{Force: true}); err != nil && !strings.Contains(err.Error(), "No such image") {
		t.Fatalf("remove image %s: %v", tag, err)
	}
}

// containers lists the containers gantry made for stateDir.
func (d *dockerEnv) containers(t testing.TB, stateDir string) []container.Summary {
	t.Helper()
	abs, _ := filepath.Abs(stateDir)
	res, err := d.cli.ContainerList(context.Background(), client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", "dev.gantry.state-dir="+abs)})
	if err != nil {
		t.Fatal(err)
	}
	return res.Items
}

func (d *dockerEnv) inspect(t testing.TB, id string) container.InspectResponse {
	t.Helper()
	res, err := d.cli.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Container
}

// revisionJSON is the part of a revision the Docker tests read.
type revisionJSON struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Status struct {
		ContainerStatuses []struct {
			Name        string `json:"name"`
			ImageDigest string `json:"imageDigest"`
		} `json:"containerStatuses"`
		ActualReplicas int `json:"actualReplicas"`
		Conditions     []struct {
			Type, Status, Reason, Message, Severity string
		} `json:"conditions"`
	} `json:"status"`
}

func (r revisionJSON) cond(t string) (status, reason, msg string) {
	for _, c := range r.Status.Conditions {
		if c.Type == t {
			return c.Status, c.Reason, c.Message
		}
	}
	return "", "", ""
}

// waitRevisionReason waits until revision name's ContainerHealthy or
// ResourcesAvailable condition is False with reason, and returns its message.
func (s *stack) waitRevisionReason(name, reason string, timeout time.Duration) string {
	s.t.Helper()
	var last revisionJSON
	var msg string
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if err := s.getJSON("/api/v1/revisions/default/"+name, &last); err == nil {
			for _, ct := range []string{"ContainerHealthy", "ResourcesAvailable"} {
				if st, r, m := last.cond(ct); st == "False" && r == reason {
					return m
				}
				_, _, msg = last.cond(ct)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	b, _ := json.Marshal(last.Status)
	s.t.Fatalf("revision %s: no condition False with reason %s within %s (last message %q): %s", name, reason, timeout, msg, b)
	return ""
}

// svcYAML is a Knative Service running image, with extra lines indented
// under the container (env, resources...) and under the template's spec.
func svcYAML(name, image, containerExtra, specExtra, annotations string) string {
	ann := ""
	if annotations != "" {
		ann = "      annotations:\n" + indent(annotations, "        ")
	}
	return fmt.Sprintf(`apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: %s
  namespace: default
spec:
  template:
    metadata:
%s      labels: {e2e: docker}
    spec:
%s      containers:
        - image: %s
%s`, name, ann, indent(specExtra, "      "), image, indent(containerExtra, "          "))
}

func indent(s, prefix string) string {
	if s == "" {
		return ""
	}
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString(prefix + l + "\n")
	}
	return b.String()
}
