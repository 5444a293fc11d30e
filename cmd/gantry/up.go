package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/apiserver"
	"github.com/gantry-dev/gantry/controller"
	"github.com/gantry-dev/gantry/controller/local"
	"github.com/gantry-dev/gantry/controller/scaling"
	"github.com/gantry-dev/gantry/dashboards"
	"github.com/gantry-dev/gantry/gateway"
	"github.com/gantry-dev/gantry/internal/h1"
	"github.com/gantry-dev/gantry/internal/procs"
	"github.com/gantry-dev/gantry/store"
	"github.com/gantry-dev/gantry/ui"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

type upFlags struct {
	stateDir, gatewayAddr, gatewayTLSAddr, uiAddr, domain string
	prometheusURL, alertWebhook                           string
	metricsRetention, scrapeInterval, ruleInterval        time.Duration
	alertThreshold                                        float64
	alertFor                                              time.Duration
	demo                                                  bool
	traceSampling                                         float64 // tracing.go; negative: not set
	authToken, grafanaURL                                 string
	runtime                                               string
	dockerPublish                                         bool
}

func runUp(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	var f upFlags
	fs.StringVar(&f.stateDir, "state-dir", "./.gantry", "directory for the store, metrics and instance logs")
	fs.StringVar(&f.gatewayAddr, "gateway-addr", "127.0.0.1:8080", "address the gateway serves requests on")
	fs.StringVar(&f.gatewayTLSAddr, "gateway-tls-addr", "127.0.0.1:8443", "address the gateway serves HTTPS on (DomainMappings with spec.tls)")
	fs.StringVar(&f.uiAddr, "ui-addr", "127.0.0.1:8090", "address of the UI and API")
	fs.StringVar(&f.domain, "domain", "localhost", "default domain of service hosts")
	fs.StringVar(&f.prometheusURL, "prometheus-url", "", "query this Prometheus instead of the embedded metrics engine (it should scrape /api/v1/sd)")
	fs.DurationVar(&f.metricsRetention, "metrics-retention", 15*24*time.Hour, "how long the embedded metrics engine keeps samples")
	fs.DurationVar(&f.scrapeInterval, "scrape-interval", 5*time.Second, "how often the embedded metrics engine scrapes the stack")
	fs.DurationVar(&f.ruleInterval, "rule-interval", 15*time.Second, "how often the embedded engine evaluates the alerting and recording rules")
	fs.Float64Var(&f.alertThreshold, "alert-error-ratio", 0, "5xx ratio above which GantryRevisionHigh5xxRatio fires (default 0.05)")
	fs.DurationVar(&f.alertFor, "alert-for", 0, "how long the 5xx ratio must stay above the threshold (default 5m; negative: at once)")
	fs.StringVar(&f.alertWebhook, "alert-webhook", "", "Alertmanager or webhook URL to send firing alerts to (Alertmanager v2 JSON)")
	fs.StringVar(&f.runtime, "runtime", "auto", "how revisions run: docker (containers through the Docker Engine API at $DOCKER_HOST), process (host processes), or auto (docker when an engine answers, else process)")
	fs.BoolVar(&f.dockerPublish, "docker-publish", false, "docker runtime: publish each container's port on 127.0.0.1 instead of reaching it at its bridge IP (the default where the bridge routes from this host)")
	fs.BoolVar(&f.demo, "demo", false, "also deploy the sample app with two revisions and light traffic")
	fs.StringVar(&f.authToken, "auth-token", os.Getenv(ui.TokenEnv), "token the UI and API require (needed for a non-loopback --ui-addr; default $"+ui.TokenEnv+")")
	fs.StringVar(&f.grafanaURL, "grafana-url", "", "Grafana base URL, for links from alerts to dashboard panels")
	fs.Float64Var(&f.traceSampling, "trace-sampling", -1, "trace this fraction of requests (0..1) and keep recent traces in memory for /traces (default: OTEL_TRACES_SAMPLER_ARG, config-observability; off unless set or an OTLP endpoint is configured)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return up(ctx, f)
}

func up(ctx context.Context, f upFlags) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := os.MkdirAll(f.stateDir, 0o755); err != nil {
		return fmt.Errorf("state dir %s: %w", f.stateDir, err)
	}
	if err := ui.CheckAddr(f.uiAddr, f.authToken); err != nil {
		return err
	}
	if f.demo && f.traceSampling < 0 && os.Getenv("OTEL_TRACES_SAMPLER_ARG") == "" {
		f.traceSampling = 0.2 // the demo shows traces at /traces without a collector
	}
	// Bind the addresses first: a port in use fails before anything starts.
	gwLn, err := net.Listen("tcp", f.gatewayAddr)
	if err != nil {
		return fmt.Errorf("--gateway-addr %s: %w", f.gatewayAddr, err)
	}
	defer gwLn.Close()
	tlsLn, err := net.Listen("tcp", f.gatewayTLSAddr)
	if err != nil {
		return fmt.Errorf("--gateway-tls-addr %s: %w", f.gatewayTLSAddr, err)
	}
	defer tlsLn.Close()
	uiLn, err := net.Listen("tcp", f.uiAddr)
	if err != nil {
		return fmt.Errorf("--ui-addr %s: %w", f.uiAddr, err)
	}
	defer uiLn.Close()
	gwPort := gwLn.Addr().(*net.TCPAddr).Port

	st, err := store.Open(f.stateDir)
	if err != nil {
		return err
	}
	defer st.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	trc, err := setupTracing(ctx, f.traceSampling, st, reg, uiLn.Addr().String(), log.With("component", "tracing"))
	if err != nil {
		return err
	}
	defer trc.shutdown()

	lookup := controller.StoreLookup{Store: st}
	var ctl *controller.Controller
	backend, err := chooseBackend(ctx, f.runtime, f.dockerPublish, f.stateDir, lookup, func() api.DeploymentConfig { return ctl.Config().Deployment },
		log.With("component", "runtime"))
	if err != nil {
		return err
	}
	// The proxies' limits are read once, at start (config-network).
	limits := controller.LoadConfig(st, f.domain, log).Network.Limits
	rt, err := local.New(local.Options{StateDir: f.stateDir, Logger: log.With("component", "runtime"), QueueProxyEnv: withLimitsEnv(trc.qpEnv, limits),
		Lookup: lookup, Backend: backend, Deployment: func() api.DeploymentConfig {
			if ctl == nil {
				return api.DefaultDeploymentConfig()
			}
			return ctl.Config().Deployment
		}})
	if err != nil {
		backend.Close()
		return err
	}
	defer rt.Close()

	wake := make(chan struct{}, 1)
	scaler := scaling.New(scaling.Options{Registry: reg, Logger: log.With("component", "autoscaler"),
		Pods: func(ns, rev string) []scaling.Pod {
			var pods []scaling.Pod
			for _, in := range rt.Instances(ns, rev) {
				p := scaling.Pod{Name: in.Name, Ready: in.Ready}
				if in.Ports.Stats != 0 {
					p.StatsAddr = "127.0.0.1:" + strconv.Itoa(in.Ports.Stats)
				}
				pods = append(pods, p)
			}
			return pods
		},
		OnChange: func() {
			select {
			case wake <- struct{}{}:
			default:
			}
		}})
	gw := gateway.New(gateway.Options{Logger: log.With("component", "gateway"), Registry: reg, OnColdStart: scaler.Poke,
		TracerProvider: trc.tracerProvider(), Limits: proxyLimits(limits)})
	share := &gateway.ShareWindow{}
	ctl = controller.New(controller.Options{Store: st, Runtime: rt, Router: gw, Scaler: scaler, Wake: wake, Domain: f.domain,
		GatewayPort: gwPort, GatewayTLSPort: tlsLn.Addr().(*net.TCPAddr).Port, Logger: log.With("component", "controller"), Registry: reg})

	metricsEngine, err := openMetrics(f, log, reg, uiLn.Addr().String())
	if err != nil {
		return err
	}
	defer metricsEngine.close()

	api := apiserver.New(apiserver.Options{Store: st, Config: ctl.Config, Gatherer: reg, Logger: log.With("component", "api"),
		Querier: metricsEngine.querier, Alerts: metricsEngine.alerts, AuthToken: f.authToken, GrafanaURL: f.grafanaURL,
		Rules:        dashboards.RuleOptions{ErrorRatioThreshold: f.alertThreshold, For: f.alertFor},
		RecentErrors: trc.recentErrorsSource(),
		Instances:    func(ns, rev string) any { return rt.Instances(ns, rev) },
		Decisions:    func(ns, rev string) any { return scaler.Decisions(ns, rev) },
		Requests:     share.Requests,
		SDTargets:    sdTargets(st, rt, uiLn.Addr().String())})

	// The gateway's HTTP/1 port is served by the engine the queue-proxy
	// uses (internal/h1); what is outside its subset (h2c, upgrades,
	// Expect) moves to gwNet for the rest of the connection.
	gwNet := &http.Server{Handler: gw, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	proxyLimits(limits).Apply(gwNet)
	// The gateway speaks HTTP/1.1 and prior-knowledge HTTP/2 (gRPC) on one port.
	gwNet.Protocols = new(http.Protocols)
	gwNet.Protocols.SetHTTP1(true)
	gwNet.Protocols.SetUnencryptedHTTP2(true)
	gwSrv := h1.NewServer(gw, gwNet, log.With("component", "gateway"))
	gwSrv.WatchAfter = time.Second // a client leaving a long request is noticed
	uiSrv := &http.Server{Handler: ui.RequireToken(f.authToken, trc.mount(metricsEngine.mount(api))), ReadHeaderTimeout: 10 * time.Second}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 5)
	go func() { errc <- serve(gwSrv, proxyLimits(limits).Listen(gwLn), "gateway") }()
	tlsSrv := &http.Server{Handler: gw, TLSConfig: gw.TLSConfig(), ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	proxyLimits(limits).Apply(tlsSrv)
	go func() { errc <- serveTLS(tlsSrv, proxyLimits(limits).Listen(tlsLn), "gateway-tls") }()
	go func() { errc <- serve(uiSrv, uiLn, "ui") }()
	scalerDone := make(chan struct{})
	go func() { defer close(scalerDone); scaler.Run(runCtx) }()
	scrapeDone := make(chan struct{})
	go func() {
		defer close(scrapeDone)
		metricsEngine.run(runCtx, scrapeTargets(sdTargets(st, rt, uiLn.Addr().String())))
	}()
	ctlDone := make(chan struct{})
	go func() { defer close(ctlDone); errc <- ctl.Run(runCtx) }()
	shareDone := make(chan struct{})
	go func() {
		defer close(shareDone)
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			share.Sample(gw, time.Now())
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
			}
		}
	}()
	procsDone := make(chan struct{})
	go func() {
		defer close(procsDone)
		procs.Adapt(runCtx, procs.ForGateway(), 250*time.Millisecond, log.With("component", "procs"))
	}()
	demoDone := make(chan struct{})
	if f.demo {
		go func() { defer close(demoDone); runDemo(runCtx, log, st, ctl, gwLn.Addr().String(), f.domain) }()
	} else {
		close(demoDone)
	}
	log.Info("gantry is up", "gateway", "http://"+gwLn.Addr().String(), "ui", "http://"+uiLn.Addr().String(),
		"stateDir", f.stateDir, "try", "curl -H 'Host: hello.default."+f.domain+"' http://"+gwLn.Addr().String())

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	log.Info("shutting down")
	cancel()
	<-ctlDone
	<-scrapeDone
	<-shareDone
	<-scalerDone
	<-demoDone
	<-procsDone
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	_ = uiSrv.Shutdown(sctx)
	_ = gwSrv.Shutdown(sctx)
	_ = tlsSrv.Shutdown(sctx)
	if err := rt.Close(); err != nil {
		log.Error("stop instances", "err", err)
	}
	log.Info("stopped")
	return runErr
}

func serveTLS(srv *http.Server, ln net.Listener, name string) error {
	// Certificates come from TLSConfig.GetCertificate, per SNI host.
	if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s server: %w", name, err)
	}
	return nil
}

func serve(srv interface{ Serve(net.Listener) error }, ln net.Listener, name string) error {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s server: %w", name, err)
	}
	return nil
}

// sdTargets lists the stack's scrape targets for Prometheus HTTP service discovery.
func sdTargets(st *store.Store, rt *local.Runtime, self string) func() []ui.SDTarget {
	return func() []ui.SDTarget {
		out := []ui.SDTarget{{Targets: []string{self}, Labels: map[string]string{"job": "gantry"}}}
		revs, err := st.List(api.KindRevision, "")
		if err != nil {
			return out
		}
		for _, o := range revs {
			for _, in := range rt.Instances(o.GetNamespace(), o.GetName()) {
				if in.Ports.Metrics == 0 {
					continue
				}
				// Metadata only (__meta_ labels are dropped unless relabelled):
				// the queue-proxy's own series already carry namespace and pod.
				labels := map[string]string{"job": "queue-proxy", "__meta_gantry_namespace": o.GetNamespace(),
					"__meta_gantry_revision": o.GetName(), "__meta_gantry_pod": in.Name}
				out = append(out, ui.SDTarget{Targets: []string{"127.0.0.1:" + strconv.Itoa(in.Ports.Metrics)}, Labels: labels})
			}
		}
		return out
	}
}
