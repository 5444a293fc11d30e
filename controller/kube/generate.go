package kube

// The CRDs in deploy/crds are generated from the Go types in api/ (their
// kubebuilder markers: status subresource, printer columns, short names).
// ConfigMap and Secret are Kubernetes' own kinds: their generated CRDs are
// dropped. crdfix then makes a container's name optional, as Knative does.
//go:generate go run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0 crd:generateEmbeddedObjectMeta=true,maxDescLen=0 paths=../../api/... output:crd:dir=../../deploy/crds
//go:generate rm -f ../../deploy/crds/serving.gantry.dev_configmaps.yaml ../../deploy/crds/serving.gantry.dev_secrets.yaml
//go:generate go run ./internal/crdfix ../../deploy/crds/serving.gantry.dev_configurations.yaml ../../deploy/crds/serving.gantry.dev_domainmappings.yaml ../../deploy/crds/serving.gantry.dev_revisions.yaml ../../deploy/crds/serving.gantry.dev_routes.yaml ../../deploy/crds/serving.gantry.dev_services.yaml
//go:generate go run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0 object paths=.
