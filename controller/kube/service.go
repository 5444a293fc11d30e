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

// serviceReconciler keeps a Service's Configuration and Route (same name,
// owned by it) in line with its spec, and its status with theirs.
type serviceReconciler struct{ *base }

func (r *serviceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, err error) {
	start := time.Now()
	defer func() { r.metrics.observe(api.KindService, start, err) }()

	svc := &api.Service{}
	if err := r.c.Get(ctx, req.NamespacedName, svc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if svc.DeletionTimestamp != nil {
		return ctrl.Result{}, nil // owned objects go with it (garbage collection)
	}
	withKind(svc)
	cfg := r.config(ctx)
	now := r.now()
	d := svc.DeepCopy()
	api.SetDefaults(d, cfg)
	if verr := api.Validate(d, cfg); verr != nil {
		// Its Configuration and Route are left as they were.
		return r.invalid(ctx, svc, &svc.Status.Status, verr, now)
	}

	conf, cerr := r.ensureConfiguration(ctx, d)
	route, rerr := r.ensureRoute(ctx, d)
	for _, e := range []error{cerr, rerr} {
		if e != nil && !isNotOwned(e) {
			return requeueOnConflict(e)
		}
	}
	st := reconcile.ServiceStatus(d, conf, route, now)
	if isNotOwned(cerr) {
		st.Conditions = setCondition(st.Conditions, now, api.ConditionConfigurationsReady, corev1.ConditionFalse, ReasonNotOwned, cerr.Error())
		st.Conditions = setCondition(st.Conditions, now, api.ConditionReady, corev1.ConditionFalse, ReasonNotOwned, cerr.Error())
	}
	if isNotOwned(rerr) {
		st.Conditions = setCondition(st.Conditions, now, api.ConditionRoutesReady, corev1.ConditionFalse, ReasonNotOwned, rerr.Error())
		st.Conditions = setCondition(st.Conditions, now, api.ConditionReady, corev1.ConditionFalse, ReasonNotOwned, rerr.Error())
	}
	if equality.Semantic.DeepEqual(st, svc.Status) {
		return ctrl.Result{}, nil
	}
	svc.Status = st
	return requeueOnConflict(r.c.Status().Update(ctx, svc))
}

type notOwnedError struct{ kind, name string }

func (e *notOwnedError) Error() string {
	return fmt.Sprintf("There is an existing %s %q that we do not own.", e.kind, e.name)
}

func isNotOwned(err error) bool {
	_, ok := err.(*notOwnedError)
	return ok
}

func (r *serviceReconciler) ensureConfiguration(ctx context.Context, svc *api.Service) (*api.Configuration, error) {
	want := reconcile.ServiceConfiguration(svc)
	toCluster(want)
	have := &api.Configuration{}
	err := r.c.Get(ctx, client.ObjectKeyFromObject(want), have)
	if apierrors.IsNotFound(err) {
		if err := r.c.Create(ctx, want); err != nil {
			return nil, fmt.Errorf("create configuration: %w", err)
		}
		r.event(svc, corev1.EventTypeNormal, "Created", "Created Configuration %q", want.Name)
		return withKind(want), nil
	}
	if err != nil {
		return nil, err
	}
	if !metav1.IsControlledBy(have, svc) {
		return nil, &notOwnedError{api.KindConfiguration, have.Name}
	}
	if equality.Semantic.DeepEqual(have.Spec, want.Spec) && equality.Semantic.DeepEqual(have.Labels, want.Labels) &&
		equality.Semantic.DeepEqual(have.Annotations, want.Annotations) {
		return withKind(have), nil
	}
	have.Spec, have.Labels, have.Annotations = want.Spec, want.Labels, want.Annotations
	if err := r.c.Update(ctx, have); err != nil {
		return nil, fmt.Errorf("update configuration: %w", err)
	}
	return withKind(have), nil
}

func (r *serviceReconciler) ensureRoute(ctx context.Context, svc *api.Service) (*api.Route, error) {
	want := reconcile.ServiceRoute(svc)
	toCluster(want)
	have := &api.Route{}
	err := r.c.Get(ctx, client.ObjectKeyFromObject(want), have)
	if apierrors.IsNotFound(err) {
		if err := r.c.Create(ctx, want); err != nil {
			return nil, fmt.Errorf("create route: %w", err)
		}
		r.event(svc, corev1.EventTypeNormal, "Created", "Created Route %q", want.Name)
		return withKind(want), nil
	}
	if err != nil {
		return nil, err
	}
	if !metav1.IsControlledBy(have, svc) {
		return nil, &notOwnedError{api.KindRoute, have.Name}
	}
	if equality.Semantic.DeepEqual(have.Spec, want.Spec) && equality.Semantic.DeepEqual(have.Labels, want.Labels) &&
		equality.Semantic.DeepEqual(have.Annotations, want.Annotations) {
		return withKind(have), nil
	}
	have.Spec, have.Labels, have.Annotations = want.Spec, want.Labels, want.Annotations
	if err := r.c.Update(ctx, have); err != nil {
		return nil, fmt.Errorf("update route: %w", err)
	}
	return withKind(have), nil
}
