package api

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// defaultedProbe is Knative's default readiness probe on the serving container.
func defaultedProbe() *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}, SuccessThreshold: 1}
}

func defaultedPort() []corev1.ContainerPort {
	return []corev1.ContainerPort{{ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}
}

func TestSetDefaultsService(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*Config)
		in   ServiceSpec
		want ServiceSpec
	}{{
		name: "single container gets Knative's defaults",
		in:   ServiceSpec{ConfigurationSpec: ConfigurationSpec{Template: RevisionTemplateSpec{Spec: RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "busybox"}}}}}}},
		want: ServiceSpec{
			ConfigurationSpec: ConfigurationSpec{Template: RevisionTemplateSpec{Spec: RevisionSpec{
				PodSpec: corev1.PodSpec{
					EnableServiceLinks: new(false),
					Containers: []corev1.Container{{
						Name: "user-container", Image: "busybox", Ports: defaultedPort(), ReadinessProbe: defaultedProbe(),
					}},
				},
				TimeoutSeconds:       new(int64(300)),
				ContainerConcurrency: new(int64(0)),
			}}},
			RouteSpec: RouteSpec{Traffic: []TrafficTarget{{Percent: new(int64(100)), LatestRevision: new(true)}}},
		},
	}, {
		name: "multi-container: template names with suffix, probe and port on the serving container only",
		in: ServiceSpec{ConfigurationSpec: ConfigurationSpec{Template: RevisionTemplateSpec{Spec: RevisionSpec{
			PodSpec:        corev1.PodSpec{Containers: []corev1.Container{{Image: "side"}, {Image: "app", Ports: []corev1.ContainerPort{{ContainerPort: 8881}}}, {Name: "user-container-1", Image: "x"}}},
			TimeoutSeconds: new(int64(60)), ContainerConcurrency: new(int64(10)),
		}}}},
		want: ServiceSpec{
			ConfigurationSpec: ConfigurationSpec{Template: RevisionTemplateSpec{Spec: RevisionSpec{
				PodSpec: corev1.PodSpec{
					EnableServiceLinks: new(false),
					Containers: []corev1.Container{
						{Name: "user-container-0", Image: "side"},
						{Name: "user-container-2", Image: "app", Ports: []corev1.ContainerPort{{ContainerPort: 8881, Protocol: corev1.ProtocolTCP}}, ReadinessProbe: defaultedProbe()},
						{Name: "user-container-1", Image: "x"},
					},
				},
				TimeoutSeconds: new(int64(60)), ContainerConcurrency: new(int64(10)),
			}}},
			RouteSpec: RouteSpec{Traffic: []TrafficTarget{{Percent: new(int64(100)), LatestRevision: new(true)}}},
		},
	}, {
		name: "config-defaults: template, timeouts shorter than the timeout, resources; user values kept",
		cfg: func(c *Config) {
			c.Defaults.UserContainerNameTemplate = "{{.Name}}-app"
			c.Defaults.RevisionTimeoutSeconds = 120
			c.Defaults.RevisionResponseStartTimeoutSeconds = 30
			c.Defaults.RevisionIdleTimeoutSeconds = 200 // longer than the timeout: not applied
			c.Defaults.ContainerConcurrency = 5
			c.Defaults.RevisionCPURequest = new(resource.MustParse("100m"))
			c.Defaults.RevisionMemoryLimit = new(resource.MustParse("1Gi"))
		},
		in: ServiceSpec{
			ConfigurationSpec: ConfigurationSpec{Template: RevisionTemplateSpec{Spec: RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{
				Command:        []string{"./server"},
				Resources:      corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz"}}, PeriodSeconds: 5},
			}}}}}},
			RouteSpec: RouteSpec{Traffic: []TrafficTarget{{RevisionName: "hello-00001", Percent: new(int64(50))}, {Percent: new(int64(50)), Tag: "latest"}, {RevisionName: "hello-00002"}}},
		},
		want: ServiceSpec{
			ConfigurationSpec: ConfigurationSpec{Template: RevisionTemplateSpec{Spec: RevisionSpec{
				PodSpec: corev1.PodSpec{
					EnableServiceLinks: new(false),
					Containers: []corev1.Container{{
						Name: "hello-app", Command: []string{"./server"}, Ports: defaultedPort(),
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
							Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
						},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz"}},
							PeriodSeconds: 5, SuccessThreshold: 1, FailureThreshold: 3, TimeoutSeconds: 1},
					}},
				},
				TimeoutSeconds:              new(int64(120)),
				ResponseStartTimeoutSeconds: new(int64(30)),
				ContainerConcurrency:        new(int64(5)),
			}}},
			RouteSpec: RouteSpec{Traffic: []TrafficTarget{
				{RevisionName: "hello-00001", Percent: new(int64(50)), LatestRevision: new(false)},
				{Percent: new(int64(50)), Tag: "latest", LatestRevision: new(true)},
				{RevisionName: "hello-00002", Percent: new(int64(0)), LatestRevision: new(false)},
			}},
		},
	}, {
		name: "timeoutSeconds 0 means the default; volume mounts of secrets become read-only",
		in: ServiceSpec{ConfigurationSpec: ConfigurationSpec{Template: RevisionTemplateSpec{Spec: RevisionSpec{
			PodSpec: corev1.PodSpec{
				Volumes: []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}},
					{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
				Containers: []corev1.Container{{Name: "app", Image: "a", VolumeMounts: []corev1.VolumeMount{{Name: "s", MountPath: "/s"}, {Name: "tmp", MountPath: "/tmp"}}}},
			},
			TimeoutSeconds: new(int64(0)),
		}}}},
		want: ServiceSpec{
			ConfigurationSpec: ConfigurationSpec{Template: RevisionTemplateSpec{Spec: RevisionSpec{
				PodSpec: corev1.PodSpec{
					EnableServiceLinks: new(false),
					Volumes: []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}},
						{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
					Containers: []corev1.Container{{Name: "app", Image: "a", Ports: defaultedPort(), ReadinessProbe: defaultedProbe(),
						VolumeMounts: []corev1.VolumeMount{{Name: "s", MountPath: "/s", ReadOnly: true}, {Name: "tmp", MountPath: "/tmp"}}}},
				},
				TimeoutSeconds:       new(int64(300)),
				ContainerConcurrency: new(int64(0)),
			}}},
			RouteSpec: RouteSpec{Traffic: []TrafficTarget{{Percent: new(int64(100)), LatestRevision: new(true)}}},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig("")
			if tt.cfg != nil {
				tt.cfg(cfg)
			}
			svc := &Service{ObjectMeta: metav1.ObjectMeta{Name: "hello"}, Spec: tt.in}
			SetDefaults(svc, cfg)
			if diff := cmp.Diff(tt.want, svc.Spec); diff != "" {
				t.Errorf("SetDefaults (-want +got):\n%s", diff)
			}
			if svc.Namespace != "default" {
				t.Errorf("namespace = %q, want default", svc.Namespace)
			}
			SetDefaults(svc, cfg)
			if diff := cmp.Diff(tt.want, svc.Spec); diff != "" {
				t.Errorf("SetDefaults is not idempotent (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetDefaultsOtherKinds(t *testing.T) {
	// A standalone Route gets no implicit traffic, only explicit fields.
	rt := &Route{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "ns"}}
	SetDefaults(rt, nil)
	if rt.Spec.Traffic != nil {
		t.Errorf("Route traffic = %v, want none", rt.Spec.Traffic)
	}
	rt.Spec.Traffic = []TrafficTarget{{ConfigurationName: "c"}, {RevisionName: "r-1", Percent: new(int64(100))}}
	SetDefaults(rt, nil)
	want := []TrafficTarget{{ConfigurationName: "c", LatestRevision: new(true), Percent: new(int64(0))},
		{RevisionName: "r-1", LatestRevision: new(false), Percent: new(int64(100))}}
	if diff := cmp.Diff(want, rt.Spec.Traffic); diff != "" {
		t.Errorf("Route traffic (-want +got):\n%s", diff)
	}

	dm := &DomainMapping{ObjectMeta: metav1.ObjectMeta{Name: "example.org", Namespace: "web"}, Spec: DomainMappingSpec{Ref: KReference{Kind: "Service", Name: "hello"}}}
	SetDefaults(dm, nil)
	if dm.Spec.Ref.Namespace != "web" {
		t.Errorf("ref namespace = %q, want web", dm.Spec.Ref.Namespace)
	}

	// A Revision stamped from a Configuration renders name templates with the
	// Configuration's name.
	cfg := DefaultConfig("")
	cfg.Defaults.UserContainerNameTemplate = "{{.Name}}"
	rev := &Revision{ObjectMeta: metav1.ObjectMeta{Name: "hello-00001", Labels: map[string]string{LabelConfiguration: "hello"}},
		Spec: RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "a"}}}}}
	SetDefaults(rev, cfg)
	if got := rev.Spec.Containers[0].Name; got != "hello" {
		t.Errorf("revision container name = %q, want hello", got)
	}

	cfgn := &Configuration{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Spec: ConfigurationSpec{Template: RevisionTemplateSpec{Spec: RevisionSpec{
		PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "a"}}, InitContainers: []corev1.Container{{Image: "i"}}}}}}}
	SetDefaults(cfgn, nil)
	if got := cfgn.Spec.Template.Spec.InitContainers[0].Name; got != "init-container" {
		t.Errorf("init container name = %q, want init-container", got)
	}
	if cfgn.Spec.Template.Spec.InitContainers[0].ReadinessProbe != nil {
		t.Error("init containers get no readiness probe")
	}
}

func TestChildName(t *testing.T) {
	long := "a123456789b123456789c123456789d123456789e123456789f123456789g12"
	if got := childName("user-container", "-0"); got != "user-container-0" {
		t.Errorf("childName = %q", got)
	}
	got := childName(long, "-1")
	if len(got) > 63 || got[len(got)-2:] != "-1" {
		t.Errorf("childName(long) = %q (%d chars)", got, len(got))
	}
}
