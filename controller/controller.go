package controller

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/controller/reconcile"
	"github.com/gantry-dev/gantry/controller/scaling"
	"github.com/gantry-dev/gantry/gateway"
	"github.com/gantry-dev/gantry/store"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConfigNamespace holds the Knative ConfigMaps, as in Knative.
const ConfigNamespace = api.ConfigNamespace

// Runtime runs revision instances (local processes here; Deployments on Kubernetes).
type Runtime interface {
	Ensure(rev *api.Revision, scale int) error
	Observe(namespace, revision string) reconcile.Observed
	Retain(keep map[string]bool)
	Endpoints() gateway.Endpoints
	Changes() <-chan struct{}
}

// Scaler decides how many instances each revision runs (the KPA).
type Scaler interface {
	Sync(revs []scaling.RevisionInput, cfg api.AutoscalerConfig)
	Scale(namespace, revision string) (int, bool)
	ActivatorInPath(namespace, revision string) bool
}

// Router receives the route table and endpoints (the gateway).
type Router interface {
	SetTable(*gateway.Table)
	SetEndpoints(gateway.Endpoints)
	SetCertificates(map[string]*tls.Certificate)
}

// Options configures a Controller.
type Options struct {
	Store          *store.Store
	Runtime        Runtime
	Router         Router
	Scaler         Scaler          // nil: the static rule of DesiredScale
	Wake           <-chan struct{} // extra reconcile triggers (the scaler's changes)
	Domain         string          // default domain, "localhost" on one machine
	GatewayPort    int             // shown in URLs unless 80
	GatewayTLSPort int             // shown in https URLs unless 443
	Logger         *slog.Logger
	Registry       prometheus.Registerer
	Resync         time.Duration // default 10s
	Now            func() time.Time
}

// Controller reconciles every object in the store, level-triggered: any change
// (or the resync tick) runs a pass over everything, which is cheap at the
// scale of one machine and can never miss an event.
type Controller struct {
	o   Options
	log *slog.Logger

	reconciles *prometheus.CounterVec
	duration   *prometheus.HistogramVec

	dmTargets []reconcile.DomainMappingTarget // from the last pass, for the gateway
}

// New returns a controller.
func New(o Options) *Controller {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Resync <= 0 {
		o.Resync = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Controller{o: o, log: o.Logger}
	c.reconciles = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gantry_reconcile_total", Help: "Reconciles by kind and result.",
	}, []string{"kind", "result"})
	c.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "gantry_reconcile_duration_seconds", Help: "Time to reconcile one object, by kind.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
	}, []string{"kind"})
	if o.Registry != nil {
		o.Registry.MustRegister(c.reconciles, c.duration)
	}
	return c
}

// Run reconciles until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	events := make(chan store.Event, 256)
	c.o.Store.Watch(events)
	tick := time.NewTicker(c.o.Resync)
	defer tick.Stop()
	for {
		if err := c.Reconcile(ctx); err != nil && ctx.Err() == nil {
			c.log.Error("reconcile pass failed", "err", err)
		}
		// Coalesce bursts of events into one pass.
		select {
		case <-ctx.Done():
			return nil
		case <-events:
		case <-c.o.Runtime.Changes():
		case <-c.o.Wake:
		case <-tick.C:
		}
		drain(events)
	}
}

func drain(ch chan store.Event) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// Config assembles the stack configuration from the stored ConfigMaps. A map
// that fails to parse (it was validated on apply, so only by a version
// change) is skipped and logged, keeping the defaults.
func (c *Controller) Config() *api.Config { return LoadConfig(c.o.Store, c.o.Domain, c.log) }

// LoadConfig assembles the configuration from the stored ConfigMaps; an
// invalid one is logged and left out (its defaults apply).
func LoadConfig(st *store.Store, domain string, log *slog.Logger) *api.Config {
	cfg := api.DefaultConfig(domain)
	cms, err := st.List(api.KindConfigMap, ConfigNamespace)
	if err != nil {
		log.Error("list config maps", "err", err)
		return cfg
	}
	for _, o := range cms {
		if err := api.ParseConfigMap(o.(*api.ConfigMap), cfg); err != nil {
			log.Error("ignoring invalid config map", "name", o.GetName(), "err", err)
		}
	}
	return cfg
}

// Reconcile runs one pass over every object.
func (c *Controller) Reconcile(ctx context.Context) error {
	cfg := c.Config()
	var errs []error
	for _, step := range []struct {
		kind string
		fn   func(*api.Config) error
	}{
		{api.KindService, c.reconcileServices},
		{api.KindConfiguration, c.reconcileConfigurations},
		{api.KindRevision, c.reconcileRevisions},
		{api.KindRoute, c.reconcileRoutes},
		{api.KindService + "Status", c.reconcileServiceStatus},
		{api.KindDomainMapping, c.reconcileDomainMappings},
		{"GarbageCollection", c.collectOrphans},
		{"Gateway", c.programGateway},
	} {
		if ctx.Err() != nil {
			return nil
		}
		start := time.Now()
		err := step.fn(cfg)
		c.duration.WithLabelValues(step.kind).Observe(time.Since(start).Seconds())
		result := "success"
		if err != nil {
			result = "error"
			errs = append(errs, fmt.Errorf("%s: %w", step.kind, err))
		}
		c.reconciles.WithLabelValues(step.kind, result).Inc()
	}
	return errors.Join(errs...)
}

func (c *Controller) reconcileServices(cfg *api.Config) error {
	svcs, err := c.o.Store.List(api.KindService, "")
	if err != nil {
		return err
	}
	var errs []error
	for _, o := range svcs {
		svc := o.(*api.Service)
		if _, err := c.o.Store.Put(reconcile.ServiceConfiguration(svc), reconcile.ServiceRoute(svc)); err != nil {
			errs = append(errs, fmt.Errorf("service %s/%s: %w", svc.Namespace, svc.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (c *Controller) revisionsByConfig() (map[string][]*api.Revision, []*api.Revision, error) {
	objs, err := c.o.Store.List(api.KindRevision, "")
	if err != nil {
		return nil, nil, err
	}
	by := map[string][]*api.Revision{}
	var all []*api.Revision
	for _, o := range objs {
		r := o.(*api.Revision)
		all = append(all, r)
		k := r.Namespace + "/" + r.Labels[api.LabelConfiguration]
		by[k] = append(by[k], r)
	}
	return by, all, nil
}

func (c *Controller) reconcileConfigurations(cfg *api.Config) error {
	cfgs, err := c.o.Store.List(api.KindConfiguration, "")
	if err != nil {
		return err
	}
	by, _, err := c.revisionsByConfig()
	if err != nil {
		return err
	}
	var errs []error
	for _, o := range cfgs {
		conf := o.(*api.Configuration)
		res := reconcile.Configuration(conf, by[conf.Namespace+"/"+conf.Name], c.o.Now())
		if res.Create != nil {
			if _, err := c.o.Store.Put(res.Create); err != nil {
				errs = append(errs, fmt.Errorf("create revision %s/%s: %w", res.Create.Namespace, res.Create.Name, err))
				continue
			}
			c.log.Info("created revision", "namespace", conf.Namespace, "revision", res.Create.Name)
		}
		conf.Status = res.Status
		if err := c.o.Store.UpdateStatus(conf); err != nil {
			errs = append(errs, fmt.Errorf("configuration %s/%s status: %w", conf.Namespace, conf.Name, err))
		}
		// Revision GC, as Knative runs it after each Configuration reconcile.
		for _, name := range reconcile.CollectRevisions(conf, by[conf.Namespace+"/"+conf.Name], cfg.GC, c.o.Now()) {
			if err := c.o.Store.Delete(api.KindRevision, conf.Namespace, name); err != nil && !errors.Is(err, store.ErrNotFound) {
				errs = append(errs, fmt.Errorf("collect revision %s/%s: %w", conf.Namespace, name, err))
				continue
			}
			c.log.Info("collected revision", "namespace", conf.Namespace, "revision", name, "configuration", conf.Name)
		}
	}
	return errors.Join(errs...)
}

// routed returns, per namespace/revision, whether any route sends it traffic
// or names it in its spec (it must run to become ready and take that traffic).
func (c *Controller) routed() (map[string]bool, error) {
	routes, err := c.o.Store.List(api.KindRoute, "")
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, o := range routes {
		r := o.(*api.Route)
		for name := range reconcile.RoutedRevisions(r) {
			out[r.Namespace+"/"+name] = true
		}
		for _, t := range r.Spec.Traffic {
			if t.RevisionName != "" {
				out[r.Namespace+"/"+t.RevisionName] = true
			}
		}
	}
	return out, nil
}

func (c *Controller) reconcileRevisions(cfg *api.Config) error {
	_, revs, err := c.revisionsByConfig()
	if err != nil {
		return err
	}
	routed, err := c.routed()
	if err != nil {
		return err
	}
	latest := map[string]bool{}
	cfgs, err := c.o.Store.List(api.KindConfiguration, "")
	if err != nil {
		return err
	}
	for _, o := range cfgs {
		latest[o.GetNamespace()+"/"+o.(*api.Configuration).Status.LatestCreatedRevisionName] = true
	}
	keep := map[string]bool{}
	var errs []error
	now := c.o.Now()
	if c.o.Scaler != nil {
		inputs := make([]scaling.RevisionInput, 0, len(revs))
		for _, rev := range revs {
			k := rev.Namespace + "/" + rev.Name
			var cc int64
			if rev.Spec.ContainerConcurrency != nil {
				cc = *rev.Spec.ContainerConcurrency
			}
			inputs = append(inputs, scaling.RevisionInput{Namespace: rev.Namespace, Name: rev.Name,
				Service: rev.Labels[api.LabelService], Configuration: rev.Labels[api.LabelConfiguration],
				Annotations: rev.Annotations, ContainerConcurrency: cc, Reachable: routed[k] || latest[k],
				Created:          rev.CreationTimestamp.Time,
				ProgressDeadline: api.ProgressDeadline(rev.Annotations, cfg.Deployment, api.OneMachineProgressDeadline)})
		}
		c.o.Scaler.Sync(inputs, cfg.Autoscaler)
	}
	for _, rev := range revs {
		k := rev.Namespace + "/" + rev.Name
		scale := DesiredScale(rev, routed[k], latest[k])
		if c.o.Scaler != nil {
			if s, ok := c.o.Scaler.Scale(rev.Namespace, rev.Name); ok {
				scale = s
			}
		}
		if scale > 0 {
			keep[k] = true
			if err := c.o.Runtime.Ensure(rev, scale); err != nil {
				errs = append(errs, fmt.Errorf("revision %s: %w", k, err))
			}
		}
		obs := c.o.Runtime.Observe(rev.Namespace, rev.Name)
		if scale == 0 {
			obs.Desired, obs.Ready = 0, 0
		}
		rev.Status = reconcile.RevisionStatus(rev, obs, now)
		setRoutingState(rev, routed[k], now)
		if err := c.o.Store.UpdateStatus(rev); err != nil {
			errs = append(errs, fmt.Errorf("revision %s status: %w", k, err))
		}
	}
	c.o.Runtime.Retain(keep)
	return errors.Join(errs...)
}

// DesiredScale is the instance count of a revision until request-driven
// autoscaling takes over: routed revisions and the newest revision of each
// configuration run (at least min-scale, capped by max-scale); everything
// else is scaled to zero.
func DesiredScale(rev *api.Revision, routed, latestCreated bool) int {
	minScale := annotationInt(rev.Annotations, "autoscaling.knative.dev/min-scale", "autoscaling.knative.dev/minScale")
	maxScale := annotationInt(rev.Annotations, "autoscaling.knative.dev/max-scale", "autoscaling.knative.dev/maxScale")
	scale := 0
	switch {
	case routed, latestCreated:
		scale = max(1, minScale)
	}
	if maxScale > 0 && scale > maxScale {
		scale = maxScale
	}
	return scale
}

func annotationInt(ann map[string]string, keys ...string) int {
	for _, k := range keys {
		if v, ok := ann[k]; ok {
			n, err := strconv.Atoi(v)
			if err == nil && n >= 0 {
				return n
			}
		}
	}
	return 0
}

func setRoutingState(rev *api.Revision, routed bool, now time.Time) {
	state := api.RoutingStateReserve
	if routed {
		state = api.RoutingStateActive
	}
	if rev.Labels[api.LabelRoutingState] == state {
		return
	}
	// A new revision stays pending until it is ready or routed.
	if rev.Labels[api.LabelRoutingState] == api.RoutingStatePending && !routed && !reconcile.IsTrue(rev.Status.Conditions, api.ConditionReady) {
		return
	}
	if rev.Labels == nil {
		rev.Labels = map[string]string{}
	}
	if rev.Annotations == nil {
		rev.Annotations = map[string]string{}
	}
	rev.Labels[api.LabelRoutingState] = state
	rev.Annotations[api.AnnotationRoutingModified] = now.UTC().Format(time.RFC3339)
}

func (c *Controller) reconcileRoutes(cfg *api.Config) error {
	routes, err := c.o.Store.List(api.KindRoute, "")
	if err != nil {
		return err
	}
	var errs []error
	inputs := map[string]*reconcile.RouteInputs{}
	for _, o := range routes {
		r := o.(*api.Route)
		in := inputs[r.Namespace]
		if in == nil {
			in, err = c.routeInputs(r.Namespace, cfg)
			if err != nil {
				return err
			}
			inputs[r.Namespace] = in
		}
		r.Status = reconcile.RouteStatus(r, *in, c.o.Now())
		if err := c.o.Store.UpdateStatus(r); err != nil {
			errs = append(errs, fmt.Errorf("route %s/%s status: %w", r.Namespace, r.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (c *Controller) routeInputs(ns string, cfg *api.Config) (*reconcile.RouteInputs, error) {
	in := &reconcile.RouteInputs{Configurations: map[string]*api.Configuration{}, Revisions: map[string]*api.Revision{},
		Hosts: cfg, Scheme: cfg.Network.DefaultExternalScheme, Port: c.o.GatewayPort}
	cfgs, err := c.o.Store.List(api.KindConfiguration, ns)
	if err != nil {
		return nil, err
	}
	for _, o := range cfgs {
		in.Configurations[o.GetName()] = o.(*api.Configuration)
	}
	revs, err := c.o.Store.List(api.KindRevision, ns)
	if err != nil {
		return nil, err
	}
	for _, o := range revs {
		in.Revisions[o.GetName()] = o.(*api.Revision)
	}
	return in, nil
}

func (c *Controller) reconcileServiceStatus(cfg *api.Config) error {
	svcs, err := c.o.Store.List(api.KindService, "")
	if err != nil {
		return err
	}
	var errs []error
	for _, o := range svcs {
		svc := o.(*api.Service)
		var conf *api.Configuration
		var route *api.Route
		if o, err := c.o.Store.Get(api.KindConfiguration, svc.Namespace, svc.Name); err == nil {
			conf = o.(*api.Configuration)
		}
		if o, err := c.o.Store.Get(api.KindRoute, svc.Namespace, svc.Name); err == nil {
			route = o.(*api.Route)
		}
		svc.Status = reconcile.ServiceStatus(svc, conf, route, c.o.Now())
		if err := c.o.Store.UpdateStatus(svc); err != nil {
			errs = append(errs, fmt.Errorf("service %s/%s status: %w", svc.Namespace, svc.Name, err))
		}
	}
	return errors.Join(errs...)
}

// collectOrphans deletes objects whose controlling owner no longer exists,
// as Kubernetes' garbage collector does for owner references.
func (c *Controller) collectOrphans(*api.Config) error {
	uids := map[string]bool{}
	all := map[string][]api.Object{}
	for _, kind := range []string{api.KindService, api.KindConfiguration, api.KindRoute, api.KindRevision} {
		objs, err := c.o.Store.List(kind, "")
		if err != nil {
			return err
		}
		all[kind] = objs
		for _, o := range objs {
			uids[string(o.GetUID())] = true
		}
	}
	var errs []error
	for _, kind := range []string{api.KindConfiguration, api.KindRoute, api.KindRevision} {
		for _, o := range all[kind] {
			if owner := metav1.GetControllerOf(o); owner != nil && !uids[string(owner.UID)] {
				if err := c.o.Store.Delete(kind, o.GetNamespace(), o.GetName()); err != nil && !errors.Is(err, store.ErrNotFound) {
					errs = append(errs, err)
					continue
				}
				c.log.Info("deleted orphan", "kind", kind, "namespace", o.GetNamespace(), "name", o.GetName())
			}
		}
	}
	return errors.Join(errs...)
}

// programGateway sends the routes' hosts and the instances' addresses to the router.
func (c *Controller) programGateway(*api.Config) error {
	routes, err := c.o.Store.List(api.KindRoute, "")
	if err != nil {
		return err
	}
	revs, err := c.o.Store.List(api.KindRevision, "")
	if err != nil {
		return err
	}
	byName := make(map[string]*api.Revision, len(revs))
	for _, o := range revs {
		byName[o.GetNamespace()+"/"+o.GetName()] = o.(*api.Revision)
	}
	entries := RouteEntries(routes, func(ns, rev string) *api.Revision { return byName[ns+"/"+rev] })
	if c.o.Scaler != nil {
		for i := range entries {
			for j := range entries[i].Targets {
				tg := &entries[i].Targets[j]
				tg.Throttle = tg.ContainerConcurrency > 0 && c.o.Scaler.ActivatorInPath(tg.Namespace, tg.Revision)
			}
		}
	}
	dmEntries, certs := c.domainMappingEntries(entries)
	entries = append(entries, dmEntries...)
	t, err := gateway.NewTable(entries)
	if err != nil {
		return err
	}
	c.o.Router.SetTable(t)
	c.o.Router.SetCertificates(certs)
	c.o.Router.SetEndpoints(c.o.Runtime.Endpoints())
	return nil
}

// RouteEntries turns routes' resolved traffic into gateway entries: the main
// host with every weighted target, and one host per tag. When two routes claim
// a host, the older route keeps it.
func RouteEntries(routes []api.Object, revision func(namespace, name string) *api.Revision) []gateway.RouteEntry {
	sorted := append([]api.Object(nil), routes...)
	sort.SliceStable(sorted, func(i, j int) bool {
		ti, tj := sorted[i].GetCreationTimestamp(), sorted[j].GetCreationTimestamp()
		return ti.Before(&tj)
	})
	seen := map[string]bool{}
	var out []gateway.RouteEntry
	add := func(e gateway.RouteEntry) {
		if e.Host == "" || seen[e.Host] {
			return
		}
		seen[e.Host] = true
		out = append(out, e)
	}
	for _, o := range sorted {
		r := o.(*api.Route)
		if len(r.Status.Traffic) == 0 {
			continue
		}
		main := gateway.RouteEntry{Host: hostOf(r.Status.URL), Namespace: r.Namespace, Route: r.Name}
		for _, t := range r.Status.Traffic {
			var pct int64
			if t.Percent != nil {
				pct = *t.Percent
			}
			if t.RevisionName == "" {
				continue
			}
			tg := gateway.Target{Namespace: r.Namespace, Revision: t.RevisionName, Percent: pct}
			if rev := revisionOf(revision, r.Namespace, t.RevisionName); rev != nil {
				tg.H2C = IsH2C(&rev.Spec)
				if api.HTTPAndH2CPorts(rev.Spec.Containers) != nil {
					tg.H2C, tg.GRPC = false, true
					tg.GRPCService = rev.Annotations[AnnotationGRPCService]
					if tg.GRPCService == "" {
						tg.GRPCService = r.Annotations[AnnotationGRPCService]
					}
				}
				if ts := rev.Spec.TimeoutSeconds; ts != nil && *ts > 0 {
					tg.Timeout = time.Duration(*ts) * time.Second
				}
				if cc := rev.Spec.ContainerConcurrency; cc != nil && *cc > 0 {
					tg.ContainerConcurrency = int(*cc)
				}
			}
			main.Targets = append(main.Targets, tg)
			if t.Tag != "" {
				tagged := tg
				tagged.Percent, tagged.Tag = 100, t.Tag
				add(gateway.RouteEntry{Host: hostOf(t.URL), Namespace: r.Namespace, Route: r.Name, Tag: t.Tag,
					Targets: []gateway.Target{tagged}})
			}
		}
		add(main)
		// A custom host and path prefix for the route's traffic.
		for _, k := range []string{AnnotationIngressPath, AnnotationAliyunIngress} {
			if v := r.Annotations[k]; v != "" {
				host, path := splitHostPath(v, main.Host)
				e := main
				e.Host, e.PathPrefix = host, path
				if !seen[host+path] {
					seen[host+path] = true
					out = append(out, e)
				}
			}
		}
	}
	return out
}

// Annotations that serve a route at a custom HOST/PATH prefix, and that name
// the gRPC service of a revision with both an http1 and an h2c port.
const (
	AnnotationGRPCService   = "knative.alibabacloud.com/grpc"
	AnnotationIngressPath   = "serving.gantry.dev/path"
	AnnotationAliyunIngress = "knative.aliyun.com/serving-ingress"
)

// splitHostPath reads "HOST/PATH" (or "/PATH" for the route's own host).
func splitHostPath(v, defaultHost string) (host, path string) {
	v = strings.TrimPrefix(strings.TrimPrefix(v, "http://"), "https://")
	host, path, _ = strings.Cut(v, "/")
	if host == "" {
		host = defaultHost
	}
	return strings.ToLower(host), "/" + strings.Trim(path, "/")
}

func revisionOf(lookup func(ns, name string) *api.Revision, ns, name string) *api.Revision {
	if lookup == nil {
		return nil
	}
	return lookup(ns, name)
}

// IsH2C reports whether a revision serves HTTP/2 cleartext (gRPC): its
// serving container's port is named h2c, as in Knative.
func IsH2C(spec *api.RevisionSpec) bool {
	c := api.ServingContainer(spec)
	if c == nil {
		return false
	}
	for _, p := range c.Ports {
		if p.Name == "h2c" {
			return true
		}
	}
	return false
}

func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Hostname()
}
