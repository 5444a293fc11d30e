package api

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// service returns a valid, not yet defaulted Service after applying mutate.
func service(mutate func(*Service)) *Service {
	s := &Service{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default"},
		Spec: ServiceSpec{ConfigurationSpec: ConfigurationSpec{Template: RevisionTemplateSpec{Spec: RevisionSpec{
			PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "ghcr.io/knative/helloworld-go:latest"}}},
		}}}},
	}
	if mutate != nil {
		mutate(s)
	}
	return s
}

func containers(s *Service) *[]corev1.Container { return &s.Spec.Template.Spec.Containers }

func TestValidateService(t *testing.T) {
	const dns1035 = `[a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')]`
	tests := []struct {
		name   string
		mutate func(*Service)
		want   string // "" = valid
	}{{
		name: "valid",
	}, {
		name:   "command instead of image is fine on Gantry",
		mutate: func(s *Service) { (*containers(s))[0] = corev1.Container{Command: []string{"./server"}} },
	}, {
		name:   "neither image nor command",
		mutate: func(s *Service) { (*containers(s))[0] = corev1.Container{Args: []string{"x"}} },
		want:   "missing field(s): spec.template.spec.containers[0].image",
	}, {
		name:   "empty container (defaulting names it, so the image is what is missing)",
		mutate: func(s *Service) { (*containers(s))[0] = corev1.Container{} },
		want:   "missing field(s): spec.template.spec.containers[0].image",
	}, {
		name:   "no containers",
		mutate: func(s *Service) { *containers(s) = nil },
		want:   "missing field(s): spec.template.spec.containers",
	}, {
		name:   "bad image reference",
		mutate: func(s *Service) { (*containers(s))[0].Image = "docker.io/{username}/app" },
		want:   "Failed to parse image reference: spec.template.spec.containers[0].image\nimage: \"docker.io/{username}/app\", error: could not parse reference: docker.io/{username}/app",
	}, {
		name:   "bad label key",
		mutate: func(s *Service) { s.Labels = map[string]string{"Bad Key": "x"} },
		want:   "invalid key name \"Bad Key\": metadata.labels\nname part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
	}, {
		name:   "bad template annotation key",
		mutate: func(s *Service) { s.Spec.Template.Annotations = map[string]string{"a/b/c": "x"} },
		want:   "invalid key name \"a/b/c\": spec.template.metadata.annotations\na valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
	}, {
		name:   "invalid name",
		mutate: func(s *Service) { s.Name = "Hello_World" },
		want:   "not a DNS 1035 label: " + dns1035 + ": metadata.name",
	}, {
		name:   "name starting with a digit",
		mutate: func(s *Service) { s.Name = "1hello" },
		want:   "not a DNS 1035 label: " + dns1035 + ": metadata.name",
	}, {
		name:   "no name",
		mutate: func(s *Service) { s.Name = "" },
		want:   "name or generateName is required: metadata.name",
	}, {
		name:   "autoscaling annotation on the Service",
		mutate: func(s *Service) { s.Annotations = map[string]string{"autoscaling.knative.dev/min-scale": "1"} },
		want:   "invalid key name \"autoscaling.knative.dev/min-scale\": metadata.annotations\nautoscaling annotations must be put under \"spec.template.metadata.annotations\" to work",
	}, {
		name:   "rollout duration",
		mutate: func(s *Service) { s.Annotations = map[string]string{AnnotationRolloutDuration: "CLXXXIIIs"} },
		want:   "invalid value: CLXXXIIIs: metadata.annotations.serving.knative.dev/rollout-duration",
	}, {
		name: "progress deadline precision",
		mutate: func(s *Service) {
			s.Spec.Template.Annotations = map[string]string{AnnotationProgressDeadline: "1500ms"}
		},
		want: "progress-deadline=1500ms is not at second precision: spec.template.metadata.annotations.serving.knative.dev/progress-deadline",
	}, {
		name:   "timeout above max",
		mutate: func(s *Service) { s.Spec.Template.Spec.TimeoutSeconds = new(int64(900)) },
		want:   "expected 0 <= 900 <= 600: spec.template.spec.timeoutSeconds",
	}, {
		name:   "negative timeout",
		mutate: func(s *Service) { s.Spec.Template.Spec.TimeoutSeconds = new(int64(-1)) },
		want:   "expected 0 <= -1 <= 600: spec.template.spec.timeoutSeconds",
	}, {
		name:   "container concurrency above limit",
		mutate: func(s *Service) { s.Spec.Template.Spec.ContainerConcurrency = new(int64(2000)) },
		want:   "expected 0 <= 2000 <= 1000: spec.template.spec.containerConcurrency",
	}, {
		name:   "template name without the service prefix",
		mutate: func(s *Service) { s.Spec.Template.Name = "foo" },
		want:   `invalid value: "foo" must have prefix "hello-": spec.template.metadata.name`,
	}, {
		name:   "template name with the prefix",
		mutate: func(s *Service) { s.Spec.Template.Name = "hello-v1" },
	}, {
		name:   "template name not a label",
		mutate: func(s *Service) { s.Spec.Template.Name = "hello.v1" },
		want:   "invalid value: not a DNS 1035 label: " + dns1035 + ": spec.template.metadata.name",
	}, {
		name: "traffic sum",
		mutate: func(s *Service) {
			s.Spec.Traffic = []TrafficTarget{{Percent: new(int64(90))}}
		},
		want: "Traffic targets sum to 90, want 100: spec.traffic",
	}, {
		name: "traffic percent out of range",
		mutate: func(s *Service) {
			s.Spec.Traffic = []TrafficTarget{{Percent: new(int64(-5)), RevisionName: "hello-1"}, {Percent: new(int64(105))}}
		},
		want: "expected 0 <= -5 <= 100: spec.traffic[0].percent\nexpected 0 <= 105 <= 100: spec.traffic[1].percent",
	}, {
		name: "duplicate tags",
		mutate: func(s *Service) {
			s.Spec.Traffic = []TrafficTarget{{Tag: "x", Percent: new(int64(50))}, {Tag: "x", RevisionName: "hello-1", Percent: new(int64(50))}}
		},
		want: `Multiple definitions for "x": spec.traffic[0].tag, spec.traffic[1].tag`,
	}, {
		name: "tag not a DNS-1035 label",
		mutate: func(s *Service) {
			s.Spec.Traffic = []TrafficTarget{{Tag: "V1", Percent: new(int64(100))}}
		},
		want: "invalid value: not a DNS 1035 label: " + dns1035 + ": spec.traffic.tag[0]",
	}, {
		name: "latestRevision true with a revision name",
		mutate: func(s *Service) {
			s.Spec.Traffic = []TrafficTarget{{RevisionName: "bar", LatestRevision: new(true), Percent: new(int64(100))}}
		},
		want: `may not set revisionName "bar" when latestRevision is true: spec.traffic[0].latestRevision`,
	}, {
		name: "latestRevision false without a revision name",
		mutate: func(s *Service) {
			s.Spec.Traffic = []TrafficTarget{{LatestRevision: new(false), Percent: new(int64(100))}}
		},
		want: `may not set revisionName "" when latestRevision is false: spec.traffic[0].latestRevision`,
	}, {
		name: "configurationName in a Service",
		mutate: func(s *Service) {
			s.Spec.Traffic = []TrafficTarget{{ConfigurationName: "other", Percent: new(int64(100))}}
		},
		want: "must not set the field(s): spec.traffic[0].configurationName",
	}, {
		name: "url in spec",
		mutate: func(s *Service) {
			s.Spec.Traffic = []TrafficTarget{{URL: "http://x", Percent: new(int64(100))}}
		},
		want: "must not set the field(s): spec.traffic[0].url",
	}, {
		name: "several problems at once",
		mutate: func(s *Service) {
			s.Spec.Template.Spec.TimeoutSeconds = new(int64(900))
			(*containers(s))[0].Image = ""
			s.Spec.Traffic = []TrafficTarget{{Percent: new(int64(90))}}
		},
		want: "Traffic targets sum to 90, want 100: spec.traffic\nexpected 0 <= 900 <= 600: spec.template.spec.timeoutSeconds\nmissing field(s): spec.template.spec.containers[0].image",
	}, {
		name: "two ports on one container",
		mutate: func(s *Service) {
			(*containers(s))[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080}, {ContainerPort: 9000}}
		},
		want: "more than one container port is set: spec.template.spec.containers[*].ports\nOnly a single port is allowed across all containers",
	}, {
		name: "multi-container with one port",
		mutate: func(s *Service) {
			*containers(s) = []corev1.Container{{Name: "app", Image: "a", Ports: []corev1.ContainerPort{{ContainerPort: 8881}}}, {Name: "side", Image: "b"}}
		},
	}, {
		name: "multi-container without ports",
		mutate: func(s *Service) {
			*containers(s) = []corev1.Container{{Name: "app", Image: "a"}, {Name: "side", Image: "b"}}
		},
		want: "missing field(s): spec.template.spec.containers[*].ports",
	}, {
		name: "multi-container with two ports",
		mutate: func(s *Service) {
			*containers(s) = []corev1.Container{{Name: "app", Image: "a", Ports: []corev1.ContainerPort{{ContainerPort: 8881}}}, {Name: "side", Image: "b", Ports: []corev1.ContainerPort{{ContainerPort: 8882}}}}
		},
		want: "more than one container port is set: spec.template.spec.containers[*].ports\nOnly a single port is allowed across all containers",
	}, {
		name: "duplicate container names",
		mutate: func(s *Service) {
			*containers(s) = []corev1.Container{{Name: "app", Image: "a", Ports: []corev1.ContainerPort{{ContainerPort: 8881}}}, {Name: "app", Image: "b"}}
		},
		want: `duplicate container name "app": spec.template.spec.containers[1].name`,
	}, {
		name:   "reserved port",
		mutate: func(s *Service) { (*containers(s))[0].Ports = []corev1.ContainerPort{{ContainerPort: 8012}} },
		want:   "invalid value: 8012 is a reserved port: spec.template.spec.containers[0].ports.containerPort\n8012 is a reserved port, please use a different value",
	}, {
		name: "port name",
		mutate: func(s *Service) {
			(*containers(s))[0].Ports = []corev1.ContainerPort{{Name: "grpc", ContainerPort: 8080}}
		},
		want: "Port name grpc is not allowed: spec.template.spec.containers[0].ports\nName must be empty, or one of: 'h2c', 'http1'",
	}, {
		name: "reserved env var",
		mutate: func(s *Service) {
			(*containers(s))[0].Env = []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "PORT", Value: "1"}}
		},
		want: `"PORT" is a reserved environment variable: spec.template.spec.containers[0].env[1].name`,
	}, {
		name:   "reserved container name",
		mutate: func(s *Service) { (*containers(s))[0].Name = "queue-proxy" },
		want:   `"queue-proxy" is a reserved container name: spec.template.spec.containers[0].name`,
	}, {
		name: "readiness probe with timeout and period 0",
		mutate: func(s *Service) {
			(*containers(s))[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{}}, TimeoutSeconds: 5, SuccessThreshold: 1}
		},
		want: "timeoutSeconds is disallowed when periodSeconds is zero: spec.template.spec.containers[0].readinessProbe.timeoutSeconds",
	}, {
		name: "probe on another named port",
		mutate: func(s *Service) {
			(*containers(s))[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("admin")}}}
		},
		want: "invalid value: admin: spec.template.spec.containers[0].livenessProbe.tcpSocket.port\nProbe port must match container port",
	}, {
		name: "unmounted volume and mount without volume",
		mutate: func(s *Service) {
			s.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}}}
			(*containers(s))[0].VolumeMounts = []corev1.VolumeMount{{Name: "other", MountPath: "/etc/x", ReadOnly: true}}
		},
		want: "volume with name \"cfg\" not mounted: spec.template.spec.volumes[0].name\nvolumeMount has no matching volume: spec.template.spec.containers[0].volumeMounts[0].name",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := service(tt.mutate)
			SetDefaults(s, nil)
			err := Validate(s, nil)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestValidateRoute(t *testing.T) {
	route := func(traffic ...TrafficTarget) *Route {
		return &Route{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "default"}, Spec: RouteSpec{Traffic: traffic}}
	}
	tests := []struct {
		name string
		r    *Route
		want string
	}{{
		name: "valid split",
		r:    route(TrafficTarget{RevisionName: "a-1", Percent: new(int64(50))}, TrafficTarget{ConfigurationName: "a", Percent: new(int64(50)), Tag: "latest"}),
	}, {
		name: "both names",
		r:    route(TrafficTarget{RevisionName: "a-1", ConfigurationName: "a", Percent: new(int64(100))}),
		want: "expected exactly one, got both: spec.traffic[0].configurationName, spec.traffic[0].revisionName",
	}, {
		name: "neither name",
		r:    route(TrafficTarget{Percent: new(int64(100))}),
		want: "expected exactly one, got neither: spec.traffic[0].configurationName, spec.traffic[0].revisionName",
	}, {
		name: "no traffic",
		r:    route(),
		want: "Traffic targets sum to 0, want 100: spec.traffic",
	}, {
		name: "bad revision name",
		r:    route(TrafficTarget{RevisionName: "a b", Percent: new(int64(100))}),
		want: "invalid key name \"a b\": spec.traffic[0].revisionName\nname part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			SetDefaults(tt.r, nil)
			got := ""
			if err := Validate(tt.r, nil); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestValidateOtherKinds(t *testing.T) {
	dm := func(name, refNS string, ref KReference) *DomainMapping {
		ref.Namespace = refNS
		return &DomainMapping{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: DomainMappingSpec{Ref: ref}}
	}
	svcRef := KReference{Kind: "Service", Name: "hello", APIVersion: APIVersionV1}
	cfgWith := func(f func(*Config)) *Config { c := DefaultConfig(""); f(c); return c }
	tests := []struct {
		name string
		obj  Object
		cfg  *Config
		want string
	}{{
		name: "domain mapping",
		obj:  dm("example.org", "", svcRef),
	}, {
		name: "domain mapping with a single-label name",
		obj:  dm("example", "", svcRef),
		want: `invalid name "example": name: Invalid value: "example": should be a domain with at least two segments separated by dots: metadata.name`,
	}, {
		name: "domain mapping under the cluster domain",
		obj:  dm("a.svc.cluster.local", "", svcRef),
		want: `invalid name "a.svc.cluster.local": must not be a subdomain of cluster local domain "cluster.local": metadata.name`,
	}, {
		name: "domain mapping without ref",
		obj:  dm("example.org", "", KReference{}),
		want: "missing field(s): spec.ref.apiVersion, spec.ref.kind, spec.ref.name",
	}, {
		name: "domain mapping to another namespace",
		obj:  dm("example.org", "other", svcRef),
		want: "mismatched namespaces: spec.ref.namespace\nparent namespace: \"default\" does not match ref: \"other\"",
	}, {
		name: "configuration with autoscaling annotation in its template",
		obj: &Configuration{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Spec: ConfigurationSpec{Template: RevisionTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"autoscaling.knative.dev/min-scale": "1"}},
			Spec:       RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "a"}}}}}}},
	}, {
		name: "revision with concurrency 0 when not allowed",
		obj: &Revision{ObjectMeta: metav1.ObjectMeta{Name: "c-1"}, Spec: RevisionSpec{
			PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "a"}}}, ContainerConcurrency: new(int64(0))}},
		cfg:  cfgWith(func(c *Config) { c.Defaults.AllowContainerConcurrencyZero = false }),
		want: "expected 1 <= 0 <= 1000: spec.containerConcurrency",
	}, {
		name: "bad config map",
		obj:  &ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ConfigMapDefaults}, Data: map[string]string{"revision-timeout-seconds": "x"}},
		want: `ConfigMap config-defaults: failed to parse "revision-timeout-seconds": strconv.ParseInt: parsing "x": invalid syntax`,
	}, {
		name: "unknown config map",
		obj:  &ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "config-features"}, Data: map[string]string{"multi-container": "whatever"}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			SetDefaults(tt.obj, tt.cfg)
			got := ""
			if err := Validate(tt.obj, tt.cfg); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestImageReference(t *testing.T) {
	for _, ok := range []string{"nginx", "nginx:1.25", "docker.io/user/example-app", "github.com/knative/docs/code-samples/serving/secrets-go",
		"localhost:5000/app@sha256:" + strings.Repeat("a", 64), "gcr.io/knative-samples/helloworld-go", "gantry/sample-app"} {
		if err := checkImageReference(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"docker.io/{username}/app", "ko://github.com/x", "<image>", "app/UPPER", "app:", "${REPO}/app"} {
		if checkImageReference(bad) == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
