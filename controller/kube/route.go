package kube

import (
	"context"
	"fmt"
	"time"

	"github.com/gantry-dev/gantry/api"
	gcontroller "github.com/gantry-dev/gantry/controller"
	"github.com/gantry-dev/gantry/controller/reconcile"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// routeReconciler resolves a Route's traffic to revisions and names its URLs
// (the pure RouteStatus), then programs its ingress: for the built-in gateway
// a placeholder Service (the gateway reads routes itself); for the
// gateway-api class, HTTPRoutes with weighted backendRefs and a host per tag.
type routeReconciler struct{ *base }

func (r *routeReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, err error) {
	start := time.Now()
	defer func() { r.metrics.observe(api.KindRoute, start, err) }()

	route := &api.Route{}
	if err := r.c.Get(ctx, req.NamespacedName, route); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if route.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	withKind(route)
	cfg := r.config(ctx)
	now := r.now()
	d := route.DeepCopy()
	api.SetDefaults(d, cfg)
	if verr := api.Validate(d, cfg); verr != nil {
		return r.invalid(ctx, route, &route.Status.Status, verr, now, api.ConditionAllTrafficAssigned)
	}

	in, err := r.inputs(ctx, route.Namespace, cfg)
	if err != nil {
		return ctrl.Result{}, err
	}
	st := reconcile.RouteStatus(d, in, now)
	resolved := d.DeepCopy()
	resolved.Status = st

	class := IngressClassOf(d, cfg)
	if IsGatewayAPIClass(class) {
		if r.o.GatewayAPI == nil {
			msg := fmt.Sprintf("ingress class %q needs the controller's --gateway-api-gateway NAMESPACE/NAME", class)
			st.Conditions = setCondition(st.Conditions, now, api.ConditionIngressReady, corev1.ConditionFalse, "IngressNotConfigured", msg)
			st.Conditions = setCondition(st.Conditions, now, api.ConditionReady, corev1.ConditionFalse, "IngressNotConfigured", msg)
		} else if err := r.ensureHTTPRoutes(ctx, resolved); err != nil {
			return requeueOnConflict(err)
		}
	} else if r.o.GatewayHost != "" && st.URL != "" {
		if err := ensureService(ctx, r.c, MakeRoutePlaceholder(route, r.o.GatewayHost)); err != nil {
			return requeueOnConflict(err)
		}
	}

	// Ready only once the gateways route the traffic (Knative's ingress
	// probing): until then IngressReady and Ready are Unknown, asked again
	// shortly.
	var again time.Duration
	if r.probe != nil && !IsGatewayAPIClass(class) && reconcile.IsTrue(st.Conditions, api.ConditionReady) {
		entries := gcontroller.RouteEntries([]api.Object{resolved}, func(_, name string) *api.Revision { return in.Revisions[name] })
		if ok, why := r.probe.serves(ctx, entries); !ok {
			r.log.Debug("route not served yet", "namespace", route.Namespace, "route", route.Name, "why", why)
			st.Conditions = setCondition(st.Conditions, now, api.ConditionIngressReady, corev1.ConditionUnknown, "Uninitialized", probeWaitMessage)
			st.Conditions = setCondition(st.Conditions, now, api.ConditionReady, corev1.ConditionUnknown, "Uninitialized", probeWaitMessage)
			again = probeInterval
		}
	}
	if equality.Semantic.DeepEqual(st, route.Status) {
		return ctrl.Result{RequeueAfter: again}, nil
	}
	if reconcile.IsTrue(st.Conditions, api.ConditionReady) && !reconcile.IsTrue(route.Status.Conditions, api.ConditionReady) {
		r.event(route, corev1.EventTypeNormal, "RouteReady", "Route %q is ready at %s", route.Name, st.URL)
	}
	if c := reconcile.GetCondition(st.Conditions, api.ConditionAllTrafficAssigned); c != nil && c.Status == corev1.ConditionFalse {
		if old := reconcile.GetCondition(route.Status.Conditions, api.ConditionAllTrafficAssigned); old == nil || old.Message != c.Message {
			r.event(route, corev1.EventTypeWarning, c.Reason, "%s", c.Message)
		}
	}
	route.Status = st
	res, err = requeueOnConflict(r.c.Status().Update(ctx, route))
	if err == nil && !res.Requeue {
		res.RequeueAfter = again
	}
	return res, err
}

// Knative's words while its ingress is probed.
const probeWaitMessage = "Waiting for load balancer to be ready"

// probeInterval is how soon a route not yet served is asked about again.
const probeInterval = 250 * time.Millisecond

func (r *routeReconciler) inputs(ctx context.Context, ns string, cfg *api.Config) (reconcile.RouteInputs, error) {
	in := reconcile.RouteInputs{Configurations: map[string]*api.Configuration{}, Revisions: map[string]*api.Revision{},
		Hosts: cfg, Scheme: cfg.Network.DefaultExternalScheme, Port: r.o.GatewayPort}
	var cfgs ConfigurationList
	if err := r.c.List(ctx, &cfgs, client.InNamespace(ns)); err != nil {
		return in, err
	}
	for i := range cfgs.Items {
		in.Configurations[cfgs.Items[i].Name] = withKind(&cfgs.Items[i])
	}
	var revs RevisionList
	if err := r.c.List(ctx, &revs, client.InNamespace(ns)); err != nil {
		return in, err
	}
	for i := range revs.Items {
		if revs.Items[i].DeletionTimestamp == nil {
			in.Revisions[revs.Items[i].Name] = withKind(&revs.Items[i])
		}
	}
	return in, nil
}

// ensureHTTPRoutes writes route's HTTPRoutes and deletes those of tags it no
// longer has.
func (r *routeReconciler) ensureHTTPRoutes(ctx context.Context, route *api.Route) error {
	// A revision without ready instances is reached through the activator
	// (the gantry gateway), which holds the request and pokes the autoscaler;
	// once its Deployment has a ready replica, the revision's own Service.
	activator := ActivatorService(r.o.GatewayHost, r.o.SystemNamespace)
	backend := func(rev string) ServiceRef {
		d := &appsv1.Deployment{}
		if err := r.c.Get(ctx, client.ObjectKey{Namespace: route.Namespace, Name: DeploymentName(rev)}, d); err == nil && d.Status.ReadyReplicas > 0 {
			return ServiceRef{Name: RevisionServiceName(rev)}
		}
		return activator
	}
	wants := MakeHTTPRoutesVia(route, *r.o.GatewayAPI, backend)
	keep := map[string]bool{}
	for _, want := range wants {
		keep[want.Name] = true
		have := &gwv1.HTTPRoute{}
		err := r.c.Get(ctx, client.ObjectKeyFromObject(want), have)
		if apierrors.IsNotFound(err) {
			if err := r.c.Create(ctx, want); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("create httproute %s: %w", want.Name, err)
			}
			r.event(route, corev1.EventTypeNormal, "Created", "Created HTTPRoute %q", want.Name)
			continue
		}
		if err != nil {
			return err
		}
		if !metav1.IsControlledBy(have, route) {
			return fmt.Errorf("httproute %s/%s exists and is not owned by route %s", have.Namespace, have.Name, route.Name)
		}
		if equality.Semantic.DeepEqual(have.Spec.ParentRefs, want.Spec.ParentRefs) &&
			equality.Semantic.DeepEqual(have.Spec.Hostnames, want.Spec.Hostnames) &&
			rulesEqual(have.Spec.Rules, want.Spec.Rules) && equality.Semantic.DeepEqual(have.Labels, want.Labels) {
			continue
		}
		have.Labels = want.Labels
		have.Spec.ParentRefs, have.Spec.Hostnames, have.Spec.Rules = want.Spec.ParentRefs, want.Spec.Hostnames, want.Spec.Rules
		if err := r.c.Update(ctx, have); err != nil {
			return fmt.Errorf("update httproute %s: %w", want.Name, err)
		}
	}
	var list gwv1.HTTPRouteList
	if err := r.c.List(ctx, &list, client.InNamespace(route.Namespace), client.MatchingLabels{api.LabelRoute: route.Name}); err != nil {
		return err
	}
	for i := range list.Items {
		h := &list.Items[i]
		if !keep[h.Name] && metav1.IsControlledBy(h, route) {
			if err := r.c.Delete(ctx, h); client.IgnoreNotFound(err) != nil {
				return err
			}
		}
	}
	return nil
}

// rulesEqual compares rules on what the controller writes (the API server
// defaults matches and backendRef group and kind).
func rulesEqual(have, want []gwv1.HTTPRouteRule) bool {
	if len(have) != len(want) {
		return false
	}
	for i := range want {
		h, w := have[i].BackendRefs, want[i].BackendRefs
		if len(h) != len(w) {
			return false
		}
		for j := range w {
			if h[j].Name != w[j].Name || !equality.Semantic.DeepEqual(h[j].Port, w[j].Port) ||
				!equality.Semantic.DeepEqual(h[j].Weight, w[j].Weight) || !equality.Semantic.DeepEqual(h[j].Namespace, w[j].Namespace) {
				return false
			}
		}
	}
	return true
}
