package kube

import (
	"context"

	"github.com/gantry-dev/gantry/api"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// setupReconcilers registers one controller (informers and a rate-limited
// work queue) per kind, with the watches that wake it.
func setupReconcilers(mgr manager.Manager, gopts Options, b *base, autoscaled bool) error {
	cl := mgr.GetClient()
	opts := controller.Options{MaxConcurrentReconciles: 2}

	// A change of a config-* ConfigMap can change every object of a kind.
	configChanged := func(list func(ctx context.Context) []reconcile.Request) handler.EventHandler {
		return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			if o.GetNamespace() != gopts.SystemNamespace {
				return nil
			}
			return list(ctx)
		})
	}
	all := func(newList func() client.ObjectList, items func(client.ObjectList) []client.Object) func(ctx context.Context) []reconcile.Request {
		return func(ctx context.Context) []reconcile.Request {
			l := newList()
			if err := cl.List(ctx, l); err != nil {
				return nil
			}
			return requestsFor(items(l))
		}
	}
	allServices := all(func() client.ObjectList { return &ServiceList{} }, func(l client.ObjectList) []client.Object {
		var out []client.Object
		for i := range l.(*ServiceList).Items {
			out = append(out, &l.(*ServiceList).Items[i])
		}
		return out
	})
	allConfigurations := all(func() client.ObjectList { return &ConfigurationList{} }, func(l client.ObjectList) []client.Object {
		var out []client.Object
		for i := range l.(*ConfigurationList).Items {
			out = append(out, &l.(*ConfigurationList).Items[i])
		}
		return out
	})
	allRoutes := all(func() client.ObjectList { return &RouteList{} }, func(l client.ObjectList) []client.Object {
		var out []client.Object
		for i := range l.(*RouteList).Items {
			out = append(out, &l.(*RouteList).Items[i])
		}
		return out
	})
	allDomainMappings := all(func() client.ObjectList { return &DomainMappingList{} }, func(l client.ObjectList) []client.Object {
		var out []client.Object
		for i := range l.(*DomainMappingList).Items {
			out = append(out, &l.(*DomainMappingList).Items[i])
		}
		return out
	})
	// Everything of a kind in the namespace of the object that changed.
	inNamespace := func(newList func() client.ObjectList, items func(client.ObjectList) []client.Object) handler.EventHandler {
		return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			l := newList()
			if err := cl.List(ctx, l, client.InNamespace(o.GetNamespace())); err != nil {
				return nil
			}
			return requestsFor(items(l))
		})
	}
	revisionItems := func(l client.ObjectList) []client.Object {
		var out []client.Object
		for i := range l.(*RevisionList).Items {
			out = append(out, &l.(*RevisionList).Items[i])
		}
		return out
	}
	routeItems := func(l client.ObjectList) []client.Object {
		var out []client.Object
		for i := range l.(*RouteList).Items {
			out = append(out, &l.(*RouteList).Items[i])
		}
		return out
	}

	if err := ctrl.NewControllerManagedBy(mgr).Named("service").WithOptions(opts).
		For(&api.Service{}).
		Owns(&api.Configuration{}).
		Owns(&api.Route{}).
		Watches(&corev1.ConfigMap{}, configChanged(allServices)).
		Complete(&serviceReconciler{b}); err != nil {
		return err
	}
	if err := ctrl.NewControllerManagedBy(mgr).Named("configuration").WithOptions(opts).
		For(&api.Configuration{}).
		Owns(&api.Revision{}).
		Watches(&corev1.ConfigMap{}, configChanged(allConfigurations)).
		Complete(&configurationReconciler{b}); err != nil {
		return err
	}
	rb := ctrl.NewControllerManagedBy(mgr).Named("revision").WithOptions(opts).
		For(&api.Revision{}).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.Service{}).
		// Routing state and latest-created follow routes and configurations.
		Watches(&api.Route{}, inNamespace(func() client.ObjectList { return &RevisionList{} }, revisionItems)).
		Watches(&api.Configuration{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			var l RevisionList
			if err := cl.List(ctx, &l, client.InNamespace(o.GetNamespace()), client.MatchingLabels{api.LabelConfiguration: o.GetName()}); err != nil {
				return nil
			}
			return requestsFor(revisionItems(&l))
		})).
		// Pods say why a revision cannot start.
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			if rev := o.GetLabels()[api.LabelRevision]; rev != "" {
				return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: rev}}}
			}
			return nil
		}))
	if err := rb.Complete(&revisionReconciler{base: b, autoscaled: autoscaled}); err != nil {
		return err
	}
	routeB := ctrl.NewControllerManagedBy(mgr).Named("route").WithOptions(opts).
		For(&api.Route{}).
		Owns(&corev1.Service{}).
		Watches(&api.Configuration{}, inNamespace(func() client.ObjectList { return &RouteList{} }, routeItems)).
		Watches(&api.Revision{}, inNamespace(func() client.ObjectList { return &RouteList{} }, routeItems)).
		Watches(&corev1.ConfigMap{}, configChanged(allRoutes))
	if gopts.GatewayAPI != nil {
		// HTTPRoutes switch a revision between the activator and its own
		// Service as its Deployment gains or loses ready replicas.
		routeB = routeB.Owns(&gwv1.HTTPRoute{}).
			Watches(&appsv1.Deployment{}, inNamespace(func() client.ObjectList { return &RouteList{} }, routeItems))
	}
	if err := routeB.Complete(&routeReconciler{b}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).Named("domainmapping").WithOptions(opts).
		For(&api.DomainMapping{}).
		Watches(&api.Route{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
			return allDomainMappings(ctx)
		})).
		Watches(&api.Service{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
			return allDomainMappings(ctx)
		})).
		Watches(&corev1.ConfigMap{}, configChanged(allDomainMappings)).
		Complete(&domainMappingReconciler{b})
}

func requestsFor(objs []client.Object) []reconcile.Request {
	out := make([]reconcile.Request, 0, len(objs))
	for _, o := range objs {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}})
	}
	return out
}
