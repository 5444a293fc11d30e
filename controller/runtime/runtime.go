// Package runtime is the seam between Gantry's one-machine supervisor
// (controller/local: instances, queue-proxies, probes, restarts) and what
// actually runs a revision's container. A revision runs in one of three ways:
//
//   - controller/runtime/process: a host process (no container engine);
//   - controller/runtime/docker: a container of the user's image through the
//     Docker Engine API (Docker, Podman, Colima, OrbStack);
//   - controller/kube: a Deployment with a queue-proxy sidecar on Kubernetes
//     (it replaces the supervisor as a whole, not just the backend).
package runtime

import (
	"context"
	"errors"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/controller/podspec"
)

// Backend starts the app container of one revision instance. The supervisor
// owns restarts, probes and the queue-proxy; a backend only starts, watches
// and stops one app.
type Backend interface {
	// Name is "process" or "docker".
	Name() string
	// Port is the value of $PORT for an app whose manifest declares
	// declared (0: none): a free host port for a process, the container port
	// in a container.
	Port(declared int32) (int, error)
	// Prepare readies the image every instance of rev runs (pull, tag to
	// digest); it is called before each start and does its work once per
	// revision. progress reports pull progress lines.
	Prepare(ctx context.Context, rev *api.Revision, c *podspec.Container, progress func(string)) (Prepared, error)
	// Start starts the app of one instance; it returns once the app was
	// started (not when it is ready).
	Start(ctx context.Context, s Spec) (App, error)
	// Close releases what the backend holds (not the apps: the supervisor
	// stops those first).
	Close() error
}

// Prepared is the result of Backend.Prepare.
type Prepared struct {
	// Image is what Start runs: the digest reference when resolved.
	Image string
	// Digest is shown in the revision's containerStatuses[].imageDigest
	// (repo@sha256:...), empty when resolution was skipped.
	Digest string
	// Notes are parts of the podspec this backend honours differently than
	// Kubernetes would (shown in the revision's status, never silent).
	Notes []string
}

// Spec is one instance to start.
type Spec struct {
	Instance  string // unique name: the pod name
	Revision  *api.Revision
	Container *podspec.Container
	Prepared  Prepared
	// VolumeDir holds the instance's volumes on the host, one folder per
	// volume name, written by the supervisor (podspec.WriteVolumes).
	VolumeDir string
	// LogPath is the file the app's stdout and stderr are appended to.
	LogPath string
	// Labels identify what the backend creates (state dir, revision,
	// instance), so leftovers of a crashed gantry can be found and removed.
	Labels map[string]string
}

// App is a started app.
type App interface {
	// Addr is the host:port where the app's $PORT is reached from this
	// host: 127.0.0.1, or a container's bridge IP.
	Addr() string
	// Done is closed when the app has exited.
	Done() <-chan struct{}
	// Exit says how it ended; valid once Done is closed.
	Exit() Exit
	// Stop sends SIGTERM, waits up to grace, then kills; it returns when the
	// app is gone and its resources are released.
	Stop(grace time.Duration)
	// ResourceEnv tells the queue-proxy where to read the app's CPU and
	// memory (GANTRY_APP_PID or GANTRY_APP_CGROUP).
	ResourceEnv() map[string]string
	// Exec runs argv inside the app's container (exec probes) and returns
	// its exit code and output.
	Exec(ctx context.Context, argv []string) (int, []byte, error)
}

// Exit is how an app ended, with a Kubernetes-style reason.
type Exit struct {
	Reason  string // ExitCode1, ExitCode137, OOMKilled, ...
	Message string
}

// Error is a failure to prepare or start with a reason for the revision's
// status. Permanent errors are not retried until the revision changes.
type Error struct {
	Reason, Message string
	Permanent       bool
	Err             error
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

// ErrUnsupported is returned by App.Exec where the backend cannot run a
// command inside the app.
var ErrUnsupported = errors.New("not supported by this runtime")
