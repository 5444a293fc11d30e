package kube

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testRevision() *api.Revision {
	rev := &api.Revision{ObjectMeta: metav1.ObjectMeta{Name: "hello-00001", Namespace: "default", UID: "u1",
		Labels:      map[string]string{api.LabelConfiguration: "hello", api.LabelService: "hello", api.LabelRoutingState: "active"},
		Annotations: map[string]string{api.AnnotationRoutingModified: "2026-01-01T00:00:00Z"}}}
	timeout := int64(120)
	rev.Spec.TimeoutSeconds = &timeout
	rev.Spec.Containers = []corev1.Container{{Name: "user-container", Image: "img",
		Ports:          []corev1.ContainerPort{{ContainerPort: 8080}},
		ReadinessProbe: &corev1.Probe{PeriodSeconds: 3, ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}}}}
	return rev
}

func TestMakeDeployment(t *testing.T) {
	d := MakeDeployment(testRevision(), 2, ResourceOptions{QueueImage: "gantry:test"})
	if d.Name != "hello-00001-deployment" || *d.Spec.Replicas != 2 {
		t.Fatalf("name %s replicas %d", d.Name, *d.Spec.Replicas)
	}
	if _, ok := d.Spec.Template.Labels[api.LabelRoutingState]; ok {
		t.Error("routing state label on pods would roll them as traffic moves")
	}
	if _, ok := d.Spec.Template.Annotations[api.AnnotationRoutingModified]; ok {
		t.Error("routingStateModified annotation on pods")
	}
	ps := d.Spec.Template.Spec
	if *ps.TerminationGracePeriodSeconds != 120 {
		t.Errorf("grace %d, want the timeout", *ps.TerminationGracePeriodSeconds)
	}
	qp := ps.Containers[1]
	if qp.Image != "gantry:test" || !cmp.Equal(qp.Args, []string{"queue-proxy"}) {
		t.Errorf("queue-proxy image %s args %v", qp.Image, qp.Args)
	}
	env := envOf(qp.Env)
	want := map[string]string{"USER_PORT": "8080", "QUEUE_SERVING_PORT": "8012", "REVISION_TIMEOUT_SECONDS": "120",
		"SERVING_REVISION": "hello-00001", "SERVING_CONFIGURATION": "hello", "CONTAINER_CONCURRENCY": "0",
		"GODEBUG": "schedtrace=2147483647"}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	if !strings.Contains(env["SERVING_READINESS_PROBE"], `"tcpSocket"`) {
		t.Errorf("the user's probe is not passed to the queue-proxy: %s", env["SERVING_READINESS_PROBE"])
	}
	if qp.ReadinessProbe.PeriodSeconds != 3 {
		t.Errorf("probe period %d, want the user's 3", qp.ReadinessProbe.PeriodSeconds)
	}
	// The same revision gives the same hash; a change of template another.
	if h1, h2 := d.Annotations[AnnotationSpecHash], MakeDeployment(testRevision(), 5, ResourceOptions{QueueImage: "gantry:test"}).Annotations[AnnotationSpecHash]; h1 != h2 {
		t.Errorf("hash depends on replicas: %s %s", h1, h2)
	}
	r2 := testRevision()
	r2.Spec.Containers[0].Image = "img2"
	if MakeDeployment(r2, 1, ResourceOptions{}).Annotations[AnnotationSpecHash] == d.Annotations[AnnotationSpecHash] {
		t.Error("hash ignores the image")
	}
	have := d.DeepCopy()
	if deploymentDrifted(have, d) {
		t.Error("an unchanged deployment drifted")
	}
	have.Spec.Template.Spec.Containers[0].Image = "evil"
	if !deploymentDrifted(have, d) {
		t.Error("a hand-edited image is not drift")
	}
}

func TestMakeRevisionServicesH2C(t *testing.T) {
	rev := testRevision()
	rev.Spec.Containers[0].Ports[0].Name = "h2c"
	svcs := MakeRevisionServices(rev)
	if p := svcs[0].Spec.Ports[0]; p.Name != "h2c" || p.TargetPort.IntValue() != QueueH2CPort {
		t.Errorf("h2c port %+v", p)
	}
	if svcs[1].Spec.ClusterIP != corev1.ClusterIPNone || len(svcs[1].Spec.Ports) != 5 {
		t.Errorf("private service %+v", svcs[1].Spec)
	}
}

func TestMakeHTTPRoutes(t *testing.T) {
	route := &api.Route{ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "ns", UID: "r1"}}
	route.Status.URL = "http://hello.ns.example.com"
	route.Status.Traffic = []api.TrafficTarget{
		{Tag: "a", RevisionName: "hello-1", Percent: new(int64(40)), URL: "http://a-hello.ns.example.com"},
		{RevisionName: "hello-2", Percent: new(int64(50))},
		{Tag: "b", RevisionName: "hello-2", Percent: new(int64(10)), URL: "http://b-hello.ns.example.com"},
	}
	hrs := MakeHTTPRoutes(route, GatewayRef{Namespace: "gw", Name: "edge"})
	if len(hrs) != 3 {
		t.Fatalf("%d httproutes, want main + 2 tags", len(hrs))
	}
	got := map[string]int32{}
	for _, b := range hrs[0].Spec.Rules[0].BackendRefs {
		got[string(b.Name)] = *b.Weight
	}
	if diff := cmp.Diff(map[string]int32{"hello-1": 40, "hello-2": 60}, got); diff != "" {
		t.Errorf("weights (-want +got):\n%s", diff)
	}
	if hrs[1].Name != "hello-tag-a" || string(hrs[1].Spec.Hostnames[0]) != "a-hello.ns.example.com" {
		t.Errorf("tag route %s %v", hrs[1].Name, hrs[1].Spec.Hostnames)
	}
}

func TestTranslate(t *testing.T) {
	in := `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: hello
  annotations:
    autoscaling.knative.dev/min-scale: "1"
---
apiVersion: serving.knative.dev/v1beta1
kind: DomainMapping
metadata: {name: example.com}
spec:
  ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: hello}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: config-gc}
`
	var out bytes.Buffer
	if err := Translate(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if strings.Count(s, "apiVersion: serving.gantry.dev/v1") != 3 || !strings.Contains(s, "apiVersion: v1\nkind: ConfigMap") ||
		!strings.Contains(s, "autoscaling.knative.dev/min-scale") {
		t.Errorf("translated:\n%s", s)
	}
}

func TestIngressClassOf(t *testing.T) {
	cfg := api.DefaultConfig("")
	r := &api.Route{}
	if c := IngressClassOf(r, cfg); IsGatewayAPIClass(c) {
		t.Errorf("default class %q", c)
	}
	r.Annotations = map[string]string{AnnotationIngressClass: IngressClassGatewayAPI}
	if !IsGatewayAPIClass(IngressClassOf(r, cfg)) {
		t.Error("annotation ignored")
	}
}

// TestMakeHTTPRoutesVia: revisions without ready instances go to the
// activator, and shares landing on one Service add up.
func TestMakeHTTPRoutesVia(t *testing.T) {
	route := &api.Route{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "r"}}
	route.Status.URL = "http://r.ns.svc.cluster.local"
	route.Status.Traffic = []api.TrafficTarget{
		{RevisionName: "r-00001", Percent: new(int64(30))},
		{RevisionName: "r-00002", Percent: new(int64(30))},
		{RevisionName: "r-00003", Percent: new(int64(40))},
	}
	act := ActivatorService("gantry-gateway.sys.svc.cluster.local", "other")
	if act != (ServiceRef{Namespace: "sys", Name: "gantry-gateway"}) {
		t.Fatalf("activator %+v", act)
	}
	hrs := MakeHTTPRoutesVia(route, GatewayRef{Name: "edge"}, func(rev string) ServiceRef {
		if rev == "r-00003" {
			return ServiceRef{Name: RevisionServiceName(rev)}
		}
		return act
	})
	if len(hrs) != 1 {
		t.Fatalf("%d httproutes", len(hrs))
	}
	got := map[string]int32{}
	for _, b := range hrs[0].Spec.Rules[0].BackendRefs {
		n := string(b.Name)
		if b.Namespace != nil {
			n = string(*b.Namespace) + "/" + n
		}
		got[n] = *b.Weight
	}
	if len(got) != 2 || got["sys/gantry-gateway"] != 60 || got["r-00003"] != 40 {
		t.Fatalf("backends %v", got)
	}
}

// config-network's client limits reach the queue-proxy as its variables.
func TestMakeDeploymentProxyLimits(t *testing.T) {
	l := api.DefaultProxyLimits()
	l.MaxRequestHeaderBytes = 8192
	d := MakeDeployment(testRevision(), 1, ResourceOptions{ProxyLimits: &l})
	env := map[string]string{}
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == QueueContainerName {
			for _, e := range c.Env {
				env[e.Name] = e.Value
			}
		}
	}
	for k, want := range l.Env() {
		if env[k] != want {
			t.Errorf("queue-proxy %s=%q, want %q", k, env[k], want)
		}
	}
	if env["GANTRY_MAX_REQUEST_HEADER_BYTES"] != "8192" {
		t.Errorf("GANTRY_MAX_REQUEST_HEADER_BYTES=%q, want 8192", env["GANTRY_MAX_REQUEST_HEADER_BYTES"])
	}
	// Without limits the queue-proxy keeps its own defaults.
	for _, c := range MakeDeployment(testRevision(), 1, ResourceOptions{}).Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			if strings.HasPrefix(e.Name, "GANTRY_MAX_") {
				t.Errorf("%s set without limits", e.Name)
			}
		}
	}
}

// The Deployment's progressDeadlineSeconds: the revision's annotation, else
// config-deployment's progress-deadline, else Knative's 600.
func TestProgressDeadlineSeconds(t *testing.T) {
	for _, tc := range []struct {
		name       string
		annotation string
		config     time.Duration
		want       int32
	}{
		{"neither", "", 0, 600},
		{"config", "", 45 * time.Second, 45},
		{"config rounded up", "", 1500 * time.Millisecond, 2},
		{"annotation over config", "20s", 45 * time.Second, 20},
		{"annotation alone", "90", 0, 90},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rev := testRevision()
			if tc.annotation != "" {
				rev.Annotations[api.AnnotationProgressDeadline] = tc.annotation
			}
			d := MakeDeployment(rev, 1, ResourceOptions{ProgressDeadline: tc.config})
			if got := d.Spec.ProgressDeadlineSeconds; got == nil || *got != tc.want {
				t.Errorf("progressDeadlineSeconds %v, want %d", got, tc.want)
			}
		})
	}
}
