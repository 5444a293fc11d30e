package api

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Object is any Gantry resource: Kubernetes object metadata plus its type.
// +kubebuilder:object:generate=false
type Object interface {
	metav1.Object
	GetObjectKind() schema.ObjectKind
}

// Compile-time guards.
var (
	_ Object = (*Service)(nil)
	_ Object = (*Configuration)(nil)
	_ Object = (*Revision)(nil)
	_ Object = (*Route)(nil)
	_ Object = (*DomainMapping)(nil)
	_ Object = (*ConfigMap)(nil)
	_ Object = (*Secret)(nil)
)

// KindOf returns the kind set in obj's TypeMeta, or the one implied by its Go type.
func KindOf(obj Object) string {
	switch obj.(type) {
	case *Service:
		return KindService
	case *Configuration:
		return KindConfiguration
	case *Revision:
		return KindRevision
	case *Route:
		return KindRoute
	case *DomainMapping:
		return KindDomainMapping
	case *ConfigMap:
		return KindConfigMap
	case *Secret:
		return KindSecret
	}
	return obj.GetObjectKind().GroupVersionKind().Kind
}

// New returns an empty object of kind, with its TypeMeta set.
func New(kind string) (Object, error) {
	var o Object
	switch kind {
	case KindService:
		o = &Service{}
	case KindConfiguration:
		o = &Configuration{}
	case KindRevision:
		o = &Revision{}
	case KindRoute:
		o = &Route{}
	case KindDomainMapping:
		o = &DomainMapping{}
		o.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{Group: GroupKnative, Version: "v1beta1", Kind: kind})
		return o, nil
	case KindConfigMap:
		o = &ConfigMap{}
		o.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: kind})
		return o, nil
	case KindSecret:
		o = &Secret{}
		o.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: kind})
		return o, nil
	default:
		return nil, fmt.Errorf("unknown kind %q", kind)
	}
	o.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{Group: GroupKnative, Version: "v1", Kind: kind})
	return o, nil
}

// Kinds lists the stored kinds in the order they are applied and listed.
var Kinds = []string{KindConfigMap, KindSecret, KindService, KindConfiguration, KindRevision, KindRoute, KindDomainMapping}

// KindForResource maps a command-line resource name (services, ksvc, rev, ...) to its kind.
func KindForResource(name string) (string, bool) {
	switch strings.ToLower(name) {
	case "service", "services", "ksvc", "ksvcs", "svc", "gsvc":
		return KindService, true
	case "configuration", "configurations", "config", "configs", "cfg":
		return KindConfiguration, true
	case "revision", "revisions", "rev", "revs":
		return KindRevision, true
	case "route", "routes", "rt":
		return KindRoute, true
	case "domainmapping", "domainmappings", "dm":
		return KindDomainMapping, true
	case "configmap", "configmaps", "cm":
		return KindConfigMap, true
	case "secret", "secrets":
		return KindSecret, true
	}
	return "", false
}

// Ref names an object: kind, namespace and name.
// +kubebuilder:object:generate=false
type Ref struct {
	Kind, Namespace, Name string
}

func (r Ref) String() string { return r.Kind + " " + r.Namespace + "/" + r.Name }

// RefOf returns obj's Ref.
func RefOf(obj Object) Ref {
	return Ref{Kind: KindOf(obj), Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// GroupVersionKind returns the group/version Gantry stores kind under.
func GroupVersionKind(kind string) schema.GroupVersionKind {
	o, err := New(kind)
	if err != nil {
		return schema.GroupVersionKind{Kind: kind}
	}
	return o.GetObjectKind().GroupVersionKind()
}
