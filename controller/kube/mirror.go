package kube

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/store"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Mirror copies the cluster's Services, Configurations, Revisions, Routes
// and DomainMappings into st, and keeps them in step until ctx ends, so the
// pages of `gantry up` (which read a store) show a cluster. st is a
// read-only view: nothing written to it goes back to the cluster.
func Mirror(ctx context.Context, cfg *rest.Config, st *store.Store, log *slog.Logger) error {
	c, err := cache.New(cfg, cache.Options{Scheme: NewScheme()})
	if err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	kinds := []client.Object{&api.Service{}, &api.Configuration{}, &api.Revision{}, &api.Route{}, &api.DomainMapping{}}
	for _, k := range kinds {
		inf, err := c.GetInformer(ctx, k)
		if err != nil {
			return fmt.Errorf("mirror %T: %w", k, err)
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { mirrorPut(st, o, log) },
			UpdateFunc: func(_, o any) { mirrorPut(st, o, log) },
			DeleteFunc: func(o any) { mirrorDelete(st, o, log) },
		}); err != nil {
			return fmt.Errorf("mirror %T: %w", k, err)
		}
	}
	return c.Start(ctx)
}

func mirrorPut(st *store.Store, o any, log *slog.Logger) {
	co, ok := o.(client.Object)
	if !ok {
		return
	}
	obj, ok := co.DeepCopyObject().(api.Object)
	if !ok {
		return
	}
	// The store keeps its own resource versions and generations; the
	// cluster's UID and creation time are kept as they are.
	gen := obj.GetGeneration()
	obj.SetResourceVersion("")
	obj.SetManagedFields(nil)
	if _, err := st.Put(obj); err != nil {
		log.Warn("mirror", "object", api.RefOf(obj).String(), "err", err)
		return
	}
	// A status that saw the cluster's generation saw the store's.
	if s := statusOf(obj); s != nil && s.ObservedGeneration == gen {
		s.ObservedGeneration = obj.GetGeneration()
	}
	if err := st.UpdateStatus(obj); err != nil {
		log.Warn("mirror status", "object", api.RefOf(obj).String(), "err", err)
	}
}

func mirrorDelete(st *store.Store, o any, log *slog.Logger) {
	if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	obj, ok := o.(api.Object)
	if !ok {
		return
	}
	if err := st.Delete(api.KindOf(obj), obj.GetNamespace(), obj.GetName()); err != nil {
		log.Warn("mirror delete", "object", api.RefOf(obj).String(), "err", err)
	}
}

func statusOf(o api.Object) *api.Status {
	switch o := o.(type) {
	case *api.Service:
		return &o.Status.Status
	case *api.Configuration:
		return &o.Status.Status
	case *api.Revision:
		return &o.Status.Status
	case *api.Route:
		return &o.Status.Status
	case *api.DomainMapping:
		return &o.Status.Status
	}
	return nil
}
