package exporters

import (
	"sort"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// ResourceInfo names what emits the telemetry. Empty fields are left out.
type ResourceInfo struct {
	ServiceName   string // default service.name when OTEL_SERVICE_NAME is unset
	Namespace     string // k8s.namespace.name
	Pod           string // k8s.pod.name and service.instance.id
	Container     string // k8s.container.name
	KnService     string // kn.service.name
	Configuration string // kn.configuration.name
	Revision      string // kn.revision.name
}

// Knative's resource attribute keys (knative.dev/pkg/observability/resource).
const (
	AttrKnService       = attribute.Key("kn.service.name")
	AttrKnConfiguration = attribute.Key("kn.configuration.name")
	AttrKnRevision      = attribute.Key("kn.revision.name")
)

// NewResource builds the resource: ri's attributes, then
// OTEL_RESOURCE_ATTRIBUTES, then OTEL_SERVICE_NAME, each overriding the last
// (the specification's order).
func NewResource(ri ResourceInfo, c Config) *resource.Resource {
	attrs := []attribute.KeyValue{
		semconv.TelemetrySDKName("opentelemetry"), semconv.TelemetrySDKLanguageGo,
	}
	add := func(k attribute.Key, v string) {
		if v != "" {
			attrs = append(attrs, k.String(v))
		}
	}
	add(semconv.ServiceNameKey, first(ri.ServiceName, ri.KnService, ri.Configuration, ri.Revision, ri.Pod, "gantry"))
	add(semconv.K8SNamespaceNameKey, ri.Namespace)
	add(semconv.K8SPodNameKey, ri.Pod)
	add(semconv.ServiceInstanceIDKey, ri.Pod)
	add(semconv.K8SContainerNameKey, ri.Container)
	add(AttrKnService, ri.KnService)
	add(AttrKnConfiguration, ri.Configuration)
	add(AttrKnRevision, ri.Revision)
	keys := make([]string, 0, len(c.ResourceAttrs))
	for k := range c.ResourceAttrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		add(attribute.Key(k), c.ResourceAttrs[k])
	}
	add(semconv.ServiceNameKey, c.ServiceName)
	// attribute.NewSet keeps the last value of a repeated key.
	return resource.NewWithAttributes(semconv.SchemaURL, attrs...)
}

func first(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
