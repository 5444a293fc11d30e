package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/gantry-dev/gantry/api"
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
	HTTP    int `json:"http"`
	H2C     int `json:"h2c"`
	Admin   int `json:"admin"`
	Stats   int `json:"stats"`
	Metrics int `json:"metrics"`
}

var errPermanent = errors.New("not runnable")

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
// returns when either process exits (an error) or ctx ends (nil).
func (in *instance) runOnce(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		in.setFailed("PortUnavailable", err.Error())
		return err
	}
	spec, err := buildProcessSpec(in.rev, in.rt.opts.Binary, port)
	if err != nil {
		var nr *notRunnable
		if errors.As(err, &nr) {
			in.setFailed(nr.reason, nr.message)
			return errPermanent
		}
		in.setFailed("Error", err.Error())
		return err
	}
	app, err := startProcess(spec.path, spec.args, spec.env, spec.dir, in.logPath)
	if err != nil {
		msg := fmt.Sprintf("cannot start %q: %v", spec.path, err)
		in.setFailed("ExecFailed", msg)
		return errors.New(msg)
	}
	appDone := make(chan struct{})
	var appErr error
	go func() { appErr = app.Wait(); close(appDone) }()
	in.mu.Lock()
	in.appPID = app.Process.Pid
	in.mu.Unlock()

	portsFile := filepath.Join(filepath.Dir(in.logPath), in.name+".ports.json")
	os.Remove(portsFile)
	qpArgs := []string{"queue-proxy", "--http-port=0", "--h2c-port=0", "--admin-port=0", "--stats-port=0", "--metrics-port=0",
		"--ports-file=" + portsFile, "--drain-quiet-period=" + in.rt.opts.DrainQuietPeriod.String()}
	qp, err := startProcess(in.rt.opts.Binary, qpArgs, in.queueProxyEnv(port, app.Process.Pid), "", in.qpLog)
	if err != nil {
		stopGroup(app, appDone, time.Second)
		in.setFailed("QueueProxyFailed", fmt.Sprintf("cannot start queue-proxy: %v", err))
		return err
	}
	qpDone := make(chan struct{})
	var qpErr error
	go func() { qpErr = qp.Wait(); close(qpDone) }()

	stopBoth := func() {
		in.setReady(false, "")
		stopGroup(qp, qpDone, in.rt.opts.DrainQuietPeriod+in.timeout())
		stopGroup(app, appDone, 5*time.Second)
	}

	p, err := waitPorts(ctx, portsFile, appDone, qpDone)
	if err != nil {
		stopBoth()
		return in.exited(appDone, appErr, qpDone, qpErr, err)
	}
	in.mu.Lock()
	in.ports = p
	in.mu.Unlock()
	addr := "127.0.0.1:" + strconv.Itoa(p.HTTP)

	// Probe until ready, then keep probing so an app that stops answering
	// leaves the endpoints, as a Kubernetes readiness probe would.
	interval, failures := 50*time.Millisecond, 0
	deadline := time.Now().Add(in.rt.opts.ProgressDeadline)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-ctx.Done():
			stopBoth()
			return nil
		case <-appDone:
			stopBoth()
			return in.exited(appDone, appErr, qpDone, qpErr, nil)
		case <-qpDone:
			stopBoth()
			return in.exited(appDone, appErr, qpDone, qpErr, nil)
		case <-time.After(interval):
		}
		ok := probe(ctx, client, addr)
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
			msg := fmt.Sprintf("instance did not become ready within %s", in.rt.opts.ProgressDeadline)
			in.setFailed("ProgressDeadlineExceeded", msg+lastLine(in.logPath))
			return errors.New(msg)
		}
	}
}

func (in *instance) everReadyNow() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.everReady
}

// exited records why the instance's processes ended.
func (in *instance) exited(appDone <-chan struct{}, appErr error, qpDone <-chan struct{}, qpErr error, cause error) error {
	select {
	case <-appDone:
		reason, msg := exitReason(appErr)
		in.setFailed(reason, msg+lastLine(in.logPath))
		return errors.New(msg)
	default:
	}
	select {
	case <-qpDone:
		reason, msg := exitReason(qpErr)
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

func (in *instance) queueProxyEnv(userPort, appPID int) map[string]string {
	r := in.rev
	env := map[string]string{
		"SERVING_NAMESPACE":     r.Namespace,
		"SERVING_SERVICE":       r.Labels[api.LabelService],
		"SERVING_CONFIGURATION": r.Labels[api.LabelConfiguration],
		"SERVING_REVISION":      r.Name,
		"SERVING_POD":           in.name,
		"USER_PORT":             strconv.Itoa(userPort),
		"CONTAINER_CONCURRENCY": "0",
		"GANTRY_APP_PID":        strconv.Itoa(appPID),
		// A sidecar's share of the CPU: one P costs less CPU per request and
		// less latency than several (docs/benchmarks.md); GOMAXPROCS set for
		// gantry up itself still wins.
		"GOMAXPROCS": envOr("GOMAXPROCS", "1"),
		// Keeps sysmon from waking per request (queueproxy.GoDebug).
		"GODEBUG": queueproxy.GoDebug(os.Getenv("GODEBUG")),
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
	if c, err := servingContainer(&r.Spec); err == nil && c.ReadinessProbe != nil {
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
