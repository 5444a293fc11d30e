package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"golang.org/x/crypto/bcrypt"
)

// TestDockerUserImage is the Docker runtime's acceptance: a Knative Service
// whose image is the user's own is pulled from a registry, resolved to a
// digest that every instance keeps running (also after the tag moves), and
// served with its port published on 127.0.0.1 only.
func TestDockerUserImage(t *testing.T) {
	d := requireDocker(t)
	img := d.registry + "/gantry-e2e/app:" + strconv.FormatInt(time.Now().UnixNano(), 36)
	d.buildImage(t, img, "1")
	d.push(t, img, "", "")
	d.removeImage(t, img) // gantry must pull it

	s := startStack(t, "", "--runtime", "docker")
	if !strings.Contains(s.log.String(), `runtime=docker`) {
		t.Errorf("gantry up did not log the docker runtime choice:\n%s", s.log.String())
	}
	s.mustGantry(svcYAML("app", img, "env: [{name: TARGET, value: Docker}]", "", ""), "apply", "-f", "-")
	body := s.waitServing("app.default.localhost", "Hello Docker! (version 1, revision app-00001)")
	t.Logf("served: %s", body)

	var rev revisionJSON
	if err := s.getJSON("/api/v1/revisions/default/app-00001", &rev); err != nil {
		t.Fatal(err)
	}
	repo := img[:strings.LastIndexByte(img, ':')]
	if len(rev.Status.ContainerStatuses) != 1 || !strings.HasPrefix(rev.Status.ContainerStatuses[0].ImageDigest, repo+"@sha256:") {
		t.Fatalf("containerStatuses %+v, want %s@sha256:...", rev.Status.ContainerStatuses, repo)
	}
	digest := rev.Status.ContainerStatuses[0].ImageDigest
	if out := s.mustGantry("", "get", "revisions", "app-00001"); !strings.Contains(out, digest[strings.IndexByte(digest, '@')+1:][:19]) {
		t.Errorf("gantry get revisions does not show the digest %s:\n%s", digest, out)
	}

	cs := d.containers(t, s.stateDir)
	if len(cs) != 1 {
		t.Fatalf("%d containers for the state dir, want 1", len(cs))
	}
	ins := d.inspect(t, cs[0].ID)
	for port, bs := range ins.HostConfig.PortBindings {
		for _, b := range bs {
			if b.HostIP.String() != "127.0.0.1" {
				t.Errorf("port %v published on %v, want 127.0.0.1 only", port, b.HostIP)
			}
		}
	}
	for _, k := range []string{"dev.gantry.state-dir", "dev.gantry.revision", "dev.gantry.instance"} {
		if ins.Config.Labels[k] == "" {
			t.Errorf("container lacks label %s: %v", k, ins.Config.Labels)
		}
	}
	if ins.Config.Labels["dev.gantry.revision"] != "default/app-00001" {
		t.Errorf("revision label %q", ins.Config.Labels["dev.gantry.revision"])
	}

	// The tag moves to a new build; a restarted instance still runs the
	// digest the revision was created with.
	d.buildImage(t, img, "2")
	d.push(t, img, "", "")
	if _, err := d.cli.ContainerKill(context.Background(), cs[0].ID, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the killed instance to be replaced", func() bool {
		cs := d.containers(t, s.stateDir)
		return len(cs) == 1 && cs[0].ID != ins.ID && cs[0].State == "running"
	})
	s.waitServing("app.default.localhost", "(version 1, revision app-00001)")
	var insts struct {
		Items []struct{ Restarts int } `json:"items"`
	}
	if err := s.getJSON("/api/v1/revisions/default/app-00001/instances", &insts); err != nil || len(insts.Items) != 1 || insts.Items[0].Restarts < 1 {
		t.Errorf("instances after a kill: %+v %v, want one with a restart", insts, err)
	}

	// A new revision resolves the tag again.
	s.mustGantry(svcYAML("app", img, "env: [{name: TARGET, value: Again}]", "", ""), "apply", "-f", "-")
	s.waitServing("app.default.localhost", "Hello Again! (version 2, revision app-00002)")
	var rev2 revisionJSON
	if err := s.getJSON("/api/v1/revisions/default/app-00002", &rev2); err != nil {
		t.Fatal(err)
	}
	if d2 := rev2.Status.ContainerStatuses[0].ImageDigest; d2 == digest || !strings.HasPrefix(d2, repo+"@sha256:") {
		t.Errorf("app-00002 digest %s, want a new digest of %s", d2, repo)
	}

	// Logs of the container are under the state dir and through gantry logs.
	out := s.mustGantry("", "logs", "app-00002")
	if !strings.Contains(out, "testimage starting, version 2") {
		t.Errorf("gantry logs app-00002:\n%s", out)
	}
}

// TestDockerContainerContract: the container gets what Kubernetes gives it.
func TestDockerContainerContract(t *testing.T) {
	d := requireDocker(t)
	img := d.registry + "/gantry-e2e/contract:v1"
	d.buildImage(t, img, "1")
	d.push(t, img, "", "")
	s := startStack(t, "", "--runtime", "docker")
	s.mustGantry(`apiVersion: v1
kind: Secret
metadata: {name: db, namespace: default}
type: Opaque
stringData: {password: s3cret, user: admin}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config, namespace: default}
data: {LOG_LEVEL: debug, app.conf: "mode=prod"}
`, "apply", "-f", "-")

	container := `command: ["/app"]
args: ["--greeting", "$(TARGET)", "$(PORT)", "$$(TARGET)"]
workingDir: /work
ports: [{containerPort: 9000}]
env:
  - {name: TARGET, value: contract}
  - {name: DERIVED, value: "x-$(TARGET)-y"}
  - name: DB_PASSWORD
    valueFrom: {secretKeyRef: {name: db, key: password}}
  - name: POD_NAME
    valueFrom: {fieldRef: {fieldPath: metadata.name}}
  - name: MEM_LIMIT_MI
    valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}
envFrom:
  - configMapRef: {name: app-config}
volumeMounts:
  - {name: secret, mountPath: /etc/secret}
  - {name: conf, mountPath: /etc/app}
  - {name: cache, mountPath: /cache}
securityContext: {runAsUser: 1234, runAsGroup: 5678, readOnlyRootFilesystem: true}
resources:
  limits: {cpu: 500m, memory: 64Mi}
  requests: {cpu: 250m, memory: 32Mi}`
	volumes := `volumes:
  - {name: secret, secret: {secretName: db}}
  - {name: conf, configMap: {name: app-config, items: [{key: app.conf, path: app.conf}]}}
  - {name: cache, emptyDir: {}}`
	s.mustGantry(svcYAML("contract", img, container, volumes, ""), "apply", "-f", "-")
	s.waitServing("contract.default.localhost", "Hello contract!")

	get := func(path string) (int, string) {
		code, body, err := s.request("contract.default.localhost", path)
		if err != nil {
			t.Fatal(err)
		}
		return code, body
	}
	var args []string
	_, body := get("/args")
	json.Unmarshal([]byte(body), &args)
	if want := []string{"/app", "--greeting", "contract", "9000", "$(TARGET)"}; fmt.Sprint(args) != fmt.Sprint(want) {
		t.Errorf("args %q, want %q (command replaces the entrypoint and drops the image's cmd; $(VAR) expanded)", args, want)
	}
	if _, cwd := get("/cwd"); cwd != "/work" {
		t.Errorf("working dir %q, want /work", cwd)
	}
	if _, id := get("/id"); id != "1234:5678" {
		t.Errorf("uid:gid %q, want 1234:5678", id)
	}
	if code, body := get("/write?path=/x"); code != 405 || !strings.Contains(body, "read-only") {
		t.Errorf("write on a read-only root: %d %q", code, body)
	}
	var env []string
	_, body = get("/env")
	json.Unmarshal([]byte(body), &env)
	for _, want := range []string{"PORT=9000", "K_REVISION=contract-00001", "K_SERVICE=contract", "K_CONFIGURATION=contract",
		"DERIVED=x-contract-y", "DB_PASSWORD=s3cret", "LOG_LEVEL=debug", "MEM_LIMIT_MI=64"} {
		if !contains(env, want) {
			t.Errorf("env lacks %s: %v", want, env)
		}
	}
	if !containsPrefix(env, "POD_NAME=contract-00001-") {
		t.Errorf("env lacks POD_NAME=<instance>: %v", env)
	}
	for path, want := range map[string]string{"/etc/secret/password": "s3cret", "/etc/secret/user": "admin", "/etc/app/app.conf": "mode=prod"} {
		if code, body := get("/file?path=" + path); code != 200 || body != want {
			t.Errorf("%s: %d %q, want %q", path, code, body, want)
		}
	}
	if code, body := get("/write?path=/etc/secret/new"); code != 405 {
		t.Errorf("secret volume writable: %d %q", code, body)
	}
	if code, body := get("/write?path=/cache/x"); code != 200 {
		t.Errorf("emptyDir not writable (as uid 1234 on a read-only root): %d %q", code, body)
	}
	// gantry get never prints a secret's values.
	if out := s.mustGantry("", "get", "secrets", "db", "-o", "yaml"); strings.Contains(out, "s3cret") || strings.Contains(out, "czNjcmV0") {
		t.Errorf("get secrets printed the value:\n%s", out)
	}
	cs := d.containers(t, s.stateDir)
	if len(cs) != 1 {
		t.Fatalf("%d containers", len(cs))
	}
	hc := d.inspect(t, cs[0].ID).HostConfig
	if hc.NanoCPUs != 500_000_000 || hc.Memory != 64<<20 || hc.CPUShares != 256 || hc.MemoryReservation != 32<<20 {
		t.Errorf("limits: nanoCPUs %d memory %d shares %d reservation %d", hc.NanoCPUs, hc.Memory, hc.CPUShares, hc.MemoryReservation)
	}
	if hc.OomScoreAdj < 0 {
		t.Errorf("OOM score adjustment %d: never ask for a negative one", hc.OomScoreAdj)
	}
}

func containsPrefix(list []string, p string) bool {
	for _, x := range list {
		if strings.HasPrefix(x, p) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestDockerBadInput: every way an image or container can fail ends in a
// clear reason in the revision's status, never a hang.
func TestDockerBadInput(t *testing.T) {
	d := requireDocker(t)
	img := d.registry + "/gantry-e2e/bad:v1"
	d.buildImage(t, img, "1")
	d.push(t, img, "", "")
	local := "gantry-e2e/local-only:v1" // built, never pushed
	d.buildImage(t, local, "1")
	s := startStack(t, "", "--runtime", "docker")

	apply := func(name, image, container, annotations string) {
		s.mustGantry(svcYAML(name, image, container, "", annotations), "apply", "-f", "-")
	}
	apply("missing", d.registry+"/gantry-e2e/does-not-exist:v1", "", "")
	apply("unreachable", "127.0.0.1:1/gantry-e2e/app:v1", "", "")
	apply("never", d.registry+"/gantry-e2e/not-here:v1", "imagePullPolicy: Never", "")
	apply("exits", img, "env: [{name: TESTAPP_EXIT, value: '3'}]", "")
	apply("noport", img, "env: [{name: TESTAPP_NO_LISTEN, value: '1'}]", "serving.knative.dev/progress-deadline: 8s")
	apply("oom", img, "resources: {limits: {memory: 32Mi}}", "")
	apply("local", local, "", "")

	if m := s.waitRevisionReason("missing-00001", "ContainerMissing", 60*time.Second); !strings.Contains(m, "not found") {
		t.Errorf("missing image: %q", m)
	}
	if m := s.waitRevisionReason("unreachable-00001", "ContainerMissing", 60*time.Second); !strings.Contains(m, "registry unreachable") {
		t.Errorf("unreachable registry: %q", m)
	}
	if m := s.waitRevisionReason("never-00001", "ErrImageNeverPull", 60*time.Second); !strings.Contains(m, "pull policy of Never") {
		t.Errorf("pull policy Never: %q", m)
	}
	if m := s.waitRevisionReason("exits-00001", "ExitCode3", 60*time.Second); !strings.Contains(m, "exiting at once with 3") {
		t.Errorf("exit at once: %q (want the app's last log line)", m)
	}
	if m := s.waitRevisionReason("noport-00001", "ProgressDeadlineExceeded", 60*time.Second); !strings.Contains(m, "8s") {
		t.Errorf("never opens its port: %q", m)
	}
	// An image built locally and never pushed runs (IfNotPresent).
	s.waitServing("local.default.localhost", "Hello")

	s.waitServing("oom.default.localhost", "Hello")
	s.request("oom.default.localhost", "/alloc?mb=200")
	if m := s.waitRevisionReason("oom-00001", "ExitCode137", 60*time.Second); !strings.Contains(m, "OOMKilled") {
		t.Errorf("OOM kill: %q", m)
	}
}

// TestDockerNoLeak: containers carry their state dir; a gantry up killed
// with SIGKILL leaves its containers, the next start removes them, and a
// normal stop removes all.
func TestDockerNoLeak(t *testing.T) {
	d := requireDocker(t)
	img := d.registry + "/gantry-e2e/leak:v1"
	d.buildImage(t, img, "1")
	d.push(t, img, "", "")
	state := t.TempDir()
	s := startStack(t, state, "--runtime", "docker")
	s.mustGantry(svcYAML("leak", img, "", "", "autoscaling.knative.dev/min-scale: '2'"), "apply", "-f", "-")
	waitFor(t, 60*time.Second, "2 running containers", func() bool { return len(d.containers(t, state)) == 2 })
	old := d.containers(t, state)

	s.cmd.Process.Kill()
	<-s.done
	if n := len(d.containers(t, state)); n != 2 {
		t.Fatalf("after kill -9: %d containers, want the 2 left behind", n)
	}
	s2 := startStack(t, state, "--runtime", "docker")
	if !strings.Contains(s2.log.String(), "removed leftover containers") {
		t.Errorf("restart did not say it removed leftovers:\n%s", s2.log.String())
	}
	waitFor(t, 60*time.Second, "2 new containers", func() bool {
		cs := d.containers(t, state)
		if len(cs) != 2 {
			return false
		}
		for _, c := range cs {
			for _, o := range old {
				if c.ID == o.ID {
					return false
				}
			}
		}
		return true
	})
	s2.stop()
	if cs := d.containers(t, state); len(cs) != 0 {
		t.Errorf("after stop: %d containers left", len(cs))
	}
}

// TestDockerNoEngine: --runtime docker with no engine fails at once with one
// line saying how to start one; auto falls back to processes and says why.
func TestDockerNoEngine(t *testing.T) {
	cmd := exec.Command(gantryBin, "up", "--runtime", "docker", "--state-dir", t.TempDir(), "--gateway-addr", freeAddr(t),
		"--gateway-tls-addr", freeAddr(t), "--ui-addr", freeAddr(t))
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+filepath.Join(t.TempDir(), "none.sock"))
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("gantry up --runtime docker with no engine succeeded:\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := lines[len(lines)-1]
	if !strings.Contains(last, "no Docker Engine API answers") || !strings.Contains(last, "start one") {
		t.Errorf("last line %q", last)
	}

	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "none.sock"))
	s := startStack(t, "", "--runtime", "auto")
	if !strings.Contains(s.log.String(), "runtime=process") || !strings.Contains(s.log.String(), "no Docker Engine API answers") {
		t.Errorf("auto without an engine did not say it runs processes and why:\n%s", s.log.String())
	}
	s.mustGantry(helloYAML("Fallback"), "apply", "-f", "-")
	s.waitServing("hello.default.localhost", "Hello Fallback!")
}

// TestDockerProbes: exec, httpGet and tcpSocket probes run against the
// container; a failing liveness probe restarts it, with the reason shown.
func TestDockerProbes(t *testing.T) {
	d := requireDocker(t)
	img := d.registry + "/gantry-e2e/probes:v1"
	d.buildImage(t, img, "1")
	d.push(t, img, "", "")
	s := startStack(t, "", "--runtime", "docker")
	s.mustGantry(svcYAML("execready", img, `readinessProbe: {exec: {command: ["/app", "check", "/app"]}}
livenessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
startupProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}`, "", ""), "apply", "-f", "-")
	s.mustGantry(svcYAML("notready", img, `readinessProbe: {exec: {command: ["/app", "check", "/missing"]}}`, "", "serving.knative.dev/progress-deadline: 6s"), "apply", "-f", "-")
	s.mustGantry(svcYAML("dies", img, `livenessProbe: {httpGet: {path: /no-such-path-404}, periodSeconds: 1, failureThreshold: 2}`, "", ""), "apply", "-f", "-")

	s.waitServing("execready.default.localhost", "Hello")
	if m := s.waitRevisionReason("notready-00001", "ProgressDeadlineExceeded", 60*time.Second); m == "" {
		t.Error("exec readiness probe that fails: no reason")
	}
	var insts struct {
		Items []struct {
			Restarts int
			Reason   string
			Message  string
		} `json:"items"`
	}
	waitFor(t, 60*time.Second, "the liveness probe to restart the container", func() bool {
		if err := s.getJSON("/api/v1/revisions/default/dies-00001/instances", &insts); err != nil || len(insts.Items) == 0 {
			return false
		}
		return insts.Items[0].Restarts >= 1
	})
	if !strings.Contains(s.log.String(), "liveness probe failed") {
		t.Errorf("gantry up did not log the liveness failure")
	}
}

// authRegistry runs a registry on 127.0.0.1 that wants user:password
// (htpasswd), for as long as the test runs; it returns its host:port.
func authRegistry(t *testing.T, user, password string) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Fatalf("docker-registry (Debian docker-registry) is needed: %v", err)
	}
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: %s/data}}
http: {addr: %s}
auth: {htpasswd: {realm: gantry-e2e, path: %s/htpasswd}}
`, dir, addr, dir)
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, 10*time.Second, "the auth registry", func() bool {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusUnauthorized
	})
	return addr
}

// TestDockerRegistryCredentials: credentials come from imagePullSecrets
// (kubernetes.io/dockerconfigjson Secrets applied with gantry apply) and
// from the Docker config file; wrong ones are a clear reason.
func TestDockerRegistryCredentials(t *testing.T) {
	d := requireDocker(t)
	reg := authRegistry(t, "gantry", "letmein")
	img := reg + "/gantry-e2e/private:v1"
	d.buildImage(t, img, "1")
	d.push(t, img, "gantry", "letmein")
	d.removeImage(t, img)

	// The Docker config file of the user running gantry up.
	cfgDir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("gantry:letmein"))
	os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(`{"auths":{"`+reg+`":{"auth":"`+auth+`"}}}`), 0o600)
	t.Setenv("DOCKER_CONFIG", cfgDir)
	s := startStack(t, "", "--runtime", "docker")
	s.mustGantry(svcYAML("fromconfig", img, "", "", ""), "apply", "-f", "-")
	s.waitServing("fromconfig.default.localhost", "Hello")
	s.stop()
	d.removeImage(t, img)

	// No config file: an imagePullSecret, and a wrong one.
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	s = startStack(t, "", "--runtime", "docker")
	secret := func(name, password string) string {
		cfg := fmt.Sprintf(`{"auths":{%q:{"username":"gantry","password":%q}}}`, reg, password)
		return fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: %s, namespace: default}\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '%s'\n", name, cfg)
	}
	s.mustGantry(secret("regcred", "letmein")+"---\n"+secret("badcred", "wrong"), "apply", "-f", "-")
	s.mustGantry(svcYAML("withsecret", img, "", "imagePullSecrets: [{name: regcred}]", ""), "apply", "-f", "-")
	s.mustGantry(svcYAML("badsecret", img+"x", "", "imagePullSecrets: [{name: badcred}]", ""), "apply", "-f", "-")
	s.mustGantry(svcYAML("nosecret", img+"y", "", "", ""), "apply", "-f", "-")
	s.waitServing("withsecret.default.localhost", "Hello")
	for _, rev := range []string{"badsecret-00001", "nosecret-00001"} {
		if m := s.waitRevisionReason(rev, "ContainerMissing", 60*time.Second); !strings.Contains(m, "unauthorized") {
			t.Errorf("%s: %q, want it to say unauthorized", rev, m)
		}
	}
	if out := s.mustGantry("", "get", "secrets", "regcred", "-o", "json"); strings.Contains(out, "letmein") {
		t.Errorf("get secrets printed the registry password:\n%s", out)
	}
}
