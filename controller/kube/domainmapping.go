package kube

import (
	"context"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/controller/reconcile"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// domainMappingReconciler claims a DomainMapping's host, resolves its
// reference and reports Knative's conditions (the pure DomainMapping); the
// gateway serves the ready ones. TLS secrets are not read (the controller
// has no access to Secrets): a mapping with spec.tls is reported as using an
// externally provided certificate.
type domainMappingReconciler struct{ *base }

func (r *domainMappingReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, err error) {
	start := time.Now()
	defer func() { r.metrics.observe(api.KindDomainMapping, start, err) }()

	dm := &api.DomainMapping{}
	if err := r.c.Get(ctx, req.NamespacedName, dm); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if dm.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	withKind(dm)
	cfg := r.config(ctx)
	now := r.now()
	d := dm.DeepCopy()
	api.SetDefaults(d, cfg)
	if verr := api.Validate(d, cfg); verr != nil {
		return r.invalid(ctx, dm, &dm.Status.Status, verr, now)
	}

	var all DomainMappingList
	if err := r.c.List(ctx, &all); err != nil {
		return ctrl.Result{}, err
	}
	dms := make([]*api.DomainMapping, 0, len(all.Items))
	for i := range all.Items {
		dms = append(dms, &all.Items[i])
	}
	var routes RouteList
	if err := r.c.List(ctx, &routes); err != nil {
		return ctrl.Result{}, err
	}
	routeHosts := map[string]string{}
	for i := range routes.Items {
		rt := &routes.Items[i]
		if h := hostOfURL(rt.Status.URL); h != "" {
			routeHosts[h] = rt.Namespace + "/" + rt.Name
		}
		for _, t := range rt.Status.Traffic {
			if h := hostOfURL(t.URL); h != "" {
				routeHosts[h] = rt.Namespace + "/" + rt.Name
			}
		}
	}
	in := reconcile.DomainMappingInputs{
		Service: func(ns, name string) *api.Service {
			s := &api.Service{}
			if r.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s) != nil {
				return nil
			}
			return s
		},
		Route: func(ns, name string) *api.Route {
			rt := &api.Route{}
			if r.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, rt) != nil {
				return nil
			}
			return rt
		},
		Claims: reconcile.DomainClaims(dms), RouteHosts: routeHosts,
		Scheme: cfg.Network.DefaultExternalScheme, Port: r.o.GatewayPort,
	}
	out := reconcile.DomainMapping(d, in, now)
	if equality.Semantic.DeepEqual(out.Status, dm.Status) {
		return ctrl.Result{}, nil
	}
	if c := reconcile.GetCondition(out.Status.Conditions, api.ConditionReady); c != nil && c.Status == corev1.ConditionFalse {
		if old := reconcile.GetCondition(dm.Status.Conditions, api.ConditionReady); old == nil || old.Message != c.Message {
			r.event(dm, corev1.EventTypeWarning, c.Reason, "%s", c.Message)
		}
	}
	dm.Status = out.Status
	return requeueOnConflict(r.c.Status().Update(ctx, dm))
}
