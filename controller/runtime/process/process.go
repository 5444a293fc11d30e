// Package process runs a revision's container as a host process: the
// container's command and args name the executable. It is the runtime where
// no container engine answers. Knative's sample images (helloworld-go) and
// gantry/sample-app with no command run the bundled sample app, so the
// getting-started manifests serve unchanged.
package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/controller/podspec"
	"github.com/gantry-dev/gantry/controller/runtime"
	"k8s.io/apimachinery/pkg/api/resource"
)

// SampleAppImage runs the bundled sample app when a container has no command.
const SampleAppImage = "gantry/sample-app"

// sampleAppImages are images whose documented behaviour the bundled sample
// app reproduces ("Hello $TARGET!").
var sampleAppImages = []string{
	SampleAppImage,
	"ghcr.io/knative/helloworld-go",
	"gcr.io/knative-samples/helloworld-go",
	"docker.io/gantry/sample-app",
}

// IsSampleAppImage reports whether image is one the sample app stands in for.
func IsSampleAppImage(image string) bool {
	name := image
	if i := strings.IndexByte(name, '@'); i >= 0 {
		name = name[:i]
	}
	if i := strings.LastIndexByte(name, ':'); i >= 0 && !strings.Contains(name[i:], "/") {
		name = name[:i]
	}
	for _, s := range sampleAppImages {
		if name == s {
			return true
		}
	}
	return false
}

// Backend runs apps as host processes.
type Backend struct {
	// Binary is the gantry executable, run as `gantry sample-app`.
	Binary string
}

var _ runtime.Backend = (*Backend)(nil)

// Name implements runtime.Backend.
func (b *Backend) Name() string { return "process" }

// Port implements runtime.Backend: every process gets a free port.
func (b *Backend) Port(int32) (int, error) { return FreePort() }

// Prepare implements runtime.Backend: nothing is pulled.
func (b *Backend) Prepare(_ context.Context, rev *api.Revision, c *podspec.Container, _ func(string)) (runtime.Prepared, error) {
	p := runtime.Prepared{Image: c.Image}
	switch {
	case len(c.Command) > 0:
		if c.Image != "" {
			p.Notes = append(p.Notes, fmt.Sprintf("process runtime: image %s is not run; command %s runs on this machine", c.Image, c.Command[0]))
		}
	case IsSampleAppImage(c.Image):
		p.Notes = append(p.Notes, fmt.Sprintf("process runtime: image %s is stood in for by the bundled sample app", c.Image))
	case c.Image != "":
		return p, &runtime.Error{Reason: "ImageNotRunnable", Permanent: true, Message: fmt.Sprintf(
			"image %q cannot run: no container engine is used (gantry up --runtime process, or no Docker API answered); set the container's command (and args) to an executable on this machine, or use image %s", c.Image, SampleAppImage)}
	default:
		return p, &runtime.Error{Reason: "NoCommand", Permanent: true, Message: "container " + c.Name + " has neither image nor command"}
	}
	if err := checkPrivileges(c); err != nil {
		return p, err
	}
	p.Notes = append(p.Notes, unenforced(c)...)
	return p, nil
}

// checkPrivileges fails, before any Secret is written to disk, what a host
// process cannot honour without root: mounts and another user.
func checkPrivileges(c *podspec.Container) error {
	if len(c.Mounts) > 0 && !canMount() {
		var paths []string
		for _, m := range c.Mounts {
			paths = append(paths, m.Path+" (volume "+m.Volume+")")
		}
		return &runtime.Error{Reason: "VolumeMountUnsupported", Permanent: true, Message: fmt.Sprintf(
			"process runtime: a host process sees volumes at their mountPath only when gantry up runs as root on Linux (it bind-mounts them in a private mount namespace); it runs as uid %d, so %s cannot be mounted. Gantry writes the files under STATE_DIR/volumes/NAMESPACE/INSTANCE/VOLUME; run gantry up as root, or use the docker runtime, which mounts them",
			geteuid(), strings.Join(paths, ", "))}
	}
	if cr := credentialOf(c); cr != nil && geteuid() != 0 && (cr.UID != uint32(geteuid()) || cr.GID != uint32(os.Getegid())) {
		return &runtime.Error{Reason: "RunAsUserUnsupported", Permanent: true, Message: fmt.Sprintf(
			"process runtime: runAsUser %d / runAsGroup %d need gantry up to run as root to start a host process as another user; it runs as uid %d gid %d. Run it as root, drop runAsUser/runAsGroup, or use the docker runtime",
			cr.UID, cr.GID, geteuid(), os.Getegid())}
	}
	return nil
}

// unenforced are the parts of c a host process runs without: they are
// reported, not failed, since the app itself runs as asked.
func unenforced(c *podspec.Container) []string {
	var notes []string
	if c.ReadOnlyRootFilesystem {
		notes = append(notes, "process runtime: readOnlyRootFilesystem is not enforced: a host process can write wherever its user may")
	}
	if l := c.Limits; l.MilliCPU > 0 || l.MemoryBytes > 0 {
		var parts []string
		if l.MilliCPU > 0 {
			parts = append(parts, "cpu "+resource.NewMilliQuantity(l.MilliCPU, resource.DecimalSI).String())
		}
		if l.MemoryBytes > 0 {
			parts = append(parts, "memory "+resource.NewQuantity(l.MemoryBytes, resource.BinarySI).String())
		}
		notes = append(notes, "process runtime: resources.limits ("+strings.Join(parts, ", ")+") are not enforced for a host process")
	}
	for _, v := range c.Volumes {
		if v.EmptyDir && v.SizeLimit > 0 && v.Medium != "Memory" {
			notes = append(notes, fmt.Sprintf("process runtime: emptyDir %s sizeLimit is not enforced (a Memory emptyDir's is, by its tmpfs)", v.Name))
		}
	}
	return notes
}

// Start implements runtime.Backend.
func (b *Backend) Start(_ context.Context, s runtime.Spec) (runtime.App, error) {
	c := s.Container
	var argv []string
	if len(c.Command) > 0 {
		argv = append(append(argv, c.Command...), c.Args...)
	} else {
		argv = append([]string{b.Binary, "sample-app"}, c.Args...)
	}
	l, err := b.launcher(c, s.VolumeDir)
	if err != nil {
		return nil, &runtime.Error{Reason: "VolumeMountFailed", Permanent: true, Message: err.Error(), Err: err}
	}
	cmd, err := startProcess(l.command(argv), podspec.EnvMap(c.Env), l.dir, s.LogPath, l.attr)
	if err != nil && l.spec != nil && errors.Is(err, syscall.EPERM) {
		return nil, &runtime.Error{Reason: "VolumeMountUnsupported", Permanent: true, Err: err, Message: fmt.Sprintf(
			"process runtime: cannot create a mount namespace for the volumes (%v): gantry up runs as root but without CAP_SYS_ADMIN (in a container?); the files are at %s; use the docker runtime, which mounts them", err, s.VolumeDir)}
	}
	if err != nil {
		return nil, &runtime.Error{Reason: "ExecFailed", Message: fmt.Sprintf("cannot start %q: %v", argv[0], err), Err: err}
	}
	a := &app{cmd: cmd, l: l, addr: "127.0.0.1:" + strconv.Itoa(c.Port), done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		a.mu.Lock()
		a.exit.Reason, a.exit.Message = ExitReason(err)
		a.mu.Unlock()
		close(a.done)
	}()
	return a, nil
}

// Close implements runtime.Backend.
func (b *Backend) Close() error { return nil }

// launcher starts the app's (and its exec probes') processes: directly,
// with the container's user when it names one, or, with volumes, through
// MountExecCommand in a new mount namespace.
type launcher struct {
	spec   *execSpec // nil: no helper
	binary string
	dir    string
	attr   func(*syscall.SysProcAttr)
}

func (b *Backend) launcher(c *podspec.Container, volDir string) (*launcher, error) {
	if len(c.Mounts) == 0 {
		l := &launcher{dir: c.WorkingDir, attr: func(*syscall.SysProcAttr) {}}
		if cr := credentialOf(c); cr != nil && geteuid() == 0 {
			l.attr = func(a *syscall.SysProcAttr) {
				a.Credential = &syscall.Credential{Uid: cr.UID, Gid: cr.GID}
			}
		}
		return l, nil
	}
	if volDir == "" {
		return nil, fmt.Errorf("process runtime: the container mounts volumes but no volume folder was written")
	}
	spec, err := mountSpec(c, volDir)
	if err != nil {
		return nil, err
	}
	// The helper changes to the working directory once the mounts are up.
	return &launcher{spec: spec, binary: b.Binary, attr: func(a *syscall.SysProcAttr) {
		// Unshareflags (not Cloneflags) also makes "/" private in the child.
		a.Unshareflags = syscall.CLONE_NEWNS
	}}, nil
}

// command is the argv that runs argv as the container.
func (l *launcher) command(argv []string) []string {
	if l.spec == nil {
		return argv
	}
	s := *l.spec
	s.Argv = argv
	b, _ := json.Marshal(&s) // plain strings and numbers: cannot fail
	return []string{l.binary, MountExecCommand, string(b)}
}

type app struct {
	l    *launcher
	cmd  *exec.Cmd
	addr string
	done chan struct{}
	mu   sync.Mutex
	exit runtime.Exit
}

func (a *app) Addr() string          { return a.addr }
func (a *app) Done() <-chan struct{} { return a.done }
func (a *app) Exit() runtime.Exit {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.exit
}
func (a *app) Stop(grace time.Duration) { StopGroup(a.cmd, a.done, grace) }
func (a *app) ResourceEnv() map[string]string {
	return map[string]string{"GANTRY_APP_PID": strconv.Itoa(a.cmd.Process.Pid)}
}

// Exec runs argv on the host, in the app's working directory, environment,
// user and mounts, as the nearest a host process has to running inside its
// container.
func (a *app) Exec(ctx context.Context, argv []string) (int, []byte, error) {
	if len(argv) == 0 {
		return -1, nil, fmt.Errorf("exec: empty command")
	}
	full := a.l.command(argv)
	cmd := exec.CommandContext(ctx, full[0], full[1:]...)
	cmd.Env, cmd.Dir = a.cmd.Env, a.cmd.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	a.l.attr(cmd.SysProcAttr)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out, nil
	}
	if err != nil {
		return -1, out, err
	}
	return 0, out, nil
}
