package kube

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/api"
	gcontroller "github.com/gantry-dev/gantry/controller"
	"github.com/gantry-dev/gantry/controller/reconcile"
	"github.com/gantry-dev/gantry/gateway"
	"github.com/gantry-dev/gantry/store"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

const waitFor = 30 * time.Second

// unstructuredService is a Service as YAML gives it: what is left out stays
// out, so the CRD's schema sees the object as kubectl would send it.
func unstructuredService(ns, name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": GroupVersion.String(), "kind": "Service",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec":     spec,
	}}
}

func newService(ns, name, target string) *api.Service {
	s := &api.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	s.Spec.Template.Spec.Containers = []corev1.Container{{Image: "gantry/sample-app",
		Env: []corev1.EnvVar{{Name: "TARGET", Value: target}}}}
	return s
}

func key(ns, name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }

// markReady plays the kubelet and the Deployment controller: the revision's
// Deployment reports its replicas ready.
func markReady(t *testing.T, ns, rev string) {
	t.Helper()
	ctx := context.Background()
	eventually(t, waitFor, "deployment of "+rev+" ready", func() error {
		d := &appsv1.Deployment{}
		if err := testClient.Get(ctx, key(ns, DeploymentName(rev)), d); err != nil {
			return err
		}
		n := int32(1)
		if d.Spec.Replicas != nil && *d.Spec.Replicas > 0 {
			n = *d.Spec.Replicas
		}
		d.Status.Replicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas, d.Status.UpdatedReplicas = n, n, n, n
		d.Status.ObservedGeneration = d.Generation
		return testClient.Status().Update(ctx, d)
	})
}

func getService(t *testing.T, ns, name string) *api.Service {
	t.Helper()
	s := &api.Service{}
	if err := testClient.Get(context.Background(), key(ns, name), s); err != nil {
		t.Fatal(err)
	}
	return s
}

// updateService changes a Service with retries on conflict.
func updateService(t *testing.T, ns, name string, change func(*api.Service)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s := &api.Service{}
		if err := testClient.Get(context.Background(), key(ns, name), s); err != nil {
			return err
		}
		change(s)
		return testClient.Update(context.Background(), s)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func revisionNames(t *testing.T, ns string) []string {
	t.Helper()
	var l RevisionList
	if err := testClient.List(context.Background(), &l, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range l.Items {
		out = append(out, r.Name)
	}
	slices.Sort(out)
	return out
}

func serviceReady(ns, name, wantLatest string) func() error {
	return func() error {
		s := &api.Service{}
		if err := testClient.Get(context.Background(), key(ns, name), s); err != nil {
			return err
		}
		if !reconcile.IsTrue(s.Status.Conditions, api.ConditionReady) || s.Status.ObservedGeneration != s.Generation {
			return fmt.Errorf("service not ready: %+v", s.Status.Conditions)
		}
		if s.Status.LatestReadyRevisionName != wantLatest {
			return fmt.Errorf("latest ready %q, want %q", s.Status.LatestReadyRevisionName, wantLatest)
		}
		return nil
	}
}

// TestServiceLifecycle: a Service becomes a Configuration, a Revision, a
// Deployment with the queue-proxy sidecar, two Services, and a Route with
// URLs; a template change makes a second revision that takes the traffic;
// a hand-edited Deployment is put back; deleting the Service removes all.
func TestServiceLifecycle(t *testing.T) {
	needKube(t)
	ctx := context.Background()
	ns, sys := testNamespaces(t)
	startGC(t, ns)
	startController(t, Options{SystemNamespace: sys})

	if err := testClient.Create(ctx, newService(ns, "hello", "one")); err != nil {
		t.Fatal(err)
	}
	rev1 := "hello-00001"
	d := &appsv1.Deployment{}
	eventually(t, waitFor, "deployment", func() error { return testClient.Get(ctx, key(ns, DeploymentName(rev1)), d) })

	// The Configuration and Revision, owned down the chain.
	conf := &api.Configuration{}
	if err := testClient.Get(ctx, key(ns, "hello"), conf); err != nil {
		t.Fatal(err)
	}
	svc := getService(t, ns, "hello")
	if !metav1.IsControlledBy(conf, svc) {
		t.Errorf("configuration owners = %+v, want the service %s", conf.OwnerReferences, svc.UID)
	}
	rev := &api.Revision{}
	if err := testClient.Get(ctx, key(ns, rev1), rev); err != nil {
		t.Fatal(err)
	}
	if !metav1.IsControlledBy(rev, conf) || !metav1.IsControlledBy(d, rev) {
		t.Errorf("owner chain broken: revision %+v, deployment %+v", rev.OwnerReferences, d.OwnerReferences)
	}

	// The Deployment: user container and the queue-proxy sidecar.
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 2 || pod.Containers[1].Name != QueueContainerName {
		t.Fatalf("containers = %v, want user-container and queue-proxy", containerNames(pod.Containers))
	}
	user, qp := pod.Containers[0], pod.Containers[1]
	var ports []int32
	for _, p := range qp.Ports {
		ports = append(ports, p.ContainerPort)
	}
	if !slices.Equal(ports, []int32{8012, 8013, 8022, 9090, 9091}) {
		t.Errorf("queue-proxy ports = %v", ports)
	}
	if rp := qp.ReadinessProbe; rp == nil || rp.HTTPGet == nil || rp.HTTPGet.Port.IntValue() != 8012 {
		t.Errorf("readiness not through the queue-proxy: %+v", qp.ReadinessProbe)
	}
	if user.ReadinessProbe != nil {
		t.Errorf("user container keeps a readiness probe: %+v", user.ReadinessProbe)
	}
	if user.Lifecycle == nil || user.Lifecycle.PreStop == nil || user.Lifecycle.PreStop.HTTPGet.Path != DrainPath {
		t.Errorf("no preStop %s: %+v", DrainPath, user.Lifecycle)
	}
	if g := pod.TerminationGracePeriodSeconds; g == nil || *g != 300 {
		t.Errorf("terminationGracePeriodSeconds = %v, want the revision timeout 300", g)
	}
	if env := envOf(qp.Env); env["SERVING_REVISION"] != rev1 || env["USER_PORT"] != "8080" || env["SERVING_SERVICE"] != "hello" {
		t.Errorf("queue-proxy env = %v", env)
	}
	if env := envOf(user.Env); env["PORT"] != "8080" || env["K_REVISION"] != rev1 || env["TARGET"] != "one" {
		t.Errorf("user env = %v", env)
	}
	for _, name := range []string{RevisionServiceName(rev1), PrivateServiceName(rev1)} {
		s := &corev1.Service{}
		eventually(t, waitFor, "service "+name, func() error { return testClient.Get(ctx, key(ns, name), s) })
		if !metav1.IsControlledBy(s, rev) {
			t.Errorf("service %s not owned by the revision", name)
		}
	}

	// Ready instances make the revision, route and service ready, with URLs.
	markReady(t, ns, rev1)
	eventually(t, waitFor, "service ready", serviceReady(ns, "hello", rev1))
	svc = getService(t, ns, "hello")
	wantURL := "http://hello." + ns + ".svc.cluster.local"
	if svc.Status.URL != wantURL || len(svc.Status.Traffic) != 1 || svc.Status.Traffic[0].RevisionName != rev1 {
		t.Fatalf("status url %q traffic %+v, want %s → %s", svc.Status.URL, svc.Status.Traffic, wantURL, rev1)
	}
	route := &api.Route{}
	if err := testClient.Get(ctx, key(ns, "hello"), route); err != nil || route.Status.URL != wantURL {
		t.Fatalf("route url %q (%v)", route.Status.URL, err)
	}
	placeholder := &corev1.Service{}
	eventually(t, waitFor, "route placeholder", func() error { return testClient.Get(ctx, key(ns, "hello"), placeholder) })
	if placeholder.Spec.Type != corev1.ServiceTypeExternalName {
		t.Errorf("placeholder type %s", placeholder.Spec.Type)
	}

	// A hand edit of the Deployment is put back.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := testClient.Get(ctx, key(ns, DeploymentName(rev1)), d); err != nil {
			return err
		}
		d.Spec.Template.Spec.Containers[0].Image = "evil/image"
		return testClient.Update(ctx, d)
	})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, waitFor, "deployment put back", func() error {
		if err := testClient.Get(ctx, key(ns, DeploymentName(rev1)), d); err != nil {
			return err
		}
		if img := d.Spec.Template.Spec.Containers[0].Image; img != "gantry/sample-app" {
			return fmt.Errorf("image %q", img)
		}
		return nil
	})

	// A template change: a second revision, which takes the traffic once ready.
	updateService(t, ns, "hello", func(s *api.Service) { s.Spec.Template.Spec.Containers[0].Env[0].Value = "two" })
	rev2 := "hello-00002"
	markReady(t, ns, rev2)
	eventually(t, waitFor, "traffic on "+rev2, serviceReady(ns, "hello", rev2))
	svc = getService(t, ns, "hello")
	if len(svc.Status.Traffic) != 1 || svc.Status.Traffic[0].RevisionName != rev2 || *svc.Status.Traffic[0].Percent != 100 {
		t.Fatalf("traffic %+v, want 100%% on %s", svc.Status.Traffic, rev2)
	}
	if got := revisionNames(t, ns); !slices.Equal(got, []string{rev1, rev2}) {
		t.Fatalf("revisions %v", got)
	}
	eventually(t, waitFor, rev1+" reserve", func() error {
		r := &api.Revision{}
		if err := testClient.Get(ctx, key(ns, rev1), r); err != nil {
			return err
		}
		if r.Labels[api.LabelRoutingState] != api.RoutingStateReserve {
			return fmt.Errorf("routingState %q", r.Labels[api.LabelRoutingState])
		}
		return nil
	})

	// Events were recorded on the objects.
	var evs eventsv1.EventList
	if err := testClient.List(ctx, &evs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(evs.Items, func(e eventsv1.Event) bool { return e.Reason == "Created" && e.Regarding.Kind == api.KindConfiguration }) {
		t.Errorf("no Created event on the configuration among %d events", len(evs.Items))
	}

	// Deleting the Service removes everything it owned (through owner references).
	if err := testClient.Delete(ctx, getService(t, ns, "hello")); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitFor, "everything deleted", func() error {
		var left []string
		for _, l := range []client.ObjectList{&ConfigurationList{}, &RouteList{}, &RevisionList{}, &appsv1.DeploymentList{}, &corev1.ServiceList{}} {
			if err := testClient.List(ctx, l, client.InNamespace(ns)); err != nil {
				return err
			}
			for _, o := range objectsOf(l) {
				left = append(left, fmt.Sprintf("%T %s", o, o.GetName()))
			}
		}
		if len(left) > 0 {
			return fmt.Errorf("left: %v", left)
		}
		return nil
	})
}

func containerNames(cs []corev1.Container) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func envOf(env []corev1.EnvVar) map[string]string {
	m := map[string]string{}
	for _, e := range env {
		m[e.Name] = e.Value
	}
	return m
}

// TestTrafficSplitHTTPRoute: a 40/60 split with tags, on the gateway-api
// ingress class, becomes HTTPRoutes with weighted backendRefs and a host per tag.
func TestTrafficSplitHTTPRoute(t *testing.T) {
	needKube(t)
	ctx := context.Background()
	ns, sys := testNamespaces(t)
	startGC(t, ns)
	startController(t, Options{SystemNamespace: sys, GatewayAPI: &GatewayRef{Namespace: "infra", Name: "edge"}})

	s := newService(ns, "split", "one")
	s.Annotations = map[string]string{AnnotationIngressClass: IngressClassGatewayAPI}
	if err := testClient.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	markReady(t, ns, "split-00001")
	eventually(t, waitFor, "first ready", serviceReady(ns, "split", "split-00001"))
	updateService(t, ns, "split", func(s *api.Service) { s.Spec.Template.Spec.Containers[0].Env[0].Value = "two" })
	markReady(t, ns, "split-00002")
	eventually(t, waitFor, "second ready", serviceReady(ns, "split", "split-00002"))

	updateService(t, ns, "split", func(s *api.Service) {
		f, tr := false, true
		s.Spec.Traffic = []api.TrafficTarget{
			{Tag: "stable", RevisionName: "split-00001", Percent: new(int64(40)), LatestRevision: &f},
			{Tag: "canary", LatestRevision: &tr, Percent: new(int64(60))},
		}
	})
	hr := &gwv1.HTTPRoute{}
	eventually(t, waitFor, "weighted httproute", func() error {
		if err := testClient.Get(ctx, key(ns, "split"), hr); err != nil {
			return err
		}
		got := map[string]int32{}
		for _, b := range hr.Spec.Rules[0].BackendRefs {
			got[string(b.Name)] = *b.Weight
		}
		if got["split-00001"] != 40 || got["split-00002"] != 60 || len(got) != 2 {
			return fmt.Errorf("weights %v", got)
		}
		return nil
	})
	if len(hr.Spec.Hostnames) != 1 || string(hr.Spec.Hostnames[0]) != "split."+ns+".svc.cluster.local" {
		t.Errorf("hostnames %v", hr.Spec.Hostnames)
	}
	if p := hr.Spec.ParentRefs; len(p) != 1 || p[0].Name != "edge" || p[0].Namespace == nil || *p[0].Namespace != "infra" {
		t.Errorf("parentRefs %+v", p)
	}
	for tag, rev := range map[string]string{"stable": "split-00001", "canary": "split-00002"} {
		th := &gwv1.HTTPRoute{}
		eventually(t, waitFor, "tag httproute "+tag, func() error { return testClient.Get(ctx, key(ns, TagHTTPRouteName("split", tag)), th) })
		if h := th.Spec.Hostnames; len(h) != 1 || string(h[0]) != tag+"-split."+ns+".svc.cluster.local" {
			t.Errorf("tag %s hostnames %v", tag, h)
		}
		if b := th.Spec.Rules[0].BackendRefs; len(b) != 1 || string(b[0].Name) != rev {
			t.Errorf("tag %s backends %+v", tag, b)
		}
	}

	// Dropping a tag deletes its HTTPRoute.
	updateService(t, ns, "split", func(s *api.Service) {
		s.Spec.Traffic = []api.TrafficTarget{{LatestRevision: new(true), Percent: new(int64(100))}}
	})
	eventually(t, waitFor, "tag httproutes deleted", func() error {
		var l gwv1.HTTPRouteList
		if err := testClient.List(ctx, &l, client.InNamespace(ns)); err != nil {
			return err
		}
		if len(l.Items) != 1 || len(l.Items[0].Spec.Rules[0].BackendRefs) != 1 {
			return fmt.Errorf("%d httproutes", len(l.Items))
		}
		return nil
	})
}

// TestRevisionGC: with config-gc keeping at most one non-active revision,
// the oldest reserve revision is deleted, with its Deployment.
func TestRevisionGC(t *testing.T) {
	needKube(t)
	ctx := context.Background()
	ns, sys := testNamespaces(t)
	startGC(t, ns)
	gc := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: sys, Name: "config-gc"}, Data: map[string]string{
		"min-non-active-revisions": "0", "max-non-active-revisions": "1",
		"retain-since-create-time": "disabled", "retain-since-last-active-time": "disabled",
	}}
	if err := testClient.Create(ctx, gc); err != nil {
		t.Fatal(err)
	}
	startController(t, Options{SystemNamespace: sys})
	if err := testClient.Create(ctx, newService(ns, "gc", "1")); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		rev := fmt.Sprintf("gc-%05d", i)
		if i > 1 {
			updateService(t, ns, "gc", func(s *api.Service) { s.Spec.Template.Spec.Containers[0].Env[0].Value = fmt.Sprint(i) })
		}
		markReady(t, ns, rev)
		eventually(t, waitFor, rev+" ready", serviceReady(ns, "gc", rev))
	}
	eventually(t, waitFor, "gc-00001 collected", func() error {
		got := revisionNames(t, ns)
		if !slices.Equal(got, []string{"gc-00002", "gc-00003"}) {
			return fmt.Errorf("revisions %v", got)
		}
		d := &appsv1.Deployment{}
		if err := testClient.Get(ctx, key(ns, DeploymentName("gc-00001")), d); !apierrors.IsNotFound(err) {
			return fmt.Errorf("deployment of gc-00001 still there (%v)", err)
		}
		return nil
	})
}

// TestControllerRestart: changes made while the controller is down are
// picked up by the next one, which converges to the same state, with no
// duplicate revisions.
func TestControllerRestart(t *testing.T) {
	needKube(t)
	ctx := context.Background()
	ns, sys := testNamespaces(t)
	startGC(t, ns)
	stop := startController(t, Options{SystemNamespace: sys})
	if err := testClient.Create(ctx, newService(ns, "restart", "one")); err != nil {
		t.Fatal(err)
	}
	markReady(t, ns, "restart-00001")
	eventually(t, waitFor, "ready", serviceReady(ns, "restart", "restart-00001"))
	stop()

	updateService(t, ns, "restart", func(s *api.Service) { s.Spec.Template.Spec.Containers[0].Env[0].Value = "two" })
	if err := testClient.Create(ctx, newService(ns, "other", "x")); err != nil {
		t.Fatal(err)
	}
	// A Deployment deleted while the controller is away comes back.
	if err := testClient.Delete(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: DeploymentName("restart-00001")}}); err != nil {
		t.Fatal(err)
	}

	startController(t, Options{SystemNamespace: sys})
	markReady(t, ns, "restart-00002")
	markReady(t, ns, "other-00001")
	eventually(t, waitFor, "restart converged", serviceReady(ns, "restart", "restart-00002"))
	eventually(t, waitFor, "other converged", serviceReady(ns, "other", "other-00001"))
	eventually(t, waitFor, "deployment recreated", func() error {
		return testClient.Get(ctx, key(ns, DeploymentName("restart-00001")), &appsv1.Deployment{})
	})
	if got := revisionNames(t, ns); !slices.Equal(got, []string{"other-00001", "restart-00001", "restart-00002"}) {
		t.Fatalf("revisions %v", got)
	}
}

// TestBadInput: the CRD schema refuses ill-typed objects; the controller
// reports Knative's validation messages in conditions and events; a
// Configuration of the same name that is not the Service's is not taken over.
func TestBadInput(t *testing.T) {
	needKube(t)
	ctx := context.Background()
	ns, sys := testNamespaces(t)
	startController(t, Options{SystemNamespace: sys})

	// Schema validation: percent must be an integer.
	u := unstructuredService(ns, "typo", map[string]any{
		"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"image": "x"}}}},
		"traffic":  []any{map[string]any{"latestRevision": true, "percent": "all"}},
	})
	if err := testClient.Create(ctx, u); err == nil || !strings.Contains(err.Error(), "percent") {
		t.Fatalf("ill-typed percent accepted: %v", err)
	}

	// Knative's validation, reported by the controller.
	s := newService(ns, "bad", "x")
	s.Spec.Traffic = []api.TrafficTarget{{LatestRevision: new(true), Percent: new(int64(90))}}
	if err := testClient.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	want := "Traffic targets sum to 90, want 100"
	eventually(t, waitFor, "validation condition", func() error {
		s := getService(t, ns, "bad")
		c := reconcile.GetCondition(s.Status.Conditions, api.ConditionReady)
		if c == nil || c.Status != corev1.ConditionFalse || !strings.Contains(c.Message, want) {
			return fmt.Errorf("ready condition %+v", c)
		}
		return nil
	})
	eventually(t, waitFor, "validation event", func() error {
		var evs eventsv1.EventList
		if err := testClient.List(ctx, &evs, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.Reason == ReasonValidationFailed && strings.Contains(e.Note, want) {
				return nil
			}
		}
		return fmt.Errorf("no %s event among %d", ReasonValidationFailed, len(evs.Items))
	})
	if err := testClient.Get(ctx, key(ns, "bad"), &api.Configuration{}); !apierrors.IsNotFound(err) {
		t.Errorf("an invalid service got a configuration (%v)", err)
	}

	// A Configuration someone else owns is not taken over.
	foreign := &api.Configuration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "taken"}}
	foreign.Spec.Template.Spec.Containers = []corev1.Container{{Image: "gantry/sample-app"}}
	if err := testClient.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	if err := testClient.Create(ctx, newService(ns, "taken", "x")); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitFor, "not owned", func() error {
		c := reconcile.GetCondition(getService(t, ns, "taken").Status.Conditions, api.ConditionConfigurationsReady)
		if c == nil || c.Reason != ReasonNotOwned {
			return fmt.Errorf("condition %+v", c)
		}
		return nil
	})
}

// TestAutoscalerScalesThroughSubresource: the KPA holds min-scale, writing
// the Deployment's replicas through the scale subresource; a hand scale-down
// is undone.
func TestAutoscalerScalesThroughSubresource(t *testing.T) {
	needKube(t)
	ctx := context.Background()
	ns, sys := testNamespaces(t)
	startController(t, Options{SystemNamespace: sys, Components: []string{ComponentController, ComponentAutoscaler},
		ScaleInterval: 200 * time.Millisecond})
	s := newService(ns, "scaled", "x")
	s.Spec.Template.Annotations = map[string]string{"autoscaling.knative.dev/min-scale": "3"}
	if err := testClient.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	rev := "scaled-00001"
	replicas := func(want int32) func() error {
		return func() error {
			d := &appsv1.Deployment{}
			if err := testClient.Get(ctx, key(ns, DeploymentName(rev)), d); err != nil {
				return err
			}
			if d.Spec.Replicas == nil || *d.Spec.Replicas != want {
				return fmt.Errorf("replicas %v, want %d", d.Spec.Replicas, want)
			}
			return nil
		}
	}
	eventually(t, waitFor, "3 replicas", replicas(3))
	d := &appsv1.Deployment{}
	if err := testClient.Get(ctx, key(ns, DeploymentName(rev)), d); err != nil {
		t.Fatal(err)
	}
	one := int32(1)
	d.Spec.Replicas = &one
	if err := testClient.Update(ctx, d); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitFor, "scaled back to min-scale", replicas(3))
	// The write went through the scale subresource.
	if err := testClient.Get(ctx, key(ns, DeploymentName(rev)), d); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(d.ManagedFields, func(m metav1.ManagedFieldsEntry) bool { return m.Subresource == "scale" }) {
		t.Errorf("no managed-fields entry for the scale subresource: %+v", d.ManagedFields)
	}
}

// TestAPIServerRestart: the kube-apiserver stops and comes back (same etcd)
// under a running controller; a template change and a new Service made right
// after it is back are picked up (the informers re-list and re-watch), with
// exactly the expected revisions, their Deployments, and route status and
// HTTPRoute on the new revision. The controller does not exit.
func TestAPIServerRestart(t *testing.T) {
	needKube(t)
	ctx := context.Background()
	ns, sys := testNamespaces(t)
	startGC(t, ns)
	c, _ := startControllerC(t, Options{SystemNamespace: sys, GatewayAPI: &GatewayRef{Namespace: "infra", Name: "edge"}})

	s := newService(ns, "survive", "one")
	s.Annotations = map[string]string{AnnotationIngressClass: IngressClassGatewayAPI}
	if err := testClient.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	markReady(t, ns, "survive-00001")
	eventually(t, waitFor, "first ready", serviceReady(ns, "survive", "survive-00001"))
	eventually(t, waitFor, "httproute on survive-00001", httpRouteBackends(ns, "survive", "survive-00001"))

	restartAPIServer(t, 2*time.Second)

	// Changes made as soon as the API server answers again.
	updateService(t, ns, "survive", func(s *api.Service) { s.Spec.Template.Spec.Containers[0].Env[0].Value = "two" })
	if err := testClient.Create(ctx, newService(ns, "after", "x")); err != nil {
		t.Fatal(err)
	}
	markReady(t, ns, "survive-00002")
	markReady(t, ns, "after-00001")
	eventually(t, waitFor, "survive converged", serviceReady(ns, "survive", "survive-00002"))
	eventually(t, waitFor, "after converged", serviceReady(ns, "after", "after-00001"))
	eventually(t, waitFor, "httproute on survive-00002", httpRouteBackends(ns, "survive", "survive-00002"))
	route := &api.Route{}
	if err := testClient.Get(ctx, key(ns, "survive"), route); err != nil {
		t.Fatal(err)
	}
	if tr := route.Status.Traffic; len(tr) != 1 || tr[0].RevisionName != "survive-00002" || tr[0].Percent == nil || *tr[0].Percent != 100 {
		t.Fatalf("route traffic %+v, want 100%% on survive-00002", tr)
	}
	for _, rev := range []string{"survive-00001", "survive-00002", "after-00001"} {
		if err := testClient.Get(ctx, key(ns, DeploymentName(rev)), &appsv1.Deployment{}); err != nil {
			t.Errorf("deployment of %s: %v", rev, err)
		}
	}
	// Let a few more reconciles (and resyncs of re-listed informers) happen:
	// still no duplicate revisions.
	time.Sleep(2 * time.Second)
	if got := revisionNames(t, ns); !slices.Equal(got, []string{"after-00001", "survive-00001", "survive-00002"}) {
		t.Fatalf("revisions %v", got)
	}
	var ds appsv1.DeploymentList
	if err := testClient.List(ctx, &ds, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(ds.Items) != 3 {
		t.Fatalf("%d deployments, want 3", len(ds.Items))
	}
	// kube-apiserver takes longer to stop than the leader's RenewDeadline, so
	// the first manager usually lost its Lease and a second one took over.
	t.Logf("managers run: %d", c.managersBuilt())
}

// httpRouteBackends waits for the HTTPRoute of route to send everything to
// the Service named backend.
func httpRouteBackends(ns, route, backend string) func() error {
	return func() error {
		hr := &gwv1.HTTPRoute{}
		if err := testClient.Get(context.Background(), key(ns, route), hr); err != nil {
			return err
		}
		if len(hr.Spec.Rules) != 1 || len(hr.Spec.Rules[0].BackendRefs) != 1 || string(hr.Spec.Rules[0].BackendRefs[0].Name) != backend {
			return fmt.Errorf("rules %+v, want one backend %s", hr.Spec.Rules, backend)
		}
		return nil
	}
}

// TestScaleFromZeroGatewayAPI: with the gateway-api ingress class, the
// HTTPRoute sends a revision's share to the activator (the gantry gateway's
// Service) while its Deployment has no ready replica, and to the revision's
// own Service once it has one; scaling to zero switches it back.
func TestScaleFromZeroGatewayAPI(t *testing.T) {
	needKube(t)
	ctx := context.Background()
	ns, sys := testNamespaces(t)
	startGC(t, ns)
	startController(t, Options{SystemNamespace: sys, GatewayAPI: &GatewayRef{Namespace: "infra", Name: "edge"}})

	s := newService(ns, "cold", "one")
	s.Annotations = map[string]string{AnnotationIngressClass: IngressClassGatewayAPI}
	if err := testClient.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	rev := "cold-00001"
	backend := func(wantNS, wantName string) func() error {
		return func() error {
			hr := &gwv1.HTTPRoute{}
			if err := testClient.Get(ctx, key(ns, "cold"), hr); err != nil {
				return err
			}
			if len(hr.Spec.Rules) != 1 || len(hr.Spec.Rules[0].BackendRefs) != 1 {
				return fmt.Errorf("rules %+v", hr.Spec.Rules)
			}
			b := hr.Spec.Rules[0].BackendRefs[0]
			gotNS := ns
			if b.Namespace != nil {
				gotNS = string(*b.Namespace)
			}
			if gotNS != wantNS || string(b.Name) != wantName || b.Port == nil || *b.Port != 80 || b.Weight == nil || *b.Weight != 100 {
				return fmt.Errorf("backend %s/%s port %v weight %v, want %s/%s:80 weight 100", gotNS, b.Name, b.Port, b.Weight, wantNS, wantName)
			}
			return nil
		}
	}

	// Ready once, then at zero: the route keeps its traffic, through the activator.
	markReady(t, ns, rev)
	eventually(t, waitFor, "ready", serviceReady(ns, "cold", rev))
	eventually(t, waitFor, "backend is the revision", backend(ns, RevisionServiceName(rev)))
	scaleToZero(t, ns, rev)
	eventually(t, waitFor, "backend is the activator at zero", backend(sys, "gantry-gateway"))
	if err := serviceReady(ns, "cold", rev)(); err != nil {
		t.Fatalf("a revision at zero stays routable: %v", err)
	}
	// A request reaches the activator, which scales up: ready pods again.
	markReady(t, ns, rev)
	eventually(t, waitFor, "backend is the revision again", backend(ns, RevisionServiceName(rev)))

	// A new revision is routed only once ready (Knative's rollout), straight
	// to its Service; the tag of the old one, now at zero, goes to the activator.
	updateService(t, ns, "cold", func(s *api.Service) {
		s.Spec.Template.Spec.Containers[0].Env[0].Value = "two"
		s.Spec.Traffic = []api.TrafficTarget{
			{Tag: "old", RevisionName: rev, Percent: new(int64(0)), LatestRevision: new(false)},
			{LatestRevision: new(true), Percent: new(int64(100))},
		}
	})
	markReady(t, ns, "cold-00002")
	eventually(t, waitFor, "second ready", serviceReady(ns, "cold", "cold-00002"))
	eventually(t, waitFor, "backend is the second revision", backend(ns, RevisionServiceName("cold-00002")))
	scaleToZero(t, ns, rev)
	eventually(t, waitFor, "old tag through the activator", func() error {
		th := &gwv1.HTTPRoute{}
		if err := testClient.Get(ctx, key(ns, TagHTTPRouteName("cold", "old")), th); err != nil {
			return err
		}
		if b := th.Spec.Rules[0].BackendRefs; len(b) != 1 || string(b[0].Name) != "gantry-gateway" || b[0].Namespace == nil || string(*b[0].Namespace) != sys {
			return fmt.Errorf("tag backends %+v", b)
		}
		return nil
	})
}

// scaleToZero plays the autoscaler and the Deployment controller: no
// replicas, none ready.
func scaleToZero(t *testing.T, ns, rev string) {
	t.Helper()
	ctx := context.Background()
	eventually(t, waitFor, "deployment of "+rev+" at zero", func() error {
		d := &appsv1.Deployment{}
		if err := testClient.Get(ctx, key(ns, DeploymentName(rev)), d); err != nil {
			return err
		}
		zero := int32(0)
		d.Spec.Replicas = &zero
		if err := testClient.Update(ctx, d); err != nil {
			return err
		}
		d.Status.Replicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas, d.Status.UpdatedReplicas = 0, 0, 0, 0
		d.Status.ObservedGeneration = d.Generation
		return testClient.Status().Update(ctx, d)
	})
}

// TestExternalAutoscalerOwnsReplicas: a controller started apart from the
// autoscaler (the kustomize base) leaves the Deployment's replicas to it,
// also when it puts back a drifted pod template.
func TestExternalAutoscalerOwnsReplicas(t *testing.T) {
	needKube(t)
	ctx := context.Background()
	ns, sys := testNamespaces(t)
	startController(t, Options{SystemNamespace: sys, ExternalAutoscaler: true})
	if err := testClient.Create(ctx, newService(ns, "ext", "x")); err != nil {
		t.Fatal(err)
	}
	rev := "ext-00001"
	d := &appsv1.Deployment{}
	eventually(t, waitFor, "the deployment", func() error { return testClient.Get(ctx, key(ns, DeploymentName(rev)), d) })
	// What an autoscaler in another process does: its own replica count
	// (3, which no static rule gives), and a template change the controller
	// must put back.
	three := int32(3)
	d.Spec.Replicas = &three
	d.Spec.Template.Spec.Containers[0].Image = "drifted"
	if err := testClient.Update(ctx, d); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitFor, "the template put back", func() error {
		if err := testClient.Get(ctx, key(ns, DeploymentName(rev)), d); err != nil {
			return err
		}
		if d.Spec.Template.Spec.Containers[0].Image == "drifted" {
			return fmt.Errorf("image still drifted")
		}
		return nil
	})
	time.Sleep(time.Second)
	if err := testClient.Get(ctx, key(ns, DeploymentName(rev)), d); err != nil {
		t.Fatal(err)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("replicas %v after the controller's pass, want the autoscaler's 3", ptr.Deref(d.Spec.Replicas, -1))
	}
}

// TestMirror: the cluster's objects appear in a store with their status, a
// status change follows, and a deleted object leaves.
func TestMirror(t *testing.T) {
	needKube(t)
	ctx, cancel := context.WithCancel(context.Background())
	ns, sys := testNamespaces(t)
	startController(t, Options{SystemNamespace: sys})
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Mirror(ctx, testCfg, st, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("mirror: %v", err)
		}
		st.Close()
	})
	if err := testClient.Create(context.Background(), newService(ns, "mirrored", "x")); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitFor, "the revision and its status in the store", func() error {
		o, err := st.Get(api.KindRevision, ns, "mirrored-00001")
		if err != nil {
			return err
		}
		if len(o.(*api.Revision).Status.Conditions) == 0 {
			return fmt.Errorf("no status yet")
		}
		return nil
	})
	eventually(t, waitFor, "the service's latest created revision", func() error {
		o, err := st.Get(api.KindService, ns, "mirrored")
		if err != nil {
			return err
		}
		if s := o.(*api.Service); s.Status.LatestCreatedRevisionName != "mirrored-00001" || s.Status.ObservedGeneration != s.Generation {
			return fmt.Errorf("status %+v at generation %d", s.Status.ConfigurationStatusFields, s.Generation)
		}
		return nil
	})
	if err := testClient.Delete(context.Background(), &api.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "mirrored"}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitFor, "the service gone from the store", func() error {
		if _, err := st.Get(api.KindService, ns, "mirrored"); err == nil {
			return fmt.Errorf("still there")
		}
		return nil
	})
}

// A probe without a port, as Knative's own samples write it, passes the
// CRD's schema and probes the serving container's port.
func TestProbeWithoutPort(t *testing.T) {
	needKube(t)
	ctx := context.Background()
	ns, sys := testNamespaces(t)
	startController(t, Options{SystemNamespace: sys})
	u := unstructuredService(ns, "noport", map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{
		"image":          "gantry/sample-app",
		"readinessProbe": map[string]any{"httpGet": map[string]any{"path": "/"}, "initialDelaySeconds": int64(3)},
		"livenessProbe":  map[string]any{"tcpSocket": map[string]any{}},
	}}}}})
	if err := testClient.Create(ctx, u); err != nil {
		t.Fatalf("a probe without a port refused: %v", err)
	}
	d := &appsv1.Deployment{}
	eventually(t, waitFor, "deployment", func() error { return testClient.Get(ctx, key(ns, DeploymentName("noport-00001")), d) })
	qp := d.Spec.Template.Spec.Containers[1]
	// Port 0 is the queue-proxy's USER_PORT (queueproxy.parseProbe).
	env := envOf(qp.Env)
	if p := env["SERVING_READINESS_PROBE"]; !strings.Contains(p, `"path":"/"`) || !strings.Contains(p, `"port":0`) && !strings.Contains(p, `"port":8080`) || env["USER_PORT"] != "8080" {
		t.Errorf("SERVING_READINESS_PROBE %s with USER_PORT %s, want the path on the user port 8080", p, env["USER_PORT"])
	}
	if lp := d.Spec.Template.Spec.Containers[0].LivenessProbe; lp == nil || lp.TCPSocket == nil || lp.TCPSocket.Port.IntValue() != 8080 {
		t.Errorf("liveness probe %+v, want a TCP check of 8080", lp)
	}
}

// TestRouteReadyOnlyOnceGatewaysServeIt: with a gateway pod in the system
// namespace, a route is Ready only once that gateway answers the probe with
// the route's traffic (Knative's ingress probing); until then Ready is
// Unknown, Uninitialized. The gateway here is a real gateway.Gateway on
// 127.0.0.1, standing in for the pod.
func TestRouteReadyOnlyOnceGatewaysServeIt(t *testing.T) {
	needKube(t)
	ctx := context.Background()
	ns, sys := testNamespaces(t)
	gw := gateway.New(gateway.Options{})
	front := httptest.NewServer(gw)
	t.Cleanup(front.Close)
	port := front.Listener.Addr().(*net.TCPAddr).Port
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: sys, Name: "gantry-gateway-test",
		Labels: map[string]string{"app.kubernetes.io/name": gatewayPodLabel}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "gateway", Image: "gantry",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}}}}
	if err := testClient.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	pod.Status.PodIP = "127.0.0.1"
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	if err := testClient.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	startController(t, Options{SystemNamespace: sys})
	if err := testClient.Create(ctx, newService(ns, "probed", "1")); err != nil {
		t.Fatal(err)
	}
	markReady(t, ns, "probed-00001")
	route := &api.Route{}
	eventually(t, waitFor, "the route waiting for the gateway", func() error {
		if err := testClient.Get(ctx, key(ns, "probed"), route); err != nil {
			return err
		}
		c := reconcile.GetCondition(route.Status.Conditions, api.ConditionReady)
		if c == nil || c.Status != corev1.ConditionUnknown || c.Reason != "Uninitialized" || len(route.Status.Traffic) == 0 {
			return fmt.Errorf("ready condition %+v, traffic %v", c, route.Status.Traffic)
		}
		return nil
	})
	time.Sleep(time.Second) // still not Ready while the gateway has nothing
	if s := getService(t, ns, "probed"); reconcile.IsTrue(s.Status.Conditions, api.ConditionReady) {
		t.Fatal("the service is Ready while the gateway does not serve it")
	}
	withKind(route)
	entries := gcontroller.RouteEntries([]api.Object{route}, func(string, string) *api.Revision { return nil })
	tb, err := gateway.NewTable(entries)
	if err != nil {
		t.Fatal(err)
	}
	gw.SetTable(tb)
	eventually(t, waitFor, "ready once the gateway serves it", serviceReady(ns, "probed", "probed-00001"))

	// A DomainMapping the same way: Ready once the gateway serves its host.
	dm := &api.DomainMapping{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "probed.example.com"},
		Spec: api.DomainMappingSpec{Ref: api.KReference{Kind: api.KindService, Name: "probed", APIVersion: GroupVersion.String()}}}
	if err := testClient.Create(ctx, dm); err != nil {
		t.Fatal(err)
	}
	dmCondition := func(want corev1.ConditionStatus, reason string) func() error {
		return func() error {
			if err := testClient.Get(ctx, key(ns, dm.Name), dm); err != nil {
				return err
			}
			c := reconcile.GetCondition(dm.Status.Conditions, api.ConditionReady)
			if c == nil || c.Status != want || c.Reason != reason {
				return fmt.Errorf("ready condition %+v", c)
			}
			return nil
		}
	}
	eventually(t, waitFor, "the domain mapping waiting for the gateway", dmCondition(corev1.ConditionUnknown, "Uninitialized"))
	served := append([]gateway.RouteEntry(nil), entries...)
	for _, e := range entries {
		if e.Tag == "" && e.PathPrefix == "" {
			e.RewriteHost, e.Host = e.Host, dm.Name
			served = append(served, e)
		}
	}
	if tb, err = gateway.NewTable(served); err != nil {
		t.Fatal(err)
	}
	gw.SetTable(tb)
	eventually(t, waitFor, "the domain mapping ready once the gateway serves it", dmCondition(corev1.ConditionTrue, ""))
}
