package kube

import (
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"time"
)

// Components `gantry controller` can run; each kustomize Deployment runs some.
const (
	ComponentController = "controller" // the reconcilers (leader-elected)
	ComponentAutoscaler = "autoscaler" // the KPA, writing Deployments' scale (leader-elected)
	ComponentGateway    = "gateway"    // the gateway and activator (every replica serves)
)

// Options configures a Controller. The zero value runs every component with
// the defaults below.
type Options struct {
	// Components to run; default all three.
	Components []string
	// SystemNamespace holds the config-* ConfigMaps and the leader-election
	// Leases; default $SYSTEM_NAMESPACE, else "gantry-system".
	SystemNamespace string
	// Domain is the default domain when config-domain names none; default
	// "svc.cluster.local", as Knative's.
	Domain string
	// GatewayPort is written into URLs unless 80 (default 80).
	GatewayPort int
	// GatewayHost is the DNS name route placeholder Services point at (the
	// gantry gateway's Service); default gantry-gateway.{SystemNamespace}.svc.cluster.local.
	GatewayHost string
	// GatewayAPI, when set, is the Gateway that routes of the gateway-api
	// ingress class attach their HTTPRoutes to. Nil leaves HTTPRoutes alone
	// (the Gateway API CRDs need not be installed).
	GatewayAPI *GatewayRef
	// Resources configures the Deployments of revisions.
	Resources ResourceOptions

	// LeaderElection turns on leader election (a Lease named
	// LeaderElectionID in SystemNamespace) for the controller and autoscaler.
	LeaderElection   bool
	LeaderElectionID string // default "gantry-" + the components joined by "-"
	// Addresses: "0" turns a server off.
	MetricsAddr    string // Prometheus /metrics of the process; default ":9090"
	HealthAddr     string // /healthz and /readyz; default ":8081"
	GatewayAddr    string // the gateway's HTTP listener; default ":8080"
	AutoscalerAddr string // the autoscaler's /poke endpoint for remote gateways; default ":8082"
	// AutoscalerURL is where a gateway without a local autoscaler pokes it;
	// default the gantry-autoscaler Service from its environment variables,
	// else http://gantry-autoscaler.{SystemNamespace}.svc:8082.
	AutoscalerURL string
	// ExternalAutoscaler says an autoscaler runs in another process (the
	// kustomize base's gantry-autoscaler), so replicas are its alone. Without
	// it, a process that runs the controller but no autoscaler holds each
	// Deployment at the static rule (min-scale, else 1).
	ExternalAutoscaler bool

	// SyncPeriod is the informers' resync (default 10m); every object is
	// reconciled again at least this often.
	SyncPeriod time.Duration
	// ScaleInterval is how often the autoscaler applies decisions (default 2s).
	ScaleInterval time.Duration

	Logger *slog.Logger
	Now    func() time.Time
}

func (o Options) withDefaults() Options {
	if len(o.Components) == 0 {
		o.Components = []string{ComponentController, ComponentAutoscaler, ComponentGateway}
	}
	if o.SystemNamespace == "" {
		o.SystemNamespace = os.Getenv("SYSTEM_NAMESPACE")
	}
	if o.SystemNamespace == "" {
		o.SystemNamespace = "gantry-system"
	}
	if o.Domain == "" {
		o.Domain = "svc.cluster.local"
	}
	if o.GatewayHost == "" {
		o.GatewayHost = "gantry-gateway." + o.SystemNamespace + ".svc.cluster.local"
	}
	if o.LeaderElectionID == "" {
		// Components deployed apart elect their leaders apart.
		o.LeaderElectionID = "gantry-" + strings.Join(o.Components, "-")
	}
	if o.MetricsAddr == "" {
		o.MetricsAddr = ":9090"
	}
	if o.HealthAddr == "" {
		o.HealthAddr = ":8081"
	}
	if o.GatewayAddr == "" {
		o.GatewayAddr = ":8080"
	}
	if o.AutoscalerAddr == "" {
		o.AutoscalerAddr = ":8082"
	}
	if o.AutoscalerURL == "" {
		o.AutoscalerURL = defaultAutoscalerURL(o.SystemNamespace, os.Getenv)
	}
	if o.SyncPeriod <= 0 {
		o.SyncPeriod = 10 * time.Minute
	}
	if o.ScaleInterval <= 0 {
		o.ScaleInterval = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

func (o Options) runs(c string) bool { return slices.Contains(o.Components, c) }

// defaultAutoscalerURL finds the autoscaler's Service through the variables
// the kubelet sets for every Service of the pod's namespace, as client-go
// finds the API server, so a cluster without DNS works too; else by name.
func defaultAutoscalerURL(namespace string, getenv func(string) string) string {
	host, port := getenv("GANTRY_AUTOSCALER_SERVICE_HOST"), getenv("GANTRY_AUTOSCALER_SERVICE_PORT_POKE")
	if host != "" && port != "" {
		return "http://" + net.JoinHostPort(host, port)
	}
	return "http://gantry-autoscaler." + namespace + ".svc:8082"
}
