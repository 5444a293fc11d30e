package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// NewScheme returns a scheme with Kubernetes' built-in kinds, Gantry's
// custom resources and the Gateway API.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, AddToScheme, gwv1.Install} {
		if err := add(s); err != nil {
			panic(err) // only a programming error gets here
		}
	}
	return s
}

// Controller is `gantry controller`: a controller-runtime manager running the
// chosen components.
//
// A manager that loses its leader election (its Lease could not be renewed
// in time, as when the API server is down for longer than RenewDeadline) stops
// its controllers. Controller then builds a fresh manager, with fresh
// informers and queues, that campaigns again under the same identity (so it
// takes its own Lease back at once if nobody else has), instead of exiting:
// an API server outage is survived in-process. Only a failure of the first
// manager before it ever started leading is returned from Start.
type Controller struct {
	o        Options
	cfg      *rest.Config
	identity string // the leader election identity, one per process run

	mu       sync.Mutex
	mgr      manager.Manager
	managers int // built so far
	log      *slog.Logger
}

// New builds the controller against the API server of cfg; Start runs it.
func New(cfg *rest.Config, o Options) (*Controller, error) {
	o = o.withDefaults()
	for _, c := range o.Components {
		switch c {
		case ComponentController, ComponentAutoscaler, ComponentGateway:
		default:
			return nil, fmt.Errorf("unknown component %q (want %s, %s or %s)", c, ComponentController, ComponentAutoscaler, ComponentGateway)
		}
	}
	host, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("leader election identity: %w", err)
	}
	c := &Controller{o: o, cfg: cfg, identity: host + "_" + string(uuid.NewUUID()), log: o.Logger}
	mgr, err := c.build()
	if err != nil {
		return nil, err
	}
	c.mgr, c.managers = mgr, 1
	return c, nil
}

// build makes a manager with every chosen component.
func (c *Controller) build() (manager.Manager, error) {
	o, cfg := c.o, c.cfg
	managed := labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagedBy})
	revisionPods, err := labels.Parse(api.LabelRevision)
	if err != nil {
		return nil, err
	}
	skip := true
	addr := func(a string) string {
		if a == "0" {
			return "0"
		}
		return a
	}
	leader := o.LeaderElection && (o.runs(ComponentController) || o.runs(ComponentAutoscaler))
	mo := ctrl.Options{
		Scheme: NewScheme(),
		Logger: logr.FromSlogHandler(o.Logger.Handler()),
		Cache: cache.Options{
			SyncPeriod: &o.SyncPeriod,
			// Only what Gantry writes, and the pods of revisions, are cached.
			ByObject: map[client.Object]cache.ByObject{
				&appsv1.Deployment{}: {Label: managed},
				&corev1.Service{}:    {Label: managed},
				&corev1.Pod{}:        {Label: revisionPods},
				&corev1.ConfigMap{}:  {Namespaces: map[string]cache.Config{o.SystemNamespace: {}}},
			},
		},
		Metrics:                       metricsserver.Options{BindAddress: addr(o.MetricsAddr)},
		HealthProbeBindAddress:        addr(o.HealthAddr),
		LeaderElection:                leader,
		LeaderElectionID:              o.LeaderElectionID,
		LeaderElectionNamespace:       o.SystemNamespace,
		LeaderElectionReleaseOnCancel: true,
		Controller:                    config.Controller{SkipNameValidation: &skip},
	}
	if o.GatewayAPI != nil {
		// Only then: a cluster without Gateway API's CRDs has no mapping
		// for HTTPRoute, and the cache would refuse to start.
		mo.Cache.ByObject[&gwv1.HTTPRoute{}] = cache.ByObject{Label: managed}
	}
	if leader {
		// Our own Lease lock, only to keep one identity across the managers
		// of this process (controller-runtime picks a new one per manager).
		renew := 10 * time.Second // controller-runtime's default RenewDeadline
		lock, err := resourcelock.NewFromKubeconfig(resourcelock.LeasesResourceLock, o.SystemNamespace, o.LeaderElectionID,
			resourcelock.ResourceLockConfig{Identity: c.identity}, rest.CopyConfig(cfg), renew)
		if err != nil {
			return nil, fmt.Errorf("leader election lock: %w", err)
		}
		mo.LeaderElectionResourceLockInterface = lock
		mo.RenewDeadline = &renew
	}
	mgr, err := ctrl.NewManager(cfg, mo)
	if err != nil {
		return nil, fmt.Errorf("manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	b := &base{c: mgr.GetClient(), rec: mgr.GetEventRecorder("gantry-controller"), o: o, log: o.Logger,
		metrics: registerReconcileMetrics(), probe: newIngressProber(mgr.GetAPIReader(), o.SystemNamespace)}

	var scaler *autoscalerRunner
	if o.runs(ComponentAutoscaler) {
		scaler = newAutoscalerRunner(b, mgr.GetClient())
		if err := mgr.Add(scaler); err != nil {
			return nil, err
		}
	}
	if o.runs(ComponentController) {
		if err := setupReconcilers(mgr, o, b, scaler != nil || o.ExternalAutoscaler); err != nil {
			return nil, err
		}
	}
	if o.runs(ComponentGateway) {
		if err := mgr.Add(newGatewayRunner(b, scaler)); err != nil {
			return nil, err
		}
	}
	return mgr, nil
}

// Start runs the controller until ctx ends. A manager that stops on its own
// after it once led (leader election lost, or anything else) is replaced by a
// fresh one, after a back-off; see Controller.
func (c *Controller) Start(ctx context.Context) error {
	led := false
	backoff := time.Second
	for {
		mgr := c.Manager()
		began := time.Now()
		err := mgr.Start(ctx)
		select {
		case <-mgr.Elected(): // closed once it led (at once without leader election)
			led = true
		default:
		}
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			err = errors.New("manager stopped")
		}
		if !led {
			return err
		}
		if time.Since(began) > 5*time.Minute {
			backoff = time.Second
		}
		c.log.Warn("controller manager stopped; starting a new one", "err", err, "after", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
		next, err := c.build()
		if err != nil {
			c.log.Error("controller manager", "err", err)
			continue
		}
		c.mu.Lock()
		c.mgr = next
		c.managers++
		c.mu.Unlock()
	}
}

// managersBuilt is how many managers Start has run or will run (1 + restarts).
func (c *Controller) managersBuilt() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.managers
}

// Manager exposes the controller-runtime manager (for tests and wiring).
// It is replaced when a manager stops on its own (see Controller).
func (c *Controller) Manager() manager.Manager {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mgr
}

// base is what every reconciler shares.
type base struct {
	c       client.Client // reads from the informers' cache, writes to the API server
	rec     events.EventRecorder
	o       Options
	log     *slog.Logger
	metrics *reconcileMetrics
	probe   *ingressProber // whether the gateways serve a route yet
}

func (b *base) config(ctx context.Context) *api.Config {
	return loadConfig(ctx, b.c, b.o.SystemNamespace, b.o.Domain, b.log)
}

func (b *base) now() time.Time { return b.o.Now() }

// invalid reports an object that fails validation: in its status st, the given
// conditions and Ready turn False with Knative's message, and a warning event
// is recorded. The status is written only when that changed it.
func (b *base) invalid(ctx context.Context, obj client.Object, st *api.Status, verr error, now time.Time, also ...api.ConditionType) (ctrl.Result, error) {
	next := *st.DeepCopy()
	next.ObservedGeneration = obj.GetGeneration()
	for _, t := range append(also, api.ConditionReady) {
		next.Conditions = setCondition(next.Conditions, now, t, corev1.ConditionFalse, ReasonValidationFailed, verr.Error())
	}
	if equality.Semantic.DeepEqual(next, *st) {
		return ctrl.Result{}, nil
	}
	b.event(obj, corev1.EventTypeWarning, ReasonValidationFailed, "%s", verr.Error())
	*st = next
	return requeueOnConflict(b.c.Status().Update(ctx, obj))
}

// event records a Kubernetes event about obj.
func (b *base) event(obj runtime.Object, typ, reason, format string, args ...any) {
	if b.rec == nil {
		return
	}
	b.rec.Eventf(obj, nil, typ, reason, reason, format, args...)
}

// reconcileMetrics are the control-plane series the dashboards read
// (gantry_reconcile_total, gantry_reconcile_duration_seconds), as on one machine.
type reconcileMetrics struct {
	total    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

var (
	metricsOnce sync.Once
	metricsVal  *reconcileMetrics
)

func registerReconcileMetrics() *reconcileMetrics {
	metricsOnce.Do(func() {
		m := &reconcileMetrics{
			total: prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "gantry_reconcile_total", Help: "Reconciles by kind and result.",
			}, []string{"kind", "result"}),
			duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
				Name: "gantry_reconcile_duration_seconds", Help: "Time to reconcile one object, by kind.",
				Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
			}, []string{"kind"}),
		}
		ctrlmetrics.Registry.MustRegister(m.total, m.duration)
		metricsVal = m
	})
	return metricsVal
}

// observe records one reconcile of kind.
func (m *reconcileMetrics) observe(kind string, start time.Time, err error) {
	result := "success"
	if err != nil {
		result = "error"
	}
	m.total.WithLabelValues(kind, result).Inc()
	m.duration.WithLabelValues(kind).Observe(time.Since(start).Seconds())
}

// processRegistry is the process's metrics registry (controller-runtime's,
// served on MetricsAddr). A second controller in one process (tests) keeps
// the first one's collectors instead of panicking on a duplicate.
var processRegistry prometheus.Registerer = lenientRegisterer{ctrlmetrics.Registry}

type lenientRegisterer struct{ prometheus.Registerer }

func (r lenientRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				panic(err)
			}
		}
	}
}
