package kube

import (
	"context"
	"time"

	"github.com/gantry-dev/gantry/api"
	gcontroller "github.com/gantry-dev/gantry/controller"
	"github.com/gantry-dev/gantry/controller/reconcile"
	"github.com/gantry-dev/gantry/gateway"
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
	// Ready only once the gateways serve the host, as for routes.
	var again time.Duration
	if r.probe != nil && reconcile.IsTrue(out.Status.Conditions, api.ConditionReady) {
		if ok, why := r.probe.serves(ctx, r.mappedEntries(d, in)); !ok {
			r.log.Debug("domain mapping not served yet", "namespace", dm.Namespace, "name", dm.Name, "why", why)
			out.Status.Conditions = setCondition(out.Status.Conditions, now, api.ConditionIngressReady, corev1.ConditionUnknown, "Uninitialized", probeWaitMessage)
			out.Status.Conditions = setCondition(out.Status.Conditions, now, api.ConditionReady, corev1.ConditionUnknown, "Uninitialized", probeWaitMessage)
			again = probeInterval
		}
	}
	if equality.Semantic.DeepEqual(out.Status, dm.Status) {
		return ctrl.Result{RequeueAfter: again}, nil
	}
	if c := reconcile.GetCondition(out.Status.Conditions, api.ConditionReady); c != nil && c.Status == corev1.ConditionFalse {
		if old := reconcile.GetCondition(dm.Status.Conditions, api.ConditionReady); old == nil || old.Message != c.Message {
			r.event(dm, corev1.EventTypeWarning, c.Reason, "%s", c.Message)
		}
	}
	dm.Status = out.Status
	res, err = requeueOnConflict(r.c.Status().Update(ctx, dm))
	if err == nil && !res.Requeue {
		res.RequeueAfter = again
	}
	return res, err
}

// mappedEntries is what the gateways serve for dm: its route's main entry
// under dm's host (gatewayRunner.domainMappingEntries).
func (r *domainMappingReconciler) mappedEntries(dm *api.DomainMapping, in reconcile.DomainMappingInputs) []gateway.RouteEntry {
	ns := dm.Spec.Ref.Namespace
	if ns == "" {
		ns = dm.Namespace
	}
	rt := in.Route(ns, dm.Spec.Ref.Name)
	if rt == nil {
		return nil
	}
	for _, e := range gcontroller.RouteEntries([]api.Object{withKind(rt)}, func(string, string) *api.Revision { return nil }) {
		if e.Tag == "" && e.PathPrefix == "" {
			e.RewriteHost, e.Host = e.Host, dm.Name
			return []gateway.RouteEntry{e}
		}
	}
	return nil
}
