package api

import (
	"crypto/md5" //nolint:gosec // names, not security
	"encoding/hex"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultUserPort is the port a serving container listens on when it declares none.
const DefaultUserPort = 8080

// SetDefaults fills in what Knative's defaulting webhook fills in, from cfg
// (nil means DefaultConfig("")). It is idempotent: applying it twice gives
// the same object as applying it once. Kinds without defaults are left alone.
func SetDefaults(obj Object, cfg *Config) {
	if cfg == nil {
		cfg = DefaultConfig("")
	}
	switch o := obj.(type) {
	case *Service:
		defaultNamespace(&o.ObjectMeta)
		defaultRevisionSpec(&o.Spec.Template.Spec, o.ObjectMeta, cfg)
		defaultRouteSpec(&o.Spec.RouteSpec, true)
	case *Configuration:
		defaultNamespace(&o.ObjectMeta)
		defaultRevisionSpec(&o.Spec.Template.Spec, o.ObjectMeta, cfg)
	case *Revision:
		defaultNamespace(&o.ObjectMeta)
		defaultRevisionSpec(&o.Spec, revisionParentMeta(o), cfg)
	case *Route:
		defaultNamespace(&o.ObjectMeta)
		defaultRouteSpec(&o.Spec, false)
	case *DomainMapping:
		defaultNamespace(&o.ObjectMeta)
		// The target lives in the mapping's namespace unless it says otherwise.
		if o.Spec.Ref.Namespace == "" {
			o.Spec.Ref.Namespace = o.Namespace
		}
	}
}

// defaultNamespace puts objects built in code (not decoded) where Decode
// would have put them.
func defaultNamespace(m *metav1.ObjectMeta) {
	if m.Namespace == "" {
		m.Namespace = "default"
	}
}

// revisionParentMeta is the metadata container-name templates see for a
// Revision: its Configuration's name when labelled, so a revision stamped out
// of a Configuration gets the same names the template got.
func revisionParentMeta(r *Revision) metav1.ObjectMeta {
	m := metav1.ObjectMeta{Name: r.Name, Namespace: r.Namespace, Labels: r.Labels, Annotations: r.Annotations}
	if c := r.Labels[LabelConfiguration]; c != "" {
		m.Name = c
	}
	return m
}

// defaultRouteSpec applies Knative's traffic defaults. In a Service, no
// traffic means all of it to the latest revision.
func defaultRouteSpec(rs *RouteSpec, inService bool) {
	if len(rs.Traffic) == 0 && inService {
		rs.Traffic = []TrafficTarget{{Percent: new(int64(100)), LatestRevision: new(true)}}
	}
	for i := range rs.Traffic {
		tt := &rs.Traffic[i]
		if tt.LatestRevision == nil {
			tt.LatestRevision = new(tt.RevisionName == "")
		}
		// Percent is required but historically optional: make it explicit so
		// nothing downstream has to treat nil specially.
		if tt.Percent == nil {
			tt.Percent = new(int64(0))
		}
	}
}

// defaultRevisionSpec applies Knative's revision defaults; parent is the
// metadata of the object owning the template (container-name templates use it).
func defaultRevisionSpec(rs *RevisionSpec, parent metav1.ObjectMeta, cfg *Config) {
	d := cfg.Defaults
	if rs.TimeoutSeconds == nil || *rs.TimeoutSeconds == 0 {
		rs.TimeoutSeconds = new(d.RevisionTimeoutSeconds)
	}
	// The optional timers are defaulted only when configured and shorter than
	// the overall timeout; otherwise they could never fire.
	if rs.IdleTimeoutSeconds == nil && d.RevisionIdleTimeoutSeconds != 0 && d.RevisionIdleTimeoutSeconds < *rs.TimeoutSeconds {
		rs.IdleTimeoutSeconds = new(d.RevisionIdleTimeoutSeconds)
	}
	if rs.ResponseStartTimeoutSeconds == nil && d.RevisionResponseStartTimeoutSeconds != 0 && d.RevisionResponseStartTimeoutSeconds < *rs.TimeoutSeconds {
		rs.ResponseStartTimeoutSeconds = new(d.RevisionResponseStartTimeoutSeconds)
	}
	if rs.ContainerConcurrency == nil {
		rs.ContainerConcurrency = new(d.ContainerConcurrency)
	}
	if rs.EnableServiceLinks == nil && d.EnableServiceLinks != nil {
		rs.EnableServiceLinks = new(*d.EnableServiceLinks)
	}

	taken := map[string]bool{}
	for _, c := range rs.Containers {
		taken[c.Name] = true
	}
	for _, c := range rs.InitContainers {
		taken[c.Name] = true
	}
	defaultContainerNames(rs.Containers, taken, containerNameOr(d.UserContainerNameTemplate, "user-container", parent))
	defaultContainerNames(rs.InitContainers, taken, containerNameOr(d.InitContainerNameTemplate, "init-container", parent))

	writable := map[string]bool{}
	for _, v := range rs.Volumes {
		if v.EmptyDir != nil || v.PersistentVolumeClaim != nil || v.Ephemeral != nil {
			writable[v.Name] = true
		}
	}
	serving := servingContainerIndex(rs.Containers)
	for i := range rs.Containers {
		c := &rs.Containers[i]
		defaultResources(c, d)
		if i == serving {
			defaultServingPort(c, len(rs.Containers) == 1)
			// The serving container is probed by default: a TCP connect to its port.
			if c.ReadinessProbe == nil {
				c.ReadinessProbe = &corev1.Probe{}
			}
			h := &c.ReadinessProbe.ProbeHandler
			if h.TCPSocket == nil && h.HTTPGet == nil && h.Exec == nil && h.GRPC == nil {
				h.TCPSocket = &corev1.TCPSocketAction{}
			}
		}
		defaultProbes(c)
		defaultReadOnlyMounts(c.VolumeMounts, writable)
	}
	for i := range rs.InitContainers {
		defaultReadOnlyMounts(rs.InitContainers[i].VolumeMounts, writable)
	}
}

// servingContainerIndex returns the container that receives requests: the
// only one, or the first one declaring a port; -1 if there is none.
func servingContainerIndex(cs []corev1.Container) int {
	if len(cs) == 1 {
		return 0
	}
	for i := range cs {
		if len(cs[i].Ports) > 0 {
			return i
		}
	}
	return -1
}

// ServingContainer returns the container of spec that receives requests, or
// nil when there is none (an invalid spec).
func ServingContainer(spec *RevisionSpec) *corev1.Container {
	if i := servingContainerIndex(spec.Containers); i >= 0 {
		return &spec.Containers[i]
	}
	return nil
}

// UserPort returns the port the serving container listens on: its first
// declared port, or DefaultUserPort.
func UserPort(spec *RevisionSpec) int32 {
	if c := ServingContainer(spec); c != nil && len(c.Ports) > 0 && c.Ports[0].ContainerPort != 0 {
		return c.Ports[0].ContainerPort
	}
	return DefaultUserPort
}

// defaultServingPort makes the serving port explicit: Knative's runtime
// contract says a container that declares none listens on 8080, over TCP.
func defaultServingPort(c *corev1.Container, only bool) {
	if len(c.Ports) == 0 {
		if !only {
			return // a multi-container spec without ports is a validation error
		}
		c.Ports = []corev1.ContainerPort{{ContainerPort: DefaultUserPort}}
	}
	p := &c.Ports[0]
	if p.ContainerPort == 0 {
		p.ContainerPort = DefaultUserPort
	}
	if p.Protocol == "" {
		p.Protocol = corev1.ProtocolTCP
	}
}

// defaultProbes applies Knative's readiness defaults (and Kubernetes' own when
// a period is set, since the queue-proxy then probes like the kubelet).
func defaultProbes(c *corev1.Container) {
	if p := c.ReadinessProbe; p != nil {
		if p.SuccessThreshold == 0 {
			p.SuccessThreshold = 1
		}
		if p.PeriodSeconds != 0 {
			if p.FailureThreshold == 0 {
				p.FailureThreshold = 3
			}
			if p.TimeoutSeconds == 0 {
				p.TimeoutSeconds = 1
			}
		}
	}
	for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe, c.StartupProbe} {
		if p != nil && p.GRPC != nil && p.GRPC.Service == nil {
			p.GRPC.Service = new("")
		}
	}
}

// defaultResources copies config-defaults' requests and limits into
// containers that do not set them.
func defaultResources(c *corev1.Container, d DefaultsConfig) {
	for _, r := range []struct {
		name           corev1.ResourceName
		request, limit *resource.Quantity
	}{
		{corev1.ResourceCPU, d.RevisionCPURequest, d.RevisionCPULimit},
		{corev1.ResourceMemory, d.RevisionMemoryRequest, d.RevisionMemoryLimit},
		{corev1.ResourceEphemeralStorage, d.RevisionEphemeralStorageRequest, d.RevisionEphemeralStorageLimit},
	} {
		if _, ok := c.Resources.Requests[r.name]; !ok && r.request != nil {
			if c.Resources.Requests == nil {
				c.Resources.Requests = corev1.ResourceList{}
			}
			c.Resources.Requests[r.name] = r.request.DeepCopy()
		}
		if _, ok := c.Resources.Limits[r.name]; !ok && r.limit != nil {
			if c.Resources.Limits == nil {
				c.Resources.Limits = corev1.ResourceList{}
			}
			c.Resources.Limits[r.name] = r.limit.DeepCopy()
		}
	}
}

// defaultReadOnlyMounts marks mounts of volumes the app must not write
// (secrets, config maps, projections) read-only, as Knative requires.
func defaultReadOnlyMounts(mounts []corev1.VolumeMount, writable map[string]bool) {
	for i := range mounts {
		if !writable[mounts[i].Name] {
			mounts[i].ReadOnly = true
		}
	}
}

// containerNameOr renders a container-name template, falling back to
// fallback when the template cannot be rendered (ParseConfigMap rejects such
// templates, but a Config can be built by hand).
func containerNameOr(tmpl, fallback string, parent metav1.ObjectMeta) string {
	if tmpl == "" {
		return fallback
	}
	name, err := renderContainerName(tmpl, parent)
	if err != nil {
		return fallback
	}
	return name
}

// defaultContainerNames names unnamed containers: the template's name when it
// is the only container and the name is free, else the name with a numeric
// suffix (-0, -1, ...) that no other container uses.
func defaultContainerNames(cs []corev1.Container, taken map[string]bool, base string) {
	next := 0
	for i := range cs {
		if cs[i].Name != "" {
			continue
		}
		name := base
		if len(cs) > 1 || taken[name] {
			for {
				name = childName(base, "-"+strconv.Itoa(next))
				next++
				if !taken[name] {
					break
				}
			}
		}
		cs[i].Name = name
		taken[name] = true
	}
}

// childName appends suffix to parent, shortening parent with a hash when the
// result would exceed the 63 characters a Kubernetes name allows.
func childName(parent, suffix string) string {
	const longest = 63
	if len(parent)+len(suffix) <= longest {
		return parent + suffix
	}
	sum := md5.Sum([]byte(parent)) //nolint:gosec // names, not security
	h := hex.EncodeToString(sum[:])
	keep := max(longest-len(suffix)-len(h), 0)
	out := parent[:min(keep, len(parent))] + h + suffix
	if len(out) > longest {
		out = out[:longest]
	}
	return out
}
