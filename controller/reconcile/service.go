package reconcile

import (
	"fmt"
	"maps"
	"time"

	"github.com/gantry-dev/gantry/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// OwnerRef returns a controller owner reference to obj.
func OwnerRef(obj api.Object) metav1.OwnerReference {
	t := true
	gvk := obj.GetObjectKind().GroupVersionKind()
	return metav1.OwnerReference{
		APIVersion: gvk.GroupVersion().String(), Kind: api.KindOf(obj),
		Name: obj.GetName(), UID: obj.GetUID(), Controller: &t, BlockOwnerDeletion: &t,
	}
}

// ServiceConfiguration returns the Configuration a Service owns: same name and
// namespace, the Service's template, and the service label.
func ServiceConfiguration(svc *api.Service) *api.Configuration {
	c := &api.Configuration{}
	c.SetGroupVersionKind(api.GroupVersionKind(api.KindConfiguration))
	c.Name, c.Namespace = svc.Name, svc.Namespace
	c.Labels = withLabel(svc.Labels, api.LabelService, svc.Name)
	c.Annotations = copyMap(svc.Annotations)
	c.OwnerReferences = []metav1.OwnerReference{OwnerRef(svc)}
	c.Spec = *svc.Spec.ConfigurationSpec.DeepCopy()
	return c
}

// ServiceRoute returns the Route a Service owns. Targets naming the latest
// revision are bound to the Service's configuration, as Knative does.
func ServiceRoute(svc *api.Service) *api.Route {
	r := &api.Route{}
	r.SetGroupVersionKind(api.GroupVersionKind(api.KindRoute))
	r.Name, r.Namespace = svc.Name, svc.Namespace
	r.Labels = withLabel(svc.Labels, api.LabelService, svc.Name)
	r.Annotations = copyMap(svc.Annotations)
	r.OwnerReferences = []metav1.OwnerReference{OwnerRef(svc)}
	for _, t := range svc.Spec.Traffic {
		t := *t.DeepCopy()
		if t.RevisionName == "" {
			t.ConfigurationName = svc.Name
		}
		r.Spec.Traffic = append(r.Spec.Traffic, t)
	}
	return r
}

// ServiceStatus derives a Service's status from its Configuration and Route.
func ServiceStatus(svc *api.Service, cfg *api.Configuration, route *api.Route, now time.Time) api.ServiceStatus {
	st := *svc.Status.DeepCopy()
	st.ObservedGeneration = svc.Generation
	if cfg == nil {
		st.Conditions = setCondition(st.Conditions, now, api.ConditionConfigurationsReady, corev1.ConditionUnknown, "OutOfDate", "The Configuration has not been created yet.")
	} else {
		st.ConfigurationStatusFields = cfg.Status.ConfigurationStatusFields
		s, reason, msg := condStatus(cfg.Status.Conditions, api.ConditionReady)
		if cfg.Status.ObservedGeneration != cfg.Generation {
			s, reason, msg = corev1.ConditionUnknown, "OutOfDate", fmt.Sprintf("The Configuration %q has not been reconciled yet.", cfg.Name)
		}
		if reason == "" && s == corev1.ConditionUnknown {
			reason = "OutOfDate"
		}
		st.Conditions = setCondition(st.Conditions, now, api.ConditionConfigurationsReady, s, reason, msg)
	}
	if route == nil {
		st.Conditions = setCondition(st.Conditions, now, api.ConditionRoutesReady, corev1.ConditionUnknown, "OutOfDate", "The Route has not been created yet.")
	} else {
		st.RouteStatusFields = *route.Status.RouteStatusFields.DeepCopy()
		s, reason, msg := condStatus(route.Status.Conditions, api.ConditionReady)
		if route.Status.ObservedGeneration != route.Generation {
			s, reason, msg = corev1.ConditionUnknown, "OutOfDate", fmt.Sprintf("The Route %q has not been reconciled yet.", route.Name)
		}
		// A route still pointing at an older revision than the latest ready is not
		// done yet (Knative's "traffic not migrated" check).
		if s == corev1.ConditionTrue && cfg != nil && !trafficMigrated(svc, cfg, route) {
			s, reason, msg = corev1.ConditionUnknown, "TrafficNotMigrated", "Traffic is not yet migrated to the latest revision."
		}
		st.Conditions = setCondition(st.Conditions, now, api.ConditionRoutesReady, s, reason, msg)
	}
	st.Conditions = ready(st.Conditions, now, api.ConditionConfigurationsReady, api.ConditionRoutesReady)
	return st
}

func trafficMigrated(svc *api.Service, cfg *api.Configuration, route *api.Route) bool {
	latest := cfg.Status.LatestReadyRevisionName
	for _, t := range route.Status.Traffic {
		if t.LatestRevision != nil && *t.LatestRevision && t.RevisionName != latest {
			return false
		}
	}
	return true
}

func withLabel(labels map[string]string, k, v string) map[string]string {
	out := copyMap(labels)
	if out == nil {
		out = map[string]string{}
	}
	out[k] = v
	return out
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	return maps.Clone(m)
}
