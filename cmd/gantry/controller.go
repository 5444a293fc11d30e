package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gantry-dev/gantry/controller/kube"
	"github.com/gantry-dev/gantry/internal/procs"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// runController is `gantry controller`: the Kubernetes controller,
// autoscaler and gateway (see controller/kube and docs/kubernetes.md).
//
//	gantry controller [--kubeconfig FILE] [--components controller,autoscaler,gateway] ...
//	gantry controller translate -f FILE|-   Knative YAML → serving.gantry.dev/v1, for kubectl apply
//	gantry controller ui --prometheus-url U  the pages of gantry up, for the cluster
func runController(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "ui" {
		return runKubeUI(ctx, args[1:])
	}
	if len(args) > 0 && args[0] == "translate" {
		return runTranslate(args[1:], os.Stdout)
	}
	fs := flag.NewFlagSet("controller", flag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default $KUBECONFIG, ~/.kube/config, else in-cluster)")
	components := fs.String("components", "controller,autoscaler,gateway", "components to run: controller, autoscaler, gateway")
	ns := fs.String("namespace", "", "system namespace: config-* ConfigMaps and leases (default $SYSTEM_NAMESPACE or gantry-system)")
	domain := fs.String("domain", "svc.cluster.local", "default domain when config-domain names none")
	queueImage := fs.String("queue-proxy-image", kube.DefaultImage, "image of the queue-proxy sidecar (the gantry image)")
	gwAPI := fs.String("gateway-api-gateway", "", "NAMESPACE/NAME[/LISTENER] of the Gateway that HTTPRoutes attach to (ingress class gateway-api.ingress.networking.knative.dev)")
	gatewayPort := fs.Int("gateway-port", 80, "port written into route URLs unless 80")
	leaderElect := fs.Bool("leader-elect", true, "elect a leader (a Lease) among controller and autoscaler replicas")
	metricsAddr := fs.String("metrics-addr", ":9090", "Prometheus /metrics address (0 turns it off)")
	healthAddr := fs.String("health-addr", ":8081", "/healthz and /readyz address (0 turns it off)")
	gatewayAddr := fs.String("gateway-addr", ":8080", "the gateway's HTTP address")
	autoscalerAddr := fs.String("autoscaler-addr", ":8082", "the autoscaler's /poke address, for remote gateways")
	externalAutoscaler := fs.Bool("external-autoscaler", false, "an autoscaler runs in another process: leave Deployments' replicas to it (without one, the controller holds them at min-scale, else 1)")
	autoscalerURL := fs.String("autoscaler-url", "", "where a gateway without a local autoscaler pokes it (default the gantry-autoscaler Service, from its environment variables or DNS)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	o := kube.Options{
		SystemNamespace: *ns, Domain: *domain, GatewayPort: *gatewayPort,
		Resources:      kube.ResourceOptions{QueueImage: *queueImage},
		LeaderElection: *leaderElect, MetricsAddr: *metricsAddr, HealthAddr: *healthAddr,
		GatewayAddr: *gatewayAddr, AutoscalerAddr: *autoscalerAddr, AutoscalerURL: *autoscalerURL,
		ExternalAutoscaler: *externalAutoscaler,
		Logger:             slog.New(slog.NewJSONHandler(os.Stderr, nil)),
	}
	for _, c := range strings.Split(*components, ",") {
		if c = strings.TrimSpace(c); c != "" {
			o.Components = append(o.Components, c)
		}
	}
	if *gwAPI != "" {
		g, err := kube.ParseGatewayRef(*gwAPI)
		if err != nil {
			return err
		}
		o.GatewayAPI = &g
	}
	cfg, err := restConfig(*kubeconfig)
	if err != nil {
		return err
	}
	c, err := kube.New(cfg, o)
	if err != nil {
		return err
	}
	if slices.Contains(o.Components, "gateway") {
		// As in gantry up, but with the node's cores: the queue-proxies
		// and apps are in other pods.
		actx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			procs.Adapt(actx, procs.ForGatewayAlone(), 250*time.Millisecond, o.Logger.With("component", "procs"))
		}()
		defer func() { cancel(); <-done }()
	}
	return c.Start(ctx)
}

// restConfig loads --kubeconfig, $KUBECONFIG or ~/.kube/config, else the
// in-cluster service account.
func restConfig(path string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = path
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err == nil {
		return cfg, nil
	}
	if path == "" {
		if in, ierr := rest.InClusterConfig(); ierr == nil {
			return in, nil
		}
	}
	return nil, fmt.Errorf("kubeconfig: %w", err)
}

func runTranslate(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("controller translate", flag.ContinueOnError)
	file := fs.String("f", "", "YAML file to translate (- for standard input)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("translate: -f FILE|- is required")
	}
	var in io.Reader = os.Stdin
	if *file != "-" {
		f, err := os.Open(*file)
		if err != nil {
			return fmt.Errorf("translate: %w", err)
		}
		defer f.Close()
		in = f
	}
	if err := kube.Translate(in, out); err != nil {
		return fmt.Errorf("translate: %s: %w", *file, err)
	}
	return nil
}
