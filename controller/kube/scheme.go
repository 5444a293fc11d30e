package kube

import (
	"github.com/gantry-dev/gantry/api"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is where Gantry's custom resources live on a cluster: its own
// group, so that Gantry installs beside Knative Serving.
var GroupVersion = schema.GroupVersion{Group: api.GroupGantry, Version: "v1"}

// List types of the custom resources, for informers and List calls. The
// object types themselves are api's. Deep copies are generated:
// go generate ./controller/kube

// ServiceList is a list of Services.
// +kubebuilder:object:root=true
type ServiceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []api.Service `json:"items"`
}

// ConfigurationList is a list of Configurations.
// +kubebuilder:object:root=true
type ConfigurationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []api.Configuration `json:"items"`
}

// RevisionList is a list of Revisions.
// +kubebuilder:object:root=true
type RevisionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []api.Revision `json:"items"`
}

// RouteList is a list of Routes.
// +kubebuilder:object:root=true
type RouteList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []api.Route `json:"items"`
}

// DomainMappingList is a list of DomainMappings.
// +kubebuilder:object:root=true
type DomainMappingList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []api.DomainMapping `json:"items"`
}

// AddToScheme registers Gantry's custom resources under GroupVersion.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&api.Service{}, &ServiceList{},
		&api.Configuration{}, &ConfigurationList{},
		&api.Revision{}, &RevisionList{},
		&api.Route{}, &RouteList{},
		&api.DomainMapping{}, &DomainMappingList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// gantryGVK is kind's GroupVersionKind on a cluster.
func gantryGVK(kind string) schema.GroupVersionKind { return GroupVersion.WithKind(kind) }

// toCluster prepares an object built by the pure reconcilers (which stamp
// Knative's group) for the API server: its TypeMeta and the API version of
// owner references that point at Gantry kinds move to serving.gantry.dev/v1.
func toCluster(obj api.Object) {
	obj.GetObjectKind().SetGroupVersionKind(gantryGVK(api.KindOf(obj)))
	refs := obj.GetOwnerReferences()
	for i := range refs {
		if gv, err := schema.ParseGroupVersion(refs[i].APIVersion); err == nil && gv.Group == api.GroupKnative {
			refs[i].APIVersion = GroupVersion.String()
		}
	}
	obj.SetOwnerReferences(refs)
}

// withKind sets obj's TypeMeta, which the cache and the client leave empty,
// so the reconcilers' OwnerRef names the right kind and group.
func withKind[T api.Object](obj T) T {
	obj.GetObjectKind().SetGroupVersionKind(gantryGVK(api.KindOf(obj)))
	return obj
}

// TranslateAPIVersion maps Knative's serving.knative.dev API versions to
// Gantry's serving.gantry.dev/v1 (DomainMapping's v1beta1 and v1alpha1
// too); anything else is returned unchanged.
func TranslateAPIVersion(apiVersion, kind string) string {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil || gv.Group != api.GroupKnative {
		return apiVersion
	}
	switch kind {
	case api.KindService, api.KindConfiguration, api.KindRevision, api.KindRoute, api.KindDomainMapping:
		return GroupVersion.String()
	}
	return apiVersion
}
