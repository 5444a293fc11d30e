package api

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Group and versions Gantry reads. Knative's group is accepted unchanged.
const (
	GroupKnative      = "serving.knative.dev"
	GroupGantry       = "serving.gantry.dev"
	APIVersionV1      = GroupKnative + "/v1"
	APIVersionV1beta1 = GroupKnative + "/v1beta1"
)

// Kinds Gantry stores.
const (
	KindService       = "Service"
	KindConfiguration = "Configuration"
	KindRevision      = "Revision"
	KindRoute         = "Route"
	KindDomainMapping = "DomainMapping"
	KindConfigMap     = "ConfigMap"
	KindSecret        = "Secret"
)

// Labels and annotations with Knative's keys.
const (
	LabelService              = "serving.knative.dev/service"
	LabelConfiguration        = "serving.knative.dev/configuration"
	LabelConfigurationGen     = "serving.knative.dev/configurationGeneration"
	LabelRevision             = "serving.knative.dev/revision"
	LabelRoute                = "serving.knative.dev/route"
	LabelRoutingState         = "serving.knative.dev/routingState"
	AnnotationRoutingModified = "serving.knative.dev/routingStateModified"
	AnnotationCreator         = "serving.knative.dev/creator"
	AnnotationRoutes          = "serving.knative.dev/routes"
	AnnotationNoGC            = "serving.knative.dev/no-gc"
	LabelVisibility           = "networking.knative.dev/visibility"
	VisibilityClusterLocal    = "cluster-local"

	RoutingStateActive  = "active"
	RoutingStateReserve = "reserve"
	RoutingStatePending = "pending"
)

// Service is the top-level object users apply: a Configuration and a Route in one.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=gsvc,categories=all;gantry
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name="LatestCreated",type=string,JSONPath=`.status.latestCreatedRevisionName`
// +kubebuilder:printcolumn:name="LatestReady",type=string,JSONPath=`.status.latestReadyRevisionName`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=='Ready')].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=='Ready')].reason`
type Service struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ServiceSpec   `json:"spec,omitempty"`
	Status            ServiceStatus `json:"status,omitempty"`
}

// ServiceSpec inlines a ConfigurationSpec and a RouteSpec, as Knative does.
type ServiceSpec struct {
	ConfigurationSpec `json:",inline"`
	RouteSpec         `json:",inline"`
}

// ServiceStatus reports the Configuration and Route the Service owns.
type ServiceStatus struct {
	Status                    `json:",inline"`
	ConfigurationStatusFields `json:",inline"`
	RouteStatusFields         `json:",inline"`
}

// Configuration stamps out a Revision for each change of its template.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=gcfg;gconfig,categories=all;gantry
// +kubebuilder:printcolumn:name="LatestCreated",type=string,JSONPath=`.status.latestCreatedRevisionName`
// +kubebuilder:printcolumn:name="LatestReady",type=string,JSONPath=`.status.latestReadyRevisionName`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=='Ready')].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=='Ready')].reason`
type Configuration struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ConfigurationSpec   `json:"spec,omitempty"`
	Status            ConfigurationStatus `json:"status,omitempty"`
}

// ConfigurationSpec holds the template of the revisions to create.
type ConfigurationSpec struct {
	Template RevisionTemplateSpec `json:"template"`
}

// RevisionTemplateSpec is a Revision's metadata and spec, as written in a template.
type RevisionTemplateSpec struct {
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              RevisionSpec `json:"spec,omitempty"`
}

// ConfigurationStatus reports the newest created and ready revisions.
type ConfigurationStatus struct {
	Status                    `json:",inline"`
	ConfigurationStatusFields `json:",inline"`
}

// ConfigurationStatusFields are shared by Configuration and Service status.
type ConfigurationStatusFields struct {
	LatestReadyRevisionName   string `json:"latestReadyRevisionName,omitempty"`
	LatestCreatedRevisionName string `json:"latestCreatedRevisionName,omitempty"`
}

// Revision is an immutable snapshot of code and configuration.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=grev,categories=all;gantry
// +kubebuilder:printcolumn:name="Config Name",type=string,JSONPath=`.metadata.labels['serving\.knative\.dev/configuration']`
// +kubebuilder:printcolumn:name="Generation",type=string,JSONPath=`.metadata.labels['serving\.knative\.dev/configurationGeneration']`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=='Ready')].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=='Ready')].reason`
// +kubebuilder:printcolumn:name="Actual Replicas",type=integer,JSONPath=`.status.actualReplicas`
// +kubebuilder:printcolumn:name="Desired Replicas",type=integer,JSONPath=`.status.desiredReplicas`
type Revision struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              RevisionSpec   `json:"spec,omitempty"`
	Status            RevisionStatus `json:"status,omitempty"`
}

// RevisionSpec is a PodSpec plus Knative's serving knobs.
type RevisionSpec struct {
	corev1.PodSpec `json:",inline"`
	// ContainerConcurrency is the hard limit of concurrent requests per instance; 0 is unlimited.
	// +kubebuilder:validation:Minimum=0
	ContainerConcurrency *int64 `json:"containerConcurrency,omitempty"`
	// TimeoutSeconds is the maximum duration of a request.
	// +kubebuilder:validation:Minimum=0
	TimeoutSeconds *int64 `json:"timeoutSeconds,omitempty"`
	// ResponseStartTimeoutSeconds bounds the time to the first byte of the response.
	ResponseStartTimeoutSeconds *int64 `json:"responseStartTimeoutSeconds,omitempty"`
	// IdleTimeoutSeconds bounds the time between two writes of the response.
	IdleTimeoutSeconds *int64 `json:"idleTimeoutSeconds,omitempty"`
}

// RevisionStatus reports readiness and scale of a Revision.
type RevisionStatus struct {
	Status            `json:",inline"`
	LogURL            string            `json:"logUrl,omitempty"`
	ContainerStatuses []ContainerStatus `json:"containerStatuses,omitempty"`
	ActualReplicas    *int32            `json:"actualReplicas,omitempty"`
	DesiredReplicas   *int32            `json:"desiredReplicas,omitempty"`
}

// ContainerStatus names a container and the image (or command) it runs.
type ContainerStatus struct {
	Name        string `json:"name,omitempty"`
	ImageDigest string `json:"imageDigest,omitempty"`
}

// Route splits traffic across revisions and names the URLs that reach them.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=grt,categories=all;gantry
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=='Ready')].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=='Ready')].reason`
type Route struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              RouteSpec   `json:"spec,omitempty"`
	Status            RouteStatus `json:"status,omitempty"`
}

// RouteSpec lists traffic targets.
type RouteSpec struct {
	Traffic []TrafficTarget `json:"traffic,omitempty"`
}

// TrafficTarget sends a percent of traffic (and, with a tag, its own host) to a revision.
type TrafficTarget struct {
	Tag               string `json:"tag,omitempty"`
	RevisionName      string `json:"revisionName,omitempty"`
	ConfigurationName string `json:"configurationName,omitempty"`
	LatestRevision    *bool  `json:"latestRevision,omitempty"`
	Percent           *int64 `json:"percent,omitempty"`
	URL               string `json:"url,omitempty"`
}

// RouteStatus reports the resolved traffic and URLs.
type RouteStatus struct {
	Status            `json:",inline"`
	RouteStatusFields `json:",inline"`
}

// RouteStatusFields are shared by Route and Service status.
type RouteStatusFields struct {
	URL     string          `json:"url,omitempty"`
	Address *Addressable    `json:"address,omitempty"`
	Traffic []TrafficTarget `json:"traffic,omitempty"`
}

// Addressable is the in-stack address of a route.
type Addressable struct {
	URL string `json:"url,omitempty"`
}

// DomainMapping maps a custom host name (its metadata.name) to a Service.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=gdm,categories=all;gantry
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=='Ready')].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=='Ready')].reason`
type DomainMapping struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              DomainMappingSpec   `json:"spec,omitempty"`
	Status            DomainMappingStatus `json:"status,omitempty"`
}

// DomainMappingSpec names the target and optional TLS secret.
type DomainMappingSpec struct {
	Ref KReference `json:"ref"`
	TLS *SecretTLS `json:"tls,omitempty"`
}

// KReference points at another object.
type KReference struct {
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	APIVersion string `json:"apiVersion,omitempty"`
}

// SecretTLS names a kubernetes.io/tls Secret.
type SecretTLS struct {
	SecretName string `json:"secretName"`
}

// DomainMappingStatus reports the mapping's URL and readiness.
type DomainMappingStatus struct {
	Status  `json:",inline"`
	URL     string       `json:"url,omitempty"`
	Address *Addressable `json:"address,omitempty"`
}

// Status is Knative's duck-typed status: observed generation and conditions.
type Status struct {
	ObservedGeneration int64             `json:"observedGeneration,omitempty"`
	Conditions         []Condition       `json:"conditions,omitempty"`
	Annotations        map[string]string `json:"annotations,omitempty"`
}

// ConditionType names a condition.
type ConditionType string

// Condition types Knative reports.
const (
	ConditionReady                  ConditionType = "Ready"
	ConditionConfigurationsReady    ConditionType = "ConfigurationsReady"
	ConditionRoutesReady            ConditionType = "RoutesReady"
	ConditionAllTrafficAssigned     ConditionType = "AllTrafficAssigned"
	ConditionIngressReady           ConditionType = "IngressReady"
	ConditionResourcesAvailable     ConditionType = "ResourcesAvailable"
	ConditionContainerHealthy       ConditionType = "ContainerHealthy"
	ConditionActive                 ConditionType = "Active"
	ConditionDomainClaimed          ConditionType = "DomainClaimed"
	ConditionReferenceResolved      ConditionType = "ReferenceResolved"
	ConditionCertificateProvisioned ConditionType = "CertificateProvisioned"
)

// Condition is one aspect of an object's state.
type Condition struct {
	Type               ConditionType          `json:"type"`
	Status             corev1.ConditionStatus `json:"status"`
	Severity           string                 `json:"severity,omitempty"`
	LastTransitionTime metav1.Time            `json:"lastTransitionTime,omitempty"`
	Reason             string                 `json:"reason,omitempty"`
	Message            string                 `json:"message,omitempty"`
}

// ConfigMap is the subset of a Kubernetes ConfigMap Gantry reads.
// +kubebuilder:object:root=true
type ConfigMap struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Data              map[string]string `json:"data,omitempty"`
}

// Secret is the subset of a Kubernetes Secret Gantry reads (TLS pairs).
// +kubebuilder:object:root=true
type Secret struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Type              string            `json:"type,omitempty"`
	Data              map[string][]byte `json:"data,omitempty"`
	StringData        map[string]string `json:"stringData,omitempty"`
}
