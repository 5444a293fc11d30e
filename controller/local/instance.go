package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/controller/podspec"
	"github.com/gantry-dev/gantry/controller/runtime"
	"github.com/gantry-dev/gantry/controller/runtime/process"
	"github.com/gantry-dev/gantry/queueproxy"
)

// instance supervises one app process and its queue-proxy.
type instance struct {
	name    string
	rev     *api.Revision
	rt      *Runtime
	logPath string
	qpLog   string

	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	ready     bool
	addr      string // the queue-proxy's HTTP address
	ports     ports
	appPID    int
	restarts  int
	everReady bool
	failed    bool
	reason    string
	message   string
	started   time.Time
	prepared  runtime.Prepared
	progress  string // what the instance is doing while not ready (pulling ...)
}

// InstanceInfo is what the runtime reports of one instance.
type InstanceInfo struct {
	Name     string `json:"name"`
	Ready    bool   `json:"ready"`
	Address  string `json:"address,omitempty"`
	Ports    ports  `json:"ports"`
	AppPID   int    `json:"appPid,omitempty"`
	Restarts int    `json:"restarts"`
	Reason   string `json:"reason,omitempty"`
	Message  string `json:"message,omitempty"`
	Log      string `json:"log"`
}

type ports struct {
	HTTP    int    `json:"http"`
	H2C     int    `json:"h2c"`
	Admin   int    `json:"admin"`
	Stats   int    `json:"stats"`
	Metrics int    `json:"metrics"`
	Unix    string `json:"unix,omitempty"` // the HTTP port's Unix socket, for the gateway
}

var errPermanent = errors.New("not runnable")

// maxUnixPath: a Unix socket's path must fit sockaddr_un (108 bytes on
// Linux, 104 on the BSDs); a longer state dir keeps the gateway on TCP.
const maxUnixPath = 100

func (in *instance) info() InstanceInfo {
	in.mu.Lock()
	defer in.mu.Unlock()
	return InstanceInfo{Name: in.name, Ready: in.ready, Address: in.addr, Ports: in.ports, AppPID: in.appPID,
		Restarts: in.restarts, Reason: in.reason, Message: in.message, Log: in.logPath}
}

func (in *instance) setReady(ready bool, addr string) {
	in.mu.Lock()
	changed := in.ready != ready || in.addr != addr
	in.ready, in.addr = ready, addr
	if ready {
		in.everReady, in.failed, in.reason, in.message = true, false, "", ""
	}
	in.mu.Unlock()
	if changed {
		in.rt.notify()
	}
}

// setProgress records what a not-yet-ready instance is doing.
func (in *instance) setProgress(phase, line string) {
	msg := phase
	if line != "" {
		msg += ": " + line
	}
	in.mu.Lock()
	changed := in.progress != msg
	in.progress = msg
	in.mu.Unlock()
	if changed {
		in.rt.notify()
	}
}

func (in *instance) setFailed(reason, msg string) {
	in.mu.Lock()
	in.ready, in.addr = false, ""
	in.failed, in.reason, in.message = true, reason, msg
	in.mu.Unlock()
	in.rt.notify()
}

// run restarts the instance with exponential back-off until ctx ends.
func (in *instance) run(ctx context.Context) {
	defer close(in.done)
	backoff := time.Duration(0)
	for {
		start := time.Now()
		err := in.runOnce(ctx)
		if ctx.Err() != nil {
			in.setReady(false, "")
			return
		}
		if errors.Is(err, errPermanent) {
			<-ctx.Done()
			return
		}
		in.mu.Lock()
		in.restarts++
		in.mu.Unlock()
		in.rt.log.Warn("instance exited", "instance", in.name, "err", err, "restartIn", backoff)
		if time.Since(start) > time.Minute {
			backoff = 0 // it ran fine for a while: restart at once
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(max(2*backoff, time.Second), 30*time.Second)
	}
}

// runOnce starts the app and its queue-proxy, waits for readiness, and
// returns when either exits (an error) or ctx ends (nil).
func (in *instance) runOnce(ctx context.Context) error {
	b := in.rt.opts.Backend
	port, err := b.Port(podspec.DeclaredPort(in.rev))
	if err != nil {
		in.setFailed("PortUnavailable", err.Error())
		return err
	}
	c, err := podspec.Resolve(in.rev, port, in.rt.pod(in.name, in.rev), in.rt.opts.Lookup)
	if err != nil {
		// A missing Secret or ConfigMap may still be applied: retried with
		// back-off, as the kubelet retries CreateContainerConfigError.
		var pe *podspec.Error
		if errors.As(err, &pe) {
			in.setFailed(pe.Reason, pe.Message)
		} else {
			in.setFailed("CreateContainerConfigError", err.Error())
		}
		return err
	}
	in.setProgress("Preparing", "")
	prep, err := b.Prepare(ctx, in.rev, c, func(line string) { in.setProgress("Pulling", line) })
	if err != nil {
		return in.startFailed(ctx, err, "ImagePullFailed")
	}
	in.mu.Lock()
	in.prepared = prep
	in.mu.Unlock()
	volDir := ""
	if len(c.Volumes) > 0 {
		volDir = filepath.Join(in.rt.opts.StateDir, "volumes", in.rev.Namespace, in.name)
		if err := podspec.WriteVolumes(volDir, c); err != nil {
			in.setFailed("CreateContainerConfigError", err.Error())
			return err
		}
		defer os.RemoveAll(volDir)
	}
	in.setProgress("Starting", "")
	app, err := b.Start(ctx, runtime.Spec{Instance: in.name, Revision: in.rev, Container: c, Prepared: prep,
		VolumeDir: volDir, LogPath: in.logPath, Labels: in.rt.labels(in.rev, in.name)})
	if err != nil {
		return in.startFailed(ctx, err, "StartFailed")
	}
	in.mu.Lock()
	in.appPID = app.PID()
	in.mu.Unlock()
	appHost, appPortStr, _ := net.SplitHostPort(app.Addr())
	appPort, _ := strconv.Atoi(appPortStr)
	qpEnv := in.queueProxyEnv(appPort, c, app.ResourceEnv())
	qpEnv["USER_HOST"] = appHost

	portsFile := filepath.Join(filepath.Dir(in.logPath), in.name+".ports.json")
	os.Remove(portsFile)
	qpArgs := []string{"queue-proxy", "--http-port=0", "--h2c-port=0", "--admin-port=0", "--stats-port=0", "--metrics-port=0",
		"--ports-file=" + portsFile, "--drain-quiet-period=" + in.rt.opts.DrainQuietPeriod.String()}
	in.mu.Lock()
	start := in.restarts
	in.mu.Unlock()
	// A path per start: the gateway's pooled connections to a queue-proxy
	// that died must not be taken for the next one's.
	if sock := filepath.Join(filepath.Dir(in.logPath), in.name+"."+strconv.Itoa(start)+".sock"); len(sock) <= maxUnixPath {
		qpArgs = append(qpArgs, "--unix-socket="+sock)
		defer os.Remove(sock) // the queue-proxy removes it, unless it was killed
	}
	qp, err := process.StartProcess(in.rt.opts.Binary, qpArgs, qpEnv, "", in.qpLog)
	if err != nil {
		app.Stop(time.Second)
		in.setFailed("QueueProxyFailed", fmt.Sprintf("cannot start queue-proxy: %v", err))
		return err
	}
	qpDone := make(chan struct{})
	var qpErr error
	go func() { qpErr = qp.Wait(); close(qpDone) }()
	appDone := app.Done()

	stopBoth := func() {
		in.setReady(false, "")
		process.StopGroup(qp, qpDone, in.rt.opts.DrainQuietPeriod+in.timeout())
		app.Stop(terminationGrace(in.rev))
	}

	p, err := waitPorts(ctx, portsFile, appDone, qpDone)
	if err != nil {
		stopBoth()
		return in.exited(app, qpDone, qpErr, err)
	}
	in.mu.Lock()
	in.ports = p
	in.mu.Unlock()
	addr := "127.0.0.1:" + strconv.Itoa(p.HTTP)
	pr := newProber(app, c)

	// Probe until ready, then keep probing so an app that stops answering
	// leaves the endpoints, as a Kubernetes readiness probe would.
	interval, failures := 50*time.Millisecond, 0
	progressDeadline := in.progressDeadline()
	deadline := time.Now().Add(progressDeadline)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-ctx.Done():
			stopBoth()
			return nil
		case <-appDone:
			stopBoth()
			return in.exited(app, qpDone, qpErr, nil)
		case <-qpDone:
			stopBoth()
			return in.exited(app, qpDone, qpErr, nil)
		case <-time.After(interval):
		}
		if kill := pr.liveness(ctx, time.Now()); kill != "" {
			stopBoth()
			in.setFailed("LivenessProbeFailed", kill)
			return errors.New(kill)
		}
		ok := pr.started(ctx, time.Now()) && probe(ctx, client, addr) && pr.ready(ctx, time.Now())
		in.mu.Lock()
		ready := in.ready
		in.mu.Unlock()
		switch {
		case ok:
			failures = 0
			if !ready {
				in.setReady(true, addr)
				in.rt.log.Info("instance ready", "instance", in.name, "address", addr)
			}
			interval = time.Second
		case ready:
			if failures++; failures >= 3 {
				in.setReady(false, "")
				interval = 50 * time.Millisecond
			}
		case !in.everReadyNow() && time.Now().After(deadline):
			stopBoth()
			msg := fmt.Sprintf("instance did not become ready within %s", progressDeadline)
			in.setFailed("ProgressDeadlineExceeded", msg+lastLine(in.logPath))
			return errors.New(msg)
		}
	}
}

// startFailed records a failure of Prepare or Start; a permanent one stops
// the retries until the revision changes.
func (in *instance) startFailed(ctx context.Context, err error, reason string) error {
	if ctx.Err() != nil {
		return nil
	}
	var re *runtime.Error
	if errors.As(err, &re) {
		in.setFailed(re.Reason, re.Message)
		if re.Permanent {
			return errPermanent
		}
		return err
	}
	in.setFailed(reason, err.Error())
	return err
}

// terminationGrace is the pod's terminationGracePeriodSeconds (Kubernetes'
// default 30s), capped so that gantry stops in reasonable time.
func terminationGrace(rev *api.Revision) time.Duration {
	if g := rev.Spec.TerminationGracePeriodSeconds; g != nil && *g >= 0 {
		return min(time.Duration(*g)*time.Second, 30*time.Second)
	}
	return 5 * time.Second
}

// progressDeadline is the revision's serving.knative.dev/progress-deadline,
// else config-deployment's progress-deadline, else the runtime's.
func (in *instance) progressDeadline() time.Duration {
	var d api.DeploymentConfig
	if f := in.rt.opts.Deployment; f != nil {
		d = f()
	}
	return api.ProgressDeadline(in.rev.Annotations, d, in.rt.opts.ProgressDeadline)
}

func (in *instance) everReadyNow() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.everReady
}

// exited records why the instance's app or queue-proxy ended.
func (in *instance) exited(app runtime.App, qpDone <-chan struct{}, qpErr error, cause error) error {
	select {
	case <-app.Done():
		x := app.Exit()
		in.setFailed(x.Reason, x.Message+lastLine(in.logPath))
		return errors.New(x.Message)
	default:
	}
	select {
	case <-qpDone:
		reason, msg := process.ExitReason(qpErr)
		in.setFailed("QueueProxy"+reason, "queue-proxy: "+msg+lastLine(in.qpLog))
		return errors.New("queue-proxy: " + msg)
	default:
	}
	if cause != nil {
		in.setFailed("Error", cause.Error())
		return cause
	}
	return errors.New("instance stopped")
}

func (in *instance) timeout() time.Duration {
	if t := in.rev.Spec.TimeoutSeconds; t != nil && *t > 0 {
		return min(time.Duration(*t)*time.Second, 30*time.Second)
	}
	return 30 * time.Second
}

func (in *instance) queueProxyEnv(userPort int, c *podspec.Container, resourceEnv map[string]string) map[string]string {
	r := in.rev
	env := map[string]string{
		"SERVING_NAMESPACE":     r.Namespace,
		"SERVING_SERVICE":       r.Labels[api.LabelService],
		"SERVING_CONFIGURATION": r.Labels[api.LabelConfiguration],
		"SERVING_REVISION":      r.Name,
		"SERVING_POD":           in.name,
		"USER_PORT":             strconv.Itoa(userPort),
		"CONTAINER_CONCURRENCY": "0",
		// A sidecar's share of the CPU: one P costs less CPU per request and
		// less latency than several (docs/benchmarks.md); GOMAXPROCS set for
		// gantry up itself still wins.
		"GOMAXPROCS": envOr("GOMAXPROCS", "1"),
		// Keeps sysmon from waking per request (queueproxy.GoDebug).
		"GODEBUG": queueproxy.GoDebug(os.Getenv("GODEBUG")),
	}
	for k, v := range resourceEnv {
		env[k] = v
	}
	for k, v := range in.rt.opts.QueueProxyEnv {
		env[k] = v
	}
	if cc := r.Spec.ContainerConcurrency; cc != nil {
		env["CONTAINER_CONCURRENCY"] = strconv.FormatInt(*cc, 10)
	}
	setSeconds := func(k string, v *int64) {
		if v != nil {
			env[k] = strconv.FormatInt(*v, 10)
		}
	}
	setSeconds("REVISION_TIMEOUT_SECONDS", r.Spec.TimeoutSeconds)
	setSeconds("REVISION_RESPONSE_START_TIMEOUT_SECONDS", r.Spec.ResponseStartTimeoutSeconds)
	setSeconds("REVISION_IDLE_TIMEOUT_SECONDS", r.Spec.IdleTimeoutSeconds)
	if c.ReadinessProbe != nil && c.ReadinessProbe.Exec == nil {
		p := c.ReadinessProbe.DeepCopy()
		// The probe targets the app's local port, whatever the manifest says.
		if p.TCPSocket != nil {
			p.TCPSocket.Port.IntVal, p.TCPSocket.Port.StrVal = int32(userPort), ""
			p.TCPSocket.Port.Type = 0
		}
		if p.HTTPGet != nil {
			p.HTTPGet.Port.IntVal, p.HTTPGet.Port.StrVal = int32(userPort), ""
			p.HTTPGet.Port.Type = 0
		}
		if p.GRPC != nil {
			p.GRPC.Port = int32(userPort)
		}
		if b, err := json.Marshal(p); err == nil {
			env["SERVING_READINESS_PROBE"] = string(b)
		}
	}
	return env
}

func waitPorts(ctx context.Context, path string, appDone, qpDone <-chan struct{}) (ports, error) {
	deadline := time.After(15 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil {
			var p ports
			if err := json.Unmarshal(b, &p); err != nil {
				return p, fmt.Errorf("read %s: %w", path, err)
			}
			if p.HTTP == 0 {
				return p, fmt.Errorf("%s: no http port", path)
			}
			return p, nil
		}
		select {
		case <-ctx.Done():
			return ports{}, ctx.Err()
		case <-appDone:
			return ports{}, errors.New("app exited")
		case <-qpDone:
			return ports{}, errors.New("queue-proxy exited")
		case <-deadline:
			return ports{}, errors.New("queue-proxy did not report its ports within 15s")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// probe asks the queue-proxy whether the app is ready, as the kubelet does.
func probe(ctx context.Context, c *http.Client, addr string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
	if err != nil {
		return false
	}
	req.Header.Set("K-Network-Probe", "queue")
	req.Header.Set("User-Agent", "kube-probe/gantry")
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1024))
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// lastLine returns ": " and the last non-empty line of a log file, to put the
// app's own last words into the revision's status.
func lastLine(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(st.Size()-4096, 0)
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	lines := bytes.Split(bytes.TrimSpace(buf), []byte("\n"))
	if len(lines) == 0 || len(lines[len(lines)-1]) == 0 {
		return ""
	}
	l := string(lines[len(lines)-1])
	if len(l) > 300 {
		l = l[:300]
	}
	return ": " + l
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
