package local

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/controller/podspec"
	"github.com/gantry-dev/gantry/controller/reconcile"
	"github.com/gantry-dev/gantry/controller/runtime"
	"github.com/gantry-dev/gantry/controller/runtime/process"
	"github.com/gantry-dev/gantry/gateway"
	"github.com/google/uuid"
)

// Options configures the runtime.
type Options struct {
	StateDir string // logs go to StateDir/logs/NAMESPACE/REVISION/
	// Binary is the gantry executable, run as `gantry queue-proxy` and
	// `gantry sample-app`.
	Binary           string
	Logger           *slog.Logger
	DrainQuietPeriod time.Duration // queue-proxy drain quiet period; default 1s
	ProgressDeadline time.Duration // time an instance has to become ready; default 120s
	// Deployment is config-deployment as it is now; its progress-deadline,
	// when set, replaces ProgressDeadline. nil: ProgressDeadline alone.
	Deployment func() api.DeploymentConfig
	// QueueProxyEnv is added to every queue-proxy's environment (tracing).
	QueueProxyEnv map[string]string
	// Backend runs the apps; default: host processes.
	Backend runtime.Backend
	// Lookup finds the Secrets and ConfigMaps containers refer to.
	Lookup podspec.Lookup
}

// Labels every backend puts on what it creates, so a restarted gantry finds
// its own leftovers (and no other state dir's).
const (
	LabelStateDir = "dev.gantry.state-dir"
	LabelRevision = "dev.gantry.revision"
	LabelInstance = "dev.gantry.instance"
)

// Runtime runs revision instances as local processes.
type Runtime struct {
	opts Options
	log  *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	changes chan struct{}

	mu   sync.Mutex
	revs map[string]*revState
}

type revState struct {
	rev       *api.Revision
	instances []*instance
}

// New returns a runtime; Close stops every process it started.
func New(o Options) (*Runtime, error) {
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("local runtime: find the gantry binary: %w", err)
		}
		o.Binary = exe
	}
	if o.DrainQuietPeriod <= 0 {
		o.DrainQuietPeriod = time.Second
	}
	if o.ProgressDeadline <= 0 {
		o.ProgressDeadline = api.OneMachineProgressDeadline
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Backend == nil {
		o.Backend = &process.Backend{Binary: o.Binary}
	}
	if o.Lookup == nil {
		o.Lookup = noObjects{}
	}
	if abs, err := filepath.Abs(o.StateDir); err == nil {
		o.StateDir = abs
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Runtime{opts: o, log: o.Logger, ctx: ctx, cancel: cancel,
		changes: make(chan struct{}, 1), revs: map[string]*revState{}}, nil
}

func key(ns, name string) string { return ns + "/" + name }

// Backend is the backend apps run with.
func (r *Runtime) Backend() runtime.Backend { return r.opts.Backend }

type noObjects struct{}

func (noObjects) Secret(string, string) (*api.Secret, bool)       { return nil, false }
func (noObjects) ConfigMap(string, string) (*api.ConfigMap, bool) { return nil, false }

// labels are the labels of an instance's container.
func (r *Runtime) labels(rev *api.Revision, instance string) map[string]string {
	return map[string]string{LabelStateDir: r.opts.StateDir, LabelRevision: rev.Namespace + "/" + rev.Name,
		LabelInstance: instance, api.LabelService: rev.Labels[api.LabelService],
		api.LabelConfiguration: rev.Labels[api.LabelConfiguration], api.LabelRevision: rev.Name}
}

// pod is what the downward API sees of an instance.
func (r *Runtime) pod(instance string, rev *api.Revision) podspec.Pod {
	host, _ := os.Hostname()
	labels := map[string]string{}
	for k, v := range rev.Labels {
		labels[k] = v
	}
	labels[api.LabelRevision] = rev.Name
	return podspec.Pod{Name: instance, Namespace: rev.Namespace, UID: uuid.NewSHA1(uuid.NameSpaceOID, []byte(r.opts.StateDir+"/"+instance)).String(), IP: "127.0.0.1", NodeName: host,
		Labels: labels, Annotations: rev.Annotations, ServiceAccountName: rev.Spec.ServiceAccountName,
		NodeMilliCPU: int64(goruntime.NumCPU()) * 1000, NodeMemoryBytes: nodeMemory()}
}

// Changes signals (coalesced) whenever an instance changes readiness.
func (r *Runtime) Changes() <-chan struct{} { return r.changes }

func (r *Runtime) notify() {
	select {
	case r.changes <- struct{}{}:
	default:
	}
}

// Ensure runs scale instances of rev, starting or stopping instances as needed.
func (r *Runtime) Ensure(rev *api.Revision, scale int) error {
	if r.ctx.Err() != nil {
		return fmt.Errorf("local runtime: closed")
	}
	k := key(rev.Namespace, rev.Name)
	r.mu.Lock()
	rs := r.revs[k]
	if rs == nil {
		rs = &revState{rev: rev.DeepCopy()}
		r.revs[k] = rs
	}
	var stop []*instance
	for len(rs.instances) < scale {
		in, err := r.newInstance(rs.rev)
		if err != nil {
			r.mu.Unlock()
			return err
		}
		rs.instances = append(rs.instances, in)
	}
	if len(rs.instances) > scale {
		stop = rs.instances[scale:]
		rs.instances = rs.instances[:scale:scale]
	}
	r.mu.Unlock()
	r.stopAll(stop)
	return nil
}

func (r *Runtime) newInstance(rev *api.Revision) (*instance, error) {
	dir := filepath.Join(r.opts.StateDir, "logs", rev.Namespace, rev.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("local runtime: %w", err)
	}
	name := rev.Name + "-" + suffix()
	ctx, cancel := context.WithCancel(r.ctx)
	in := &instance{name: name, rev: rev, rt: r, cancel: cancel, done: make(chan struct{}),
		logPath: filepath.Join(dir, name+".log"), qpLog: filepath.Join(dir, name+".queue-proxy.log"), started: time.Now()}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		in.run(ctx)
	}()
	return in, nil
}

func suffix() string {
	const letters = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, 5)
	rand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}

// stopAll stops instances without waiting: they are already out of the
// endpoints, and their queue-proxies drain what is in flight. Close waits.
func (r *Runtime) stopAll(ins []*instance) {
	for _, in := range ins {
		in.cancel()
	}
	if len(ins) > 0 {
		r.notify()
	}
}

// Retain stops every revision whose key ("namespace/name") is not in keep.
func (r *Runtime) Retain(keep map[string]bool) {
	var stop []*instance
	r.mu.Lock()
	for k, rs := range r.revs {
		if !keep[k] {
			stop = append(stop, rs.instances...)
			delete(r.revs, k)
		}
	}
	r.mu.Unlock()
	r.stopAll(stop)
	if f, ok := r.opts.Backend.(interface{ Forget(map[string]bool) }); ok {
		f.Forget(keep)
	}
}

// Observe reports a revision's instances to the reconciler.
func (r *Runtime) Observe(ns, name string) reconcile.Observed {
	r.mu.Lock()
	rs := r.revs[key(ns, name)]
	var ins []*instance
	var rev *api.Revision
	if rs != nil {
		ins = append(ins, rs.instances...)
		rev = rs.rev
	}
	r.mu.Unlock()
	obs := reconcile.Observed{Desired: len(ins), LogURL: "file://" + filepath.Join(r.opts.StateDir, "logs", ns, name),
		Runtime: r.opts.Backend.Name()}
	failed := 0
	for _, in := range ins {
		i := in.info()
		if i.Ready {
			obs.Ready++
		} else if i.Reason != "" {
			failed++
			obs.Reason, obs.Message = i.Reason, i.Message
		}
	}
	obs.Failed = obs.Ready == 0 && failed > 0
	for _, in := range ins {
		in.mu.Lock()
		p, prog := in.prepared, in.progress
		in.mu.Unlock()
		if p.Digest != "" && obs.ImageDigest == "" {
			obs.ImageDigest = p.Digest
		}
		if len(obs.Notes) == 0 {
			obs.Notes = append(sidecarNotes(rev), p.Notes...)
		}
		if obs.Progress == "" && !obs.Failed && obs.Ready == 0 {
			obs.Progress = prog
		}
	}
	return obs
}

// Instances lists a revision's instances.
func (r *Runtime) Instances(ns, name string) []InstanceInfo {
	r.mu.Lock()
	rs := r.revs[key(ns, name)]
	var out []InstanceInfo
	if rs != nil {
		for _, in := range rs.instances {
			out = append(out, in.info())
		}
	}
	r.mu.Unlock()
	return out
}

// Endpoints returns the ready queue-proxy addresses of every revision.
func (r *Runtime) Endpoints() gateway.Endpoints {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(gateway.Endpoints, len(r.revs))
	for k, rs := range r.revs {
		for _, in := range rs.instances {
			if i := in.info(); i.Ready {
				out[k] = append(out[k], gateway.Endpoint{HTTP: i.Address, H2C: "127.0.0.1:" + strconv.Itoa(i.Ports.H2C), Unix: i.Ports.Unix})
			}
		}
		sort.Slice(out[k], func(a, b int) bool { return out[k][a].HTTP < out[k][b].HTTP })
	}
	return out
}

// Close stops every instance and waits for their processes to exit.
func (r *Runtime) Close() error {
	r.mu.Lock()
	var all []*instance
	for _, rs := range r.revs {
		all = append(all, rs.instances...)
	}
	r.revs = map[string]*revState{}
	r.mu.Unlock()
	r.cancel()
	r.stopAll(all)
	r.wg.Wait()
	return r.opts.Backend.Close()
}

// nodeMemory is the machine's memory in bytes (resourceFieldRef with no limit).
func nodeMemory() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	var kb int64
	if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err != nil {
		return 0
	}
	return kb * 1024
}

// sidecarNotes names the containers that do not run on one machine: only
// the serving container does.
func sidecarNotes(rev *api.Revision) []string {
	if rev == nil || len(rev.Spec.Containers) < 2 {
		return nil
	}
	serving, err := podspec.ServingContainer(&rev.Spec)
	if err != nil {
		return nil
	}
	var out []string
	for _, c := range rev.Spec.Containers {
		if c.Name != serving.Name {
			out = append(out, fmt.Sprintf("container %s is not run on one machine (only the serving container %s is)", c.Name, serving.Name))
		}
	}
	return out
}
