// Package docker runs a revision's container from the user's image through
// the Docker Engine API, which Docker, Podman (`podman system service`),
// Colima and OrbStack all serve. Each instance is one container on the
// engine's default bridge with its port published on 127.0.0.1 only; the
// queue-proxy stays a host process in front of it. Images are resolved from
// tag to digest once per revision, as Knative does, and pulled with the
// container's imagePullPolicy and the credentials of ~/.docker/config.json
// and the revision's imagePullSecrets.
//
// The client is github.com/moby/moby/client: the Engine's own, maintained
// client (github.com/docker/docker/client is frozen at v28), and it
// negotiates down to API 1.40, so Debian's Docker 20.10 (API 1.41) works.
package docker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/controller/podspec"
	"github.com/gantry-dev/gantry/controller/runtime"
	"github.com/moby/moby/client"
)

// Labels on every container and image gantry makes.
const (
	labelManaged  = "dev.gantry.managed"
	labelStateDir = "dev.gantry.state-dir"
	labelBinary   = "dev.gantry.binary"
)

// Options configures the backend.
type Options struct {
	// Host is the Engine API address (unix:///var/run/docker.sock, tcp://...);
	// empty: $DOCKER_HOST, else the default socket.
	Host string
	// StateDir names this gantry's containers (label dev.gantry.state-dir),
	// so Cleanup removes its own leftovers and no one else's.
	StateDir string
	// Binary is the gantry executable; the image gantry/sample-app is built
	// from it when the engine lacks it.
	Binary string
	Logger *slog.Logger
	// Lookup finds imagePullSecrets.
	Lookup podspec.Lookup
	// Deployment returns config-deployment (tag resolution); nil: defaults.
	Deployment func() api.DeploymentConfig
	// Keychain overrides where registry credentials come from (tests);
	// default: ~/.docker/config.json (or $DOCKER_CONFIG) and the revision's
	// imagePullSecrets.
	DockerConfigDir string
	// Publish always publishes the app's port on 127.0.0.1 instead of
	// reaching it at its bridge IP (for comparing the two hops).
	Publish bool
}

// Backend runs apps as containers.
type Backend struct {
	o   Options
	log *slog.Logger
	cli *client.Client
	// APIVersion is the negotiated Engine API version.
	APIVersion string
	// Engine names the engine ("Docker Engine 20.10.24", "Podman Engine 4.3.1").
	Engine string

	// direct: the bridge's gateway is an address of this host, so the
	// queue-proxy reaches a container at its bridge IP and nothing is
	// published (Docker and rootful Podman on Linux). Otherwise (rootless
	// Podman, an engine in a VM) the port is published on 127.0.0.1.
	direct bool

	mu       sync.Mutex
	prepared map[string]*prepareCall // by revision key and image
}

type prepareCall struct {
	done chan struct{}
	res  runtime.Prepared
	err  error
	at   time.Time
}

var _ runtime.Backend = (*Backend)(nil)

// ErrNoEngine is returned by New when no Engine API answers.
var ErrNoEngine = errors.New("no Docker Engine API answers")

// New connects to the engine and checks that it answers within timeout.
func New(ctx context.Context, o Options, timeout time.Duration) (*Backend, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Deployment == nil {
		o.Deployment = api.DefaultDeploymentConfig
	}
	host := Host(o.Host)
	cli, err := client.New(client.WithHost(host), client.WithAPIVersionNegotiation(), client.WithUserAgent("gantry"))
	if err != nil {
		return nil, fmt.Errorf("docker %s: %w", host, err)
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		return nil, fmt.Errorf("%w at %s: %v", ErrNoEngine, host, err)
	}
	v, err := cli.ServerVersion(pctx, client.ServerVersionOptions{})
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("%w at %s: version: %v", ErrNoEngine, host, err)
	}
	engine := "Docker Engine " + v.Version
	for _, c := range v.Components {
		if strings.Contains(strings.ToLower(c.Name), "podman") {
			engine = "Podman Engine " + c.Version
		}
	}
	b := &Backend{o: o, log: o.Logger, cli: cli, APIVersion: cli.ClientVersion(), Engine: engine,
		prepared: map[string]*prepareCall{}}
	b.direct = !o.Publish && b.bridgeIsLocal(pctx)
	return b, nil
}

// Hop says how the queue-proxy reaches a container.
func (b *Backend) Hop() string {
	if b.direct {
		return "bridge"
	}
	return "published 127.0.0.1 port"
}

// bridgeIsLocal reports whether this host has an address on the default
// bridge's subnet (its gateway), so that container IPs route from here.
func (b *Backend) bridgeIsLocal(ctx context.Context) bool {
	n, err := b.cli.NetworkInspect(ctx, "bridge", client.NetworkInspectOptions{})
	if err != nil {
		return false
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, c := range n.Network.IPAM.Config {
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if ok && c.Subnet.IsValid() && c.Subnet.Contains(ip.Unmap()) && !ip.IsLoopback() {
				return true
			}
		}
	}
	return false
}

// Host is the Engine API address gantry uses: h, else $DOCKER_HOST, else the
// default socket.
func Host(h string) string {
	if h != "" {
		return h
	}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return client.DefaultDockerHost
}

// Name implements runtime.Backend.
func (b *Backend) Name() string { return "docker" }

// Port implements runtime.Backend: the app listens on its container port.
func (b *Backend) Port(declared int32) (int, error) {
	if declared > 0 {
		return int(declared), nil
	}
	return podspec.DefaultPort, nil
}

// Close implements runtime.Backend: it removes every container of this state
// dir that is left (the supervisor has stopped its instances already).
func (b *Backend) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := b.Cleanup(ctx)
	b.cli.Close()
	return err
}

// Cleanup removes the containers of this state dir, left by a gantry that
// was killed; it returns how many it removed.
func (b *Backend) Cleanup(ctx context.Context) (int, error) {
	list, err := b.cli.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", labelStateDir+"="+b.o.StateDir)})
	if err != nil {
		return 0, fmt.Errorf("docker: list leftover containers: %w", err)
	}
	n := 0
	var errs []error
	for _, c := range list.Items {
		if _, err := b.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("remove %s: %w", shortID(c.ID), err))
			continue
		}
		n++
	}
	if n > 0 {
		b.log.Info("removed leftover containers", "count", n, "stateDir", b.o.StateDir)
	}
	return n, errors.Join(errs...)
}

// containerName is unique per state dir and instance.
func (b *Backend) containerName(instance string) string {
	h := sha256.Sum256([]byte(b.o.StateDir))
	return "gantry-" + instance + "-" + hex.EncodeToString(h[:3])
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
