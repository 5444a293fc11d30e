// Package api holds Gantry's resource types in the shape of Knative Serving's
// serving.knative.dev/v1 API (Service, Configuration, Revision, Route) and
// v1beta1 DomainMapping, with their defaulting, validation, decoding and the
// Knative ConfigMaps Gantry understands. It depends on nothing else in Gantry.
//
// Deep-copy methods are generated: go generate ./api
//
// +kubebuilder:object:generate=true
// +groupName=serving.gantry.dev
// +versionName=v1
package api

//go:generate go run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0 object paths=.
