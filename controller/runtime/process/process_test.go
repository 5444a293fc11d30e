package process

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/controller/podspec"
	"github.com/gantry-dev/gantry/controller/runtime"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// The test binary stands in for gantry's hidden mount-and-exec command.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == MountExecCommand {
		os.Exit(MountExec(os.Args[2:]))
	}
	os.Exit(m.Run())
}

type objects struct{}

func (objects) Secret(ns, name string) (*api.Secret, bool) {
	if ns != "default" || name != "db" {
		return nil, false
	}
	return &api.Secret{Data: map[string][]byte{"password": []byte("from-data"), "user": []byte("admin")},
		StringData: map[string]string{"password": "s3cret"}}, true
}

func (objects) ConfigMap(ns, name string) (*api.ConfigMap, bool) {
	if ns != "default" || name != "app" {
		return nil, false
	}
	return &api.ConfigMap{Data: map[string]string{"LEVEL": "debug", "app.yaml": "a: 1\n"}}, true
}

// resolve resolves a revision of the PodSpec in YAML, with "MNT" in it
// replaced by a fresh folder for mount paths.
func resolve(t *testing.T, spec, mnt string) *podspec.Container {
	t.Helper()
	rev := &api.Revision{ObjectMeta: metav1.ObjectMeta{Name: "hello-00001", Namespace: "default",
		Labels: map[string]string{api.LabelService: "hello", api.LabelConfiguration: "hello"}}}
	if err := yaml.UnmarshalStrict([]byte(strings.ReplaceAll(spec, "MNT", mnt)), &rev.Spec.PodSpec); err != nil {
		t.Fatalf("bad test spec: %v", err)
	}
	c, err := podspec.Resolve(rev, 0, podspec.Pod{Name: "hello-00001-x", Namespace: "default", Labels: map[string]string{"app": "hello"}}, objects{})
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	return c
}

func testBackend(t *testing.T) *Backend {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return &Backend{Binary: exe}
}

// run starts c as the process backend does and returns its log once it exited.
func run(t *testing.T, b *Backend, c *podspec.Container, check func(runtime.App)) (runtime.Exit, string) {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	if _, err := b.Prepare(ctx, &api.Revision{}, c, nil); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	volDir := ""
	if len(c.Volumes) > 0 {
		volDir = filepath.Join(dir, "volumes", "default", "hello-00001-x")
		if err := podspec.WriteVolumes(volDir, c); err != nil {
			t.Fatalf("WriteVolumes: %v", err)
		}
	}
	log := filepath.Join(dir, "app.log")
	app, err := b.Start(ctx, runtime.Spec{Instance: "hello-00001-x", Container: c, VolumeDir: volDir, LogPath: log})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if check != nil {
		check(app)
	}
	select {
	case <-app.Done():
	case <-time.After(20 * time.Second):
		app.Stop(time.Second)
		t.Fatal("the app did not exit")
	}
	out, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	return app.Exit(), string(out)
}

// env, envFrom and valueFrom reach the process.
func TestStartEnvironment(t *testing.T) {
	c := resolve(t, `
containers:
- image: x
  command: [sh, -c, 'echo "$LEVEL $DB_user $PW $NAME $APP"']
  envFrom: [{configMapRef: {name: app}}, {secretRef: {name: db}, prefix: DB_}]
  env:
  - {name: PW, valueFrom: {secretKeyRef: {name: db, key: password}}}
  - {name: NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
  - {name: APP, valueFrom: {fieldRef: {fieldPath: "metadata.labels['app']"}}}`, "")
	exit, out := run(t, testBackend(t), c, nil)
	if want := "debug admin s3cret hello-00001-x hello\n"; out != want || exit.Reason != "ExitCode0" {
		t.Errorf("exit %v, output %q, want %q", exit, out, want)
	}
}

func requireRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: bind mounts in a private mount namespace")
	}
}

// Volumes are seen at their mountPath, read-only where Kubernetes mounts
// them so, by the app and its exec probes only, as the container's user.
func TestStartVolumesAsRoot(t *testing.T) {
	requireRoot(t)
	mnt := t.TempDir()
	// Reachable by the container's user, as / and /etc are.
	for _, d := range []string{mnt, filepath.Dir(mnt)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c := resolve(t, `
securityContext: {runAsUser: 65534, runAsGroup: 65534}
volumes:
- {name: db, secret: {secretName: db, defaultMode: 0444}}
- {name: cfg, configMap: {name: app}}
- {name: scratch, emptyDir: {}}
- {name: mem, emptyDir: {medium: Memory, sizeLimit: 1Mi}}
containers:
- image: x
  workingDir: MNT/scratch
  command: [sh, -c, 'cat MNT/etc/db/password; echo; cat MNT/app.yaml; id -u; id -g; pwd;
    touch MNT/etc/db/new 2>/dev/null && echo secret-writable; touch new && echo scratch-writable;
    stat -f -c %T MNT/mem; sleep 0.3']
  volumeMounts:
  - {name: db, mountPath: MNT/etc/db, readOnly: true}
  - {name: cfg, mountPath: MNT/app.yaml, subPath: app.yaml, readOnly: true}
  - {name: scratch, mountPath: MNT/scratch}
  - {name: mem, mountPath: MNT/mem}`, mnt)
	var probe string
	exit, out := run(t, testBackend(t), c, func(app runtime.App) {
		code, b, err := app.Exec(context.Background(), []string{"sh", "-c", "cat " + mnt + "/etc/db/password; id -u"})
		probe = string(b)
		if err != nil || code != 0 {
			t.Errorf("Exec: %d %v %s", code, err, b)
		}
	})
	want := "s3cret\na: 1\n65534\n65534\n" + mnt + "/scratch\nscratch-writable\ntmpfs\n"
	if d := cmp.Diff(want, out); d != "" || exit.Reason != "ExitCode0" {
		t.Errorf("exit %v, output (-want +got):\n%s", exit, d)
	}
	if want := "s3cret65534\n"; probe != want {
		t.Errorf("exec probe saw %q, want %q", probe, want)
	}
	// The host sees the (created) mount points, empty.
	for _, p := range []string{"etc/db", "scratch", "mem"} {
		if ents, err := os.ReadDir(filepath.Join(mnt, p)); err != nil || len(ents) != 0 {
			t.Errorf("host %s: %v %v, want an empty folder", p, ents, err)
		}
	}
}

// runAsUser without volumes: the process starts as that user.
func TestStartRunAsUserAsRoot(t *testing.T) {
	requireRoot(t)
	c := resolve(t, `
containers:
- image: x
  command: [sh, -c, 'id -u; id -g']
  securityContext: {runAsUser: 65534}`, "")
	exit, out := run(t, testBackend(t), c, nil)
	if !strings.HasPrefix(out, "65534\n") || exit.Reason != "ExitCode0" {
		t.Errorf("exit %v, output %q, want uid 65534", exit, out)
	}
}

// A missing executable behind the mount helper is a clear exit.
func TestStartMissingCommandWithVolumes(t *testing.T) {
	requireRoot(t)
	mnt := t.TempDir()
	c := resolve(t, `
volumes: [{name: s, emptyDir: {}}]
containers: [{image: x, command: [no-such-command-gantry], volumeMounts: [{name: s, mountPath: MNT/s}]}]`, mnt)
	exit, out := run(t, testBackend(t), c, nil)
	if exit.Reason != "ExitCode127" || !strings.Contains(out, `"no-such-command-gantry": executable file not found`) {
		t.Errorf("exit %v, output %q", exit, out)
	}
}

// Without root, mounts and another user fail in Prepare, before any Secret
// is written, with a reason that says what to do.
func TestPrepareUnprivileged(t *testing.T) {
	defer func(f func() int) { geteuid = f }(geteuid)
	geteuid = func() int { return 1000 }
	for _, tc := range []struct {
		name, spec, reason, message string
	}{{
		name: "volume mounts",
		spec: `
volumes: [{name: db, secret: {secretName: db}}]
containers: [{image: x, command: [app], volumeMounts: [{name: db, mountPath: /etc/db, readOnly: true}]}]`,
		reason:  "VolumeMountUnsupported",
		message: "process runtime: a host process sees volumes at their mountPath only when gantry up runs as root on Linux (it bind-mounts them in a private mount namespace); it runs as uid 1000, so /etc/db (volume db) cannot be mounted. Gantry writes the files under STATE_DIR/volumes/NAMESPACE/INSTANCE/VOLUME; run gantry up as root, or use the docker runtime, which mounts them",
	}, {
		name:    "runAsUser",
		spec:    `{securityContext: {runAsUser: 1001, runAsGroup: 1001}, containers: [{image: x, command: [app]}]}`,
		reason:  "RunAsUserUnsupported",
		message: "process runtime: runAsUser 1001 / runAsGroup 1001 need gantry up to run as root to start a host process as another user; it runs as uid 1000 gid " + strconv.Itoa(os.Getegid()) + ". Run it as root, drop runAsUser/runAsGroup, or use the docker runtime",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := testBackend(t).Prepare(context.Background(), &api.Revision{}, resolve(t, tc.spec, ""), nil)
			var re *runtime.Error
			if !errors.As(err, &re) {
				t.Fatalf("Prepare: %v, want a *runtime.Error", err)
			}
			if d := cmp.Diff(runtime.Error{Reason: tc.reason, Message: tc.message, Permanent: true}, *re); d != "" {
				t.Errorf("error (-want +got):\n%s", d)
			}
		})
	}
}

// What a host process cannot enforce is reported, not failed.
func TestPrepareNotes(t *testing.T) {
	defer func(f func() int) { geteuid = f }(geteuid)
	geteuid = func() int { return 0 } // mounts allowed
	c := resolve(t, `
volumes: [{name: s, emptyDir: {sizeLimit: 1Gi}}]
containers:
- image: x
  command: [app]
  securityContext: {readOnlyRootFilesystem: true}
  resources: {limits: {cpu: 500m, memory: 128Mi}}
  volumeMounts: [{name: s, mountPath: /s}]`, "")
	p, err := testBackend(t).Prepare(context.Background(), &api.Revision{}, c, nil)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	want := []string{
		"process runtime: image x is not run; command app runs on this machine",
		"process runtime: readOnlyRootFilesystem is not enforced: a host process can write wherever its user may",
		"process runtime: resources.limits (cpu 500m, memory 128Mi) are not enforced for a host process",
		"process runtime: emptyDir s sizeLimit is not enforced (a Memory emptyDir's is, by its tmpfs)",
	}
	if d := cmp.Diff(want, p.Notes); d != "" {
		t.Errorf("notes (-want +got):\n%s", d)
	}
}
