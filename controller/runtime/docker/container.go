package docker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/gantry-dev/gantry/controller/podspec"
	"github.com/gantry-dev/gantry/controller/runtime"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Start implements runtime.Backend: it creates and starts the instance's
// container with the container contract Kubernetes gives (command/args over
// entrypoint/cmd, env, workingDir, mounts, user, read-only root, CPU and
// memory limits) and its port published on 127.0.0.1 only.
func (b *Backend) Start(ctx context.Context, s runtime.Spec) (runtime.App, error) {
	c := s.Container
	cfg, host, err := b.containerConfig(s)
	if err != nil {
		return nil, err
	}
	name := b.containerName(s.Instance)
	created, err := b.cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name, Config: cfg, HostConfig: host})
	if err != nil {
		return nil, &runtime.Error{Reason: "CreateContainerError", Err: err, Message: fmt.Sprintf("create container for %s: %v", c.Image, err)}
	}
	a := &app{b: b, id: created.ID, done: make(chan struct{}), logsDone: make(chan struct{}), memLimit: c.Limits.MemoryBytes}
	// Wait before start, so that an app that exits at once is not missed.
	wait := b.cli.ContainerWait(context.Background(), created.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := b.cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		b.remove(created.ID)
		return nil, &runtime.Error{Reason: "RunContainerError", Err: err, Message: fmt.Sprintf("start container for %s: %v", c.Image, err)}
	}
	ins, err := b.cli.ContainerInspect(ctx, created.ID, client.ContainerInspectOptions{})
	if err != nil {
		b.remove(created.ID)
		return nil, engineError(err)
	}
	a.pid = ins.Container.State.Pid
	if b.direct {
		a.addr, err = bridgeAddr(ins.Container.NetworkSettings, c.Port)
	} else {
		a.addr, err = publishedAddr(ins.Container.NetworkSettings, c.Port)
	}
	if err != nil {
		b.remove(created.ID)
		return nil, &runtime.Error{Reason: "RunContainerError", Err: err, Message: err.Error()}
	}
	go a.followLogs(s.LogPath)
	go a.waitExit(wait)
	return a, nil
}

func (b *Backend) containerConfig(s runtime.Spec) (*container.Config, *container.HostConfig, error) {
	c := s.Container
	port := network.MustParsePort(strconv.Itoa(c.Port) + "/tcp")
	env := make([]string, 0, len(c.Env))
	for _, e := range c.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	labels := map[string]string{labelManaged: "true", labelStateDir: b.o.StateDir}
	for k, v := range s.Labels {
		labels[k] = v
	}
	cfg := &container.Config{
		Image:        s.Prepared.Image,
		Env:          env,
		WorkingDir:   c.WorkingDir,
		Labels:       labels,
		ExposedPorts: network.PortSet{port: {}},
		Hostname:     truncate(s.Instance, 63),
	}
	// Kubernetes: command replaces the entrypoint (and drops the image's
	// cmd), args replace the cmd.
	if len(c.Command) > 0 {
		cfg.Entrypoint = c.Command
		cfg.Cmd = c.Args
		if cfg.Cmd == nil {
			cfg.Cmd = []string{}
		}
	} else if c.Args != nil {
		cfg.Cmd = c.Args
	}
	if c.RunAsUser != nil {
		cfg.User = strconv.FormatInt(*c.RunAsUser, 10)
		if c.RunAsGroup != nil {
			cfg.User += ":" + strconv.FormatInt(*c.RunAsGroup, 10)
		}
	}
	host := &container.HostConfig{
		ReadonlyRootfs: c.ReadOnlyRootFilesystem,
		// The supervisor restarts, with back-off, and records why.
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
		LogConfig:     container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10m", "max-file": "2"}},
	}
	if !b.direct {
		host.PortBindings = network.PortMap{port: {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: ""}}}
	}
	// Limits as the kubelet sets them: a CFS quota and a memory limit with
	// no swap; requests become CPU shares and a memory reservation.
	host.NanoCPUs = c.Limits.MilliCPU * 1_000_000
	if c.Limits.MemoryBytes > 0 {
		host.Memory = c.Limits.MemoryBytes
		host.MemorySwap = c.Limits.MemoryBytes
	}
	if c.Requests.MilliCPU > 0 {
		host.CPUShares = max(2, c.Requests.MilliCPU*1024/1000)
	}
	host.MemoryReservation = c.Requests.MemoryBytes
	vols := map[string]podspec.Volume{}
	for _, v := range c.Volumes {
		vols[v.Name] = v
	}
	for _, m := range c.Mounts {
		v, ok := vols[m.Volume]
		if !ok {
			return nil, nil, &runtime.Error{Reason: "CreateContainerConfigError", Permanent: true,
				Message: fmt.Sprintf("volume mount %s: no volume %q", m.Path, m.Volume)}
		}
		if v.EmptyDir && v.Medium == "Memory" && m.SubPath == "" {
			host.Mounts = append(host.Mounts, mount.Mount{Type: mount.TypeTmpfs, Target: m.Path,
				TmpfsOptions: &mount.TmpfsOptions{SizeBytes: v.SizeLimit}})
			continue
		}
		src := filepath.Join(s.VolumeDir, m.Volume, m.SubPath)
		if m.SubPath != "" {
			if _, err := os.Stat(src); err != nil {
				// Kubernetes creates a missing subPath as a directory.
				if err := os.MkdirAll(src, 0o777); err != nil {
					return nil, nil, &runtime.Error{Reason: "CreateContainerConfigError", Message: err.Error()}
				}
			}
		}
		host.Mounts = append(host.Mounts, mount.Mount{Type: mount.TypeBind, Source: src, Target: m.Path, ReadOnly: m.ReadOnly})
	}
	return cfg, host, nil
}

// bridgeAddr is the container's address on the default network ("bridge"
// on Docker, "podman" on Podman).
func bridgeAddr(ns *container.NetworkSettings, port int) (string, error) {
	if ns != nil {
		if ep := ns.Networks["bridge"]; ep != nil && ep.IPAddress.IsValid() {
			return net.JoinHostPort(ep.IPAddress.String(), strconv.Itoa(port)), nil
		}
		for _, ep := range ns.Networks {
			if ep != nil && ep.IPAddress.IsValid() {
				return net.JoinHostPort(ep.IPAddress.String(), strconv.Itoa(port)), nil
			}
		}
	}
	return "", fmt.Errorf("the container has no address on the default network")
}

// publishedAddr is the 127.0.0.1 address the engine published port on.
func publishedAddr(ns *container.NetworkSettings, port int) (string, error) {
	if ns == nil {
		return "", fmt.Errorf("container has no network settings")
	}
	for _, b := range ns.Ports[network.MustParsePort(strconv.Itoa(port)+"/tcp")] {
		if b.HostPort != "" && (!b.HostIP.IsValid() || b.HostIP.IsLoopback() || b.HostIP.IsUnspecified()) {
			return net.JoinHostPort("127.0.0.1", b.HostPort), nil
		}
	}
	return "", fmt.Errorf("the engine published no port for container port %d", port)
}

func (b *Backend) remove(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := b.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
		b.log.Warn("remove container", "id", shortID(id), "err", err)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// app is one running container.
type app struct {
	b        *Backend
	id       string
	addr     string
	pid      int
	memLimit int64
	done     chan struct{}
	logsDone chan struct{}

	mu       sync.Mutex
	exit     runtime.Exit
	stopping bool
	stopOnce sync.Once
}

func (a *app) Addr() string          { return a.addr }
func (a *app) PID() int              { return a.pid }
func (a *app) Done() <-chan struct{} { return a.done }
func (a *app) Exit() runtime.Exit {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.exit
}

// waitExit records how the container ended, OOM kills included.
func (a *app) waitExit(w client.ContainerWaitResult) {
	defer close(a.done)
	// The app's last words reach its log file before its exit is reported.
	defer func() {
		select {
		case <-a.logsDone:
		case <-time.After(5 * time.Second):
		}
	}()
	var code int64 = -1
	select {
	case r := <-w.Result:
		code = r.StatusCode
	case err := <-w.Error:
		a.setExit(runtime.Exit{Reason: "ContainerLost", Message: fmt.Sprintf("lost the container: %v", err)})
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	oom := false
	// The engine may learn of an OOM kill just after the exit: a SIGKILL'd
	// container with a memory limit is asked again for a moment.
	for try := 0; try < 10; try++ {
		if ins, err := a.b.cli.ContainerInspect(ctx, a.id, client.ContainerInspectOptions{}); err == nil && ins.Container.State != nil {
			oom = ins.Container.State.OOMKilled
			code = int64(ins.Container.State.ExitCode)
		}
		if oom || code != 137 || a.memLimit == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	x := runtime.Exit{Reason: fmt.Sprintf("ExitCode%d", code), Message: fmt.Sprintf("container exited with code %d", code)}
	if oom {
		x.Message = "container was OOMKilled"
		if a.memLimit > 0 {
			x.Message += fmt.Sprintf(": it used its memory limit of %d MiB", a.memLimit>>20)
		}
		x.Message += fmt.Sprintf(" (exit code %d)", code)
	}
	a.setExit(x)
}

func (a *app) setExit(x runtime.Exit) {
	a.mu.Lock()
	a.exit = x
	a.mu.Unlock()
}

// followLogs appends the container's stdout and stderr to path until the
// container is gone.
func (a *app) followLogs(path string) {
	defer close(a.logsDone)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		a.b.log.Warn("open log", "path", path, "err", err)
		return
	}
	defer f.Close()
	rc, err := a.b.cli.ContainerLogs(context.Background(), a.id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
	if err != nil {
		a.b.log.Warn("follow container logs", "id", shortID(a.id), "err", err)
		return
	}
	n, _ := stdcopy.StdCopy(f, f, rc)
	rc.Close()
	// A follow stream opened as the container exits can miss its last lines
	// (its last words, which go into the revision's status): once it ends,
	// read the whole log again and append what the stream did not bring.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	all, err := a.b.cli.ContainerLogs(ctx, a.id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return
	}
	defer all.Close()
	var buf bytes.Buffer
	if _, err := stdcopy.StdCopy(&buf, &buf, all); err == nil && int64(buf.Len()) > n {
		_, _ = f.Write(buf.Bytes()[n:])
	}
}

// Stop stops the container (SIGTERM, then SIGKILL after grace) and removes it.
func (a *app) Stop(grace time.Duration) {
	a.stopOnce.Do(func() {
		secs := int(grace.Round(time.Second) / time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), grace+30*time.Second)
		defer cancel()
		if _, err := a.b.cli.ContainerStop(ctx, a.id, client.ContainerStopOptions{Timeout: &secs}); err != nil && !isNotFound(err) {
			a.b.log.Warn("stop container", "id", shortID(a.id), "err", err)
		}
		select {
		case <-a.done:
		case <-ctx.Done():
		}
		a.b.remove(a.id)
		select {
		case <-a.logsDone:
		case <-time.After(5 * time.Second):
		}
	})
}

// ResourceEnv points the queue-proxy at the container's cgroup; where the
// engine runs elsewhere (a VM) there is none to read.
func (a *app) ResourceEnv() map[string]string {
	dirs, err := cgroupDirs(a.pid)
	if err != nil || dirs == "" {
		a.b.log.Warn("no cgroup for the container's CPU and memory", "id", shortID(a.id), "err", err)
		return map[string]string{"GANTRY_APP_CGROUP": "none"}
	}
	return map[string]string{"GANTRY_APP_CGROUP": dirs}
}

// Exec runs argv in the container and returns its exit code and output.
func (a *app) Exec(ctx context.Context, argv []string) (int, []byte, error) {
	ex, err := a.b.cli.ExecCreate(ctx, a.id, client.ExecCreateOptions{Cmd: argv, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return -1, nil, err
	}
	att, err := a.b.cli.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		return -1, nil, err
	}
	defer att.Close()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(&out, &out, io.LimitReader(att.Reader, 1<<20))
		done <- err
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return -1, out.Bytes(), ctx.Err()
	}
	res, err := a.b.cli.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
	if err != nil {
		return -1, out.Bytes(), err
	}
	return res.ExitCode, out.Bytes(), nil
}
