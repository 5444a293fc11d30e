// Package process runs a revision's container as a host process: the
// container's command and args name the executable. It is the runtime where
// no container engine answers. Knative's sample images (helloworld-go) and
// gantry/sample-app with no command run the bundled sample app, so the
// getting-started manifests serve unchanged.
package process

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/controller/podspec"
	"github.com/gantry-dev/gantry/controller/runtime"
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
	return p, nil
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
	cmd, err := StartProcess(argv[0], argv[1:], podspec.EnvMap(c.Env), c.WorkingDir, s.LogPath)
	if err != nil {
		return nil, &runtime.Error{Reason: "ExecFailed", Message: fmt.Sprintf("cannot start %q: %v", argv[0], err), Err: err}
	}
	a := &app{cmd: cmd, addr: "127.0.0.1:" + strconv.Itoa(c.Port), done: make(chan struct{})}
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

type app struct {
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

// Exec runs argv on the host, in the app's working directory and environment,
// as the nearest a host process has to running inside its container.
func (a *app) Exec(ctx context.Context, argv []string) (int, []byte, error) {
	if len(argv) == 0 {
		return -1, nil, fmt.Errorf("exec: empty command")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = a.cmd.Env, a.cmd.Dir
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out, nil
	}
	if err != nil {
		return -1, out, err
	}
	return 0, out, nil
}
