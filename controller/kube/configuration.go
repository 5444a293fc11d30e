package kube

import (
	"context"
	"fmt"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/controller/reconcile"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// configurationReconciler stamps out a Revision per generation of a
// Configuration's template, reports the latest created and ready ones, and
// collects old revisions as config-gc says.
type configurationReconciler struct{ *base }

func (r *configurationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, err error) {
	start := time.Now()
	defer func() { r.metrics.observe(api.KindConfiguration, start, err) }()

	conf := &api.Configuration{}
	if err := r.c.Get(ctx, req.NamespacedName, conf); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if conf.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	withKind(conf)
	cfg := r.config(ctx)
	now := r.now()
	d := conf.DeepCopy()
	api.SetDefaults(d, cfg)
	if verr := api.Validate(d, cfg); verr != nil {
		return r.invalid(ctx, conf, &conf.Status.Status, verr, now)
	}

	revs, err := r.revisions(ctx, conf)
	if err != nil {
		return ctrl.Result{}, err
	}
	out := reconcile.Configuration(d, revs, now)
	if out.Create != nil {
		toCluster(out.Create)
		switch err := r.c.Create(ctx, out.Create); {
		case apierrors.IsAlreadyExists(err):
			// The cache has not seen it yet: the next pass will.
			return ctrl.Result{RequeueAfter: 100 * time.Millisecond}, nil
		case err != nil:
			r.event(conf, corev1.EventTypeWarning, "CreationFailed", "Failed to create Revision %q: %v", out.Create.Name, err)
			return ctrl.Result{}, fmt.Errorf("create revision %s: %w", out.Create.Name, err)
		}
		r.event(conf, corev1.EventTypeNormal, "Created", "Created Revision %q", out.Create.Name)
		r.log.Info("created revision", "namespace", conf.Namespace, "revision", out.Create.Name)
		revs = append(revs, withKind(out.Create))
	}
	if !equality.Semantic.DeepEqual(out.Status, conf.Status) {
		if out.Status.LatestReadyRevisionName != "" && out.Status.LatestReadyRevisionName != conf.Status.LatestReadyRevisionName {
			r.event(conf, corev1.EventTypeNormal, "LatestReadyUpdate", "LatestReadyRevisionName updated to %q", out.Status.LatestReadyRevisionName)
		}
		conf.Status = out.Status
		if err := r.c.Status().Update(ctx, conf); err != nil {
			return requeueOnConflict(err)
		}
	}

	// Revision GC, as Knative runs it after each Configuration reconcile.
	for _, name := range reconcile.CollectRevisions(conf, revs, cfg.GC, now) {
		rev := &api.Revision{ObjectMeta: metav1.ObjectMeta{Namespace: conf.Namespace, Name: name}}
		if err := r.c.Delete(ctx, rev, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, fmt.Errorf("collect revision %s: %w", name, err)
		}
		r.event(conf, corev1.EventTypeNormal, "Deleted", "Deleted Revision %q (config-gc)", name)
		r.log.Info("collected revision", "namespace", conf.Namespace, "revision", name, "configuration", conf.Name)
	}
	// Revisions become stale with time alone: look again.
	return ctrl.Result{RequeueAfter: gcRecheck(cfg.GC)}, nil
}

// gcRecheck is how soon time alone can make a revision collectable.
func gcRecheck(gc api.GCConfig) time.Duration {
	d := 5 * time.Minute
	for _, w := range []time.Duration{gc.RetainSinceCreateTime, gc.RetainSinceLastActiveTime} {
		if w > 0 && w < d {
			d = w
		}
	}
	return d
}

// revisions lists conf's revisions (by label) from the cache.
func (r *configurationReconciler) revisions(ctx context.Context, conf *api.Configuration) ([]*api.Revision, error) {
	var list RevisionList
	if err := r.c.List(ctx, &list, client.InNamespace(conf.Namespace), client.MatchingLabels{api.LabelConfiguration: conf.Name}); err != nil {
		return nil, err
	}
	out := make([]*api.Revision, 0, len(list.Items))
	for i := range list.Items {
		if list.Items[i].DeletionTimestamp == nil {
			out = append(out, withKind(&list.Items[i]))
		}
	}
	return out, nil
}
