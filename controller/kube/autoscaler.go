package kube

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/controller/reconcile"
	"github.com/gantry-dev/gantry/controller/scaling"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// autoscalerRunner runs the KPA (controller/scaling) for every revision on
// the cluster: it scrapes the queue-proxies' stats on 9090 of the revision's
// ready pods, and writes each decision to the revision's Deployment through
// its scale subresource. It is leader-elected with the controller.
type autoscalerRunner struct {
	*base
	c      client.Client
	scaler *scaling.Scaler
	wake   chan struct{}
}

func newAutoscalerRunner(b *base, c client.Client) *autoscalerRunner {
	a := &autoscalerRunner{base: b, c: c, wake: make(chan struct{}, 1)}
	a.scaler = scaling.New(scaling.Options{
		Pods:     a.pods,
		Registry: processRegistry,
		Logger:   b.log.With("component", "autoscaler"),
		Now:      b.o.Now,
		OnChange: a.poke,
	})
	return a
}

func (a *autoscalerRunner) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// NeedLeaderElection: only the leader scales.
func (a *autoscalerRunner) NeedLeaderElection() bool { return true }

// Poke is the activator's cold-start signal.
func (a *autoscalerRunner) Poke(namespace, revision string) { a.scaler.Poke(namespace, revision) }

// Start runs until ctx ends.
func (a *autoscalerRunner) Start(ctx context.Context) error {
	go a.scaler.Run(ctx)
	if a.o.AutoscalerAddr != "0" {
		go a.serve(ctx)
	}
	t := time.NewTicker(a.o.ScaleInterval)
	defer t.Stop()
	for {
		if err := a.apply(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("autoscaler pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-a.wake:
		}
	}
}

// serve answers remote gateways' pokes: POST /poke?namespace=NS&revision=REV.
func (a *autoscalerRunner) serve(ctx context.Context) {
	mux := http.NewServeMux()
	mux.HandleFunc("/poke", func(w http.ResponseWriter, r *http.Request) {
		ns, rev := r.URL.Query().Get("namespace"), r.URL.Query().Get("revision")
		if ns == "" || rev == "" {
			http.Error(w, "namespace and revision are required", http.StatusBadRequest)
			return
		}
		a.Poke(ns, rev)
		w.WriteHeader(http.StatusAccepted)
	})
	srv := &http.Server{Addr: a.o.AutoscalerAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.log.Error("autoscaler poke server", "addr", a.o.AutoscalerAddr, "err", err)
	}
}

// pods lists a revision's pods as the scaler sees them.
func (a *autoscalerRunner) pods(namespace, revision string) []scaling.Pod {
	var list corev1.PodList
	if err := a.c.List(context.Background(), &list, client.InNamespace(namespace), client.MatchingLabels{api.LabelRevision: revision}); err != nil {
		return nil
	}
	out := make([]scaling.Pod, 0, len(list.Items))
	for i := range list.Items {
		p := &list.Items[i]
		sp := scaling.Pod{Name: p.Name, Ready: podReady(p) && p.DeletionTimestamp == nil}
		if p.Status.PodIP != "" {
			sp.StatsAddr = net.JoinHostPort(p.Status.PodIP, strconv.Itoa(QueueStatsPort))
		}
		if p.Status.StartTime != nil {
			sp.Started = p.Status.StartTime.Time
		}
		out = append(out, sp)
	}
	return out
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// apply syncs the scaler with the revisions and writes its decisions.
func (a *autoscalerRunner) apply(ctx context.Context) error {
	cfg := a.config(ctx)
	var revs RevisionList
	if err := a.c.List(ctx, &revs); err != nil {
		return err
	}
	var routes RouteList
	if err := a.c.List(ctx, &routes); err != nil {
		return err
	}
	var confs ConfigurationList
	if err := a.c.List(ctx, &confs); err != nil {
		return err
	}
	routed := map[string]bool{}
	for i := range routes.Items {
		rt := &routes.Items[i]
		for name := range reconcile.RoutedRevisions(rt) {
			routed[rt.Namespace+"/"+name] = true
		}
		for _, t := range rt.Spec.Traffic {
			if t.RevisionName != "" {
				routed[rt.Namespace+"/"+t.RevisionName] = true
			}
		}
	}
	latest := map[string]bool{}
	for i := range confs.Items {
		latest[confs.Items[i].Namespace+"/"+confs.Items[i].Status.LatestCreatedRevisionName] = true
	}
	inputs := make([]scaling.RevisionInput, 0, len(revs.Items))
	for i := range revs.Items {
		rev := &revs.Items[i]
		if rev.DeletionTimestamp != nil {
			continue
		}
		k := rev.Namespace + "/" + rev.Name
		var cc int64
		if rev.Spec.ContainerConcurrency != nil {
			cc = *rev.Spec.ContainerConcurrency
		}
		inputs = append(inputs, scaling.RevisionInput{Namespace: rev.Namespace, Name: rev.Name,
			Service: rev.Labels[api.LabelService], Configuration: rev.Labels[api.LabelConfiguration],
			Annotations: rev.Annotations, ContainerConcurrency: cc, Reachable: routed[k] || latest[k],
			Created:          rev.CreationTimestamp.Time,
			ProgressDeadline: api.ProgressDeadline(rev.Annotations, cfg.Deployment, api.DefaultProgressDeadline)})
	}
	a.scaler.Sync(inputs, cfg.Autoscaler)
	var errs []error
	for _, in := range inputs {
		want, ok := a.scaler.Scale(in.Namespace, in.Name)
		if !ok {
			continue
		}
		// Until the first decision, the static rule holds.
		if want == 0 && (routed[in.Namespace+"/"+in.Name] || latest[in.Namespace+"/"+in.Name]) && !a.decided(in) {
			continue
		}
		if err := a.scale(ctx, in.Namespace, in.Name, int32(want)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// decided reports whether the scaler has made a decision for the revision.
func (a *autoscalerRunner) decided(in scaling.RevisionInput) bool {
	return len(a.scaler.Decisions(in.Namespace, in.Name)) > 0
}

// scale sets the replicas of a revision's Deployment through the scale
// subresource, as any autoscaler (the HPA, Knative's KPA) does.
func (a *autoscalerRunner) scale(ctx context.Context, namespace, revision string, replicas int32) error {
	d := &appsv1.Deployment{}
	if err := a.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: DeploymentName(revision)}, d); err != nil {
		return client.IgnoreNotFound(err)
	}
	if d.Spec.Replicas != nil && *d.Spec.Replicas == replicas {
		return nil
	}
	sc := &autoscalingv1.Scale{}
	if err := a.c.SubResource("scale").Get(ctx, d, sc); err != nil {
		return err
	}
	if sc.Spec.Replicas == replicas {
		return nil
	}
	sc.Spec.Replicas = replicas
	if err := a.c.SubResource("scale").Update(ctx, d, client.WithSubResourceBody(sc)); err != nil {
		return err
	}
	a.log.Info("scaled revision", "namespace", namespace, "revision", revision, "replicas", replicas)
	return nil
}
