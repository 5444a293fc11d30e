package controller

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/controller/reconcile"
	"github.com/gantry-dev/gantry/gateway"
	"github.com/gantry-dev/gantry/store"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ptr[T any](v T) *T { return &v }

func TestDesiredScale(t *testing.T) {
	tests := []struct {
		name           string
		ann            map[string]string
		routed, latest bool
		want           int
	}{
		{"unrouted old revision", nil, false, false, 0},
		{"unrouted with min-scale still zero", map[string]string{"autoscaling.knative.dev/min-scale": "3"}, false, false, 0},
		{"routed", nil, true, false, 1},
		{"latest created", nil, false, true, 1},
		{"routed and latest", nil, true, true, 1},
		{"min-scale", map[string]string{"autoscaling.knative.dev/min-scale": "3"}, true, false, 3},
		{"legacy minScale", map[string]string{"autoscaling.knative.dev/minScale": "2"}, false, true, 2},
		{"new key wins over legacy", map[string]string{"autoscaling.knative.dev/min-scale": "4", "autoscaling.knative.dev/minScale": "2"}, true, false, 4},
		{"min-scale 0 is at least 1", map[string]string{"autoscaling.knative.dev/min-scale": "0"}, true, false, 1},
		{"max-scale caps min-scale", map[string]string{"autoscaling.knative.dev/min-scale": "5", "autoscaling.knative.dev/max-scale": "2"}, true, false, 2},
		{"legacy maxScale caps", map[string]string{"autoscaling.knative.dev/min-scale": "5", "autoscaling.knative.dev/maxScale": "3"}, true, false, 3},
		{"max-scale 0 is unlimited", map[string]string{"autoscaling.knative.dev/min-scale": "5", "autoscaling.knative.dev/max-scale": "0"}, true, false, 5},
		{"garbage min-scale ignored", map[string]string{"autoscaling.knative.dev/min-scale": "lots"}, true, false, 1},
		{"negative min-scale ignored", map[string]string{"autoscaling.knative.dev/min-scale": "-2"}, true, false, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rev := &api.Revision{}
			rev.Annotations = tc.ann
			if got := DesiredScale(rev, tc.routed, tc.latest); got != tc.want {
				t.Errorf("DesiredScale = %d, want %d", got, tc.want)
			}
		})
	}
}

func routeObj(ns, name string, created time.Time, url string, traffic ...api.TrafficTarget) *api.Route {
	r := &api.Route{}
	r.SetGroupVersionKind(api.GroupVersionKind(api.KindRoute))
	r.Namespace, r.Name = ns, name
	r.CreationTimestamp = metav1.NewTime(created)
	r.Status.URL = url
	r.Status.Traffic = traffic
	return r
}

func TestRouteEntries(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	hello := routeObj("default", "hello", t0, "http://hello.default.localhost:8080",
		api.TrafficTarget{RevisionName: "hello-00001", Percent: ptr[int64](80), Tag: "stable", URL: "http://stable-hello.default.localhost:8080"},
		api.TrafficTarget{RevisionName: "hello-00002", Percent: ptr[int64](20), Tag: "canary", URL: "http://canary-hello.default.localhost:8080"},
		api.TrafficTarget{RevisionName: "hello-00003", Percent: ptr[int64](0)},
		api.TrafficTarget{RevisionName: "", Percent: ptr[int64](0)}, // unresolved: skipped
		api.TrafficTarget{RevisionName: "hello-00004"},              // nil percent: 0
	)
	grpc := routeObj("other", "grpc", t0, "http://grpc.other.localhost",
		api.TrafficTarget{RevisionName: "grpc-00001", Percent: ptr[int64](100)})
	noTraffic := routeObj("default", "empty", t0, "http://empty.default.localhost")

	revs := map[string]*api.Revision{}
	h2cRev := &api.Revision{}
	h2cRev.Spec.Containers = []corev1.Container{{Image: "g", Ports: []corev1.ContainerPort{{Name: "h2c", ContainerPort: 9000}}}}
	h2cRev.Spec.TimeoutSeconds = ptr[int64](30)
	revs["other/grpc-00001"] = h2cRev
	plain := &api.Revision{}
	plain.Spec.Containers = []corev1.Container{{Image: "p"}}
	plain.Spec.TimeoutSeconds = ptr[int64](0) // 0: the gateway's default
	revs["default/hello-00002"] = plain
	lookup := func(ns, name string) *api.Revision { return revs[ns+"/"+name] }

	got := RouteEntries([]api.Object{hello, grpc, noTraffic}, lookup)
	want := []gateway.RouteEntry{
		{Host: "stable-hello.default.localhost", Namespace: "default", Route: "hello", Tag: "stable",
			Targets: []gateway.Target{{Namespace: "default", Revision: "hello-00001", Percent: 100, Tag: "stable"}}},
		{Host: "canary-hello.default.localhost", Namespace: "default", Route: "hello", Tag: "canary",
			Targets: []gateway.Target{{Namespace: "default", Revision: "hello-00002", Percent: 100, Tag: "canary"}}},
		{Host: "hello.default.localhost", Namespace: "default", Route: "hello", Targets: []gateway.Target{
			{Namespace: "default", Revision: "hello-00001", Percent: 80},
			{Namespace: "default", Revision: "hello-00002", Percent: 20},
			{Namespace: "default", Revision: "hello-00003", Percent: 0},
			{Namespace: "default", Revision: "hello-00004", Percent: 0},
		}},
		{Host: "grpc.other.localhost", Namespace: "other", Route: "grpc", Targets: []gateway.Target{
			{Namespace: "other", Revision: "grpc-00001", Percent: 100, H2C: true, Timeout: 30 * time.Second},
		}},
	}
	if diff := cmp.Diff(want, got, ignoreTargetInternals); diff != "" {
		t.Errorf("RouteEntries (-want +got):\n%s", diff)
	}
	if _, err := gateway.NewTable(got); err != nil {
		t.Errorf("entries do not build a table: %v", err)
	}
	// A nil lookup is allowed: no h2c, no timeout.
	if e := RouteEntries([]api.Object{grpc}, nil); len(e) != 1 || e[0].Targets[0].H2C || e[0].Targets[0].Timeout != 0 {
		t.Errorf("nil lookup: %+v", e)
	}
	// A tag of an h2c revision keeps its protocol and timeout.
	tagged := routeObj("other", "grpc", t0, "http://grpc.other.localhost",
		api.TrafficTarget{RevisionName: "grpc-00001", Percent: ptr[int64](100), Tag: "t", URL: "http://t-grpc.other.localhost"})
	for _, e := range RouteEntries([]api.Object{tagged}, lookup) {
		if tg := e.Targets[0]; !tg.H2C || tg.Timeout != 30*time.Second {
			t.Errorf("%s target %+v, want h2c with a 30s timeout", e.Host, tg)
		}
	}
}

var ignoreTargetInternals = cmpopts.IgnoreUnexported(gateway.Target{})

func TestRouteEntriesOlderRouteKeepsContestedHost(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	older := routeObj("a", "first", t0, "http://shared.example.com",
		api.TrafficTarget{RevisionName: "first-1", Percent: ptr[int64](100)})
	newer := routeObj("b", "second", t0.Add(time.Hour), "http://shared.example.com",
		api.TrafficTarget{RevisionName: "second-1", Percent: ptr[int64](100), Tag: "x", URL: "http://x.example.com"})
	// A newer route's main host colliding with an older route's tag host.
	tagOwner := routeObj("c", "tags", t0.Add(-time.Hour), "http://tags.example.com",
		api.TrafficTarget{RevisionName: "tags-1", Percent: ptr[int64](100), Tag: "canary", URL: "http://canary-hello.example.com"})
	squatter := routeObj("c", "canary-hello", t0.Add(2*time.Hour), "http://canary-hello.example.com",
		api.TrafficTarget{RevisionName: "squat-1", Percent: ptr[int64](100)})

	for _, order := range [][]api.Object{{older, newer, tagOwner, squatter}, {squatter, newer, tagOwner, older}} {
		entries := RouteEntries(order, nil)
		byHost := map[string]gateway.RouteEntry{}
		for _, e := range entries {
			if _, dup := byHost[e.Host]; dup {
				t.Fatalf("host %s listed twice", e.Host)
			}
			byHost[e.Host] = e
		}
		if e := byHost["shared.example.com"]; e.Namespace != "a" || e.Route != "first" {
			t.Errorf("shared.example.com went to %s/%s, want the older route a/first", e.Namespace, e.Route)
		}
		if e := byHost["canary-hello.example.com"]; e.Route != "tags" || e.Tag != "canary" {
			t.Errorf("canary-hello.example.com went to route %q tag %q, want the older route's tag", e.Route, e.Tag)
		}
		// The newer route still gets the hosts nobody else claims.
		if e, ok := byHost["x.example.com"]; !ok || e.Route != "second" {
			t.Errorf("x.example.com = %+v, want route second", e)
		}
		if _, err := gateway.NewTable(entries); err != nil {
			t.Errorf("NewTable: %v", err)
		}
	}
}

func TestIsH2C(t *testing.T) {
	spec := func(ports ...corev1.ContainerPort) *api.RevisionSpec {
		s := &api.RevisionSpec{}
		s.Containers = []corev1.Container{{Image: "x", Ports: ports}}
		return s
	}
	if IsH2C(spec()) || IsH2C(spec(corev1.ContainerPort{Name: "http1", ContainerPort: 8080})) || IsH2C(&api.RevisionSpec{}) {
		t.Error("IsH2C true for a non-h2c spec")
	}
	if !IsH2C(spec(corev1.ContainerPort{Name: "h2c", ContainerPort: 8080})) {
		t.Error("IsH2C false for a port named h2c")
	}
}

// --- Apply ---

func newStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func decode(t *testing.T, yaml string) []api.Object {
	t.Helper()
	objs, err := api.Decode(strings.NewReader(yaml))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return objs
}

func serviceYAML(name, target string, extra string) string {
	return fmt.Sprintf(`apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: %s
spec:
  template:
    spec:
      containers:
        - image: gantry/sample-app
          env:
            - name: TARGET
              value: %s
%s`, name, target, extra)
}

func storedKeys(t *testing.T, st *store.Store) []string {
	t.Helper()
	var out []string
	for _, k := range api.Kinds {
		objs, err := st.List(k, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			out = append(out, k+" "+o.GetNamespace()+"/"+o.GetName())
		}
	}
	return out
}

func TestApply(t *testing.T) {
	st := newStore(t)
	cfg := api.DefaultConfig("localhost")

	res, err := Apply(st, cfg, decode(t, serviceYAML("hello", "World", "")+"---\n"+serviceYAML("bye", "World", "")))
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	want := []Applied{
		{Kind: api.KindService, Namespace: "default", Name: "hello", Result: store.Created},
		{Kind: api.KindService, Namespace: "default", Name: "bye", Result: store.Created},
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("first apply (-want +got):\n%s", diff)
	}

	// Defaults were applied before storing.
	o, err := st.Get(api.KindService, "default", "hello")
	if err != nil {
		t.Fatal(err)
	}
	svc := o.(*api.Service)
	if len(svc.Spec.Traffic) != 1 || svc.Spec.Traffic[0].Percent == nil || *svc.Spec.Traffic[0].Percent != 100 {
		t.Errorf("stored traffic not defaulted: %+v", svc.Spec.Traffic)
	}
	if svc.Spec.Template.Spec.TimeoutSeconds == nil || *svc.Spec.Template.Spec.TimeoutSeconds != 300 {
		t.Errorf("stored timeoutSeconds not defaulted: %v", svc.Spec.Template.Spec.TimeoutSeconds)
	}

	res, err = Apply(st, cfg, decode(t, serviceYAML("hello", "World", "")+"---\n"+serviceYAML("bye", "Moon", "")))
	if err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	if res[0].Result != store.Unchanged || res[1].Result != store.Updated {
		t.Errorf("second apply results = %+v, want unchanged, configured", res)
	}
}

func TestApplyRefusesWholeBatch(t *testing.T) {
	st := newStore(t)
	cfg := api.DefaultConfig("localhost")
	if _, err := Apply(st, cfg, decode(t, serviceYAML("existing", "World", ""))); err != nil {
		t.Fatal(err)
	}
	before := storedKeys(t, st)
	o, _ := st.Get(api.KindService, "default", "existing")
	rvBefore := o.GetResourceVersion()

	bad := serviceYAML("bad", "World", `  traffic:
    - latestRevision: true
      percent: 90
`)
	batch := serviceYAML("good", "World", "") + "---\n" + serviceYAML("existing", "Changed", "") + "---\n" + bad
	_, err := Apply(st, cfg, decode(t, batch))
	if err == nil {
		t.Fatal("Apply of a batch with an invalid object succeeded")
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("err = %v, want ErrInvalid", err)
	}
	if want := "Service default/bad: Traffic targets sum to 90, want 100: spec.traffic"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	if diff := cmp.Diff(before, storedKeys(t, st)); diff != "" {
		t.Errorf("store changed by a refused batch (-before +after):\n%s", diff)
	}
	o, _ = st.Get(api.KindService, "default", "existing")
	if o.GetResourceVersion() != rvBefore {
		t.Errorf("existing object rewritten by a refused batch")
	}
}

func TestApplyReportsEveryProblem(t *testing.T) {
	st := newStore(t)
	bad1 := serviceYAML("bad1", "World", "  traffic:\n    - latestRevision: true\n      percent: 90\n")
	bad2 := serviceYAML("bad2", "World", "  traffic:\n    - latestRevision: true\n      percent: 110\n")
	_, err := Apply(st, api.DefaultConfig("localhost"), decode(t, bad1+"---\n"+bad2))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"Service default/bad1:", "Service default/bad2:", "; "} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err %q does not contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("err %q spans several lines", err)
	}
}

func TestApplyEmpty(t *testing.T) {
	_, err := Apply(newStore(t), api.DefaultConfig(""), nil)
	if !errors.Is(err, ErrInvalid) || err.Error() != "no objects to apply" {
		t.Errorf("err = %v, want ErrInvalid \"no objects to apply\"", err)
	}
}

func TestApplyConfigMapsInBatchAffectValidation(t *testing.T) {
	long := `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: slow
spec:
  template:
    spec:
      timeoutSeconds: 900
      containers:
        - image: gantry/sample-app
`
	defaults := `apiVersion: v1
kind: ConfigMap
metadata:
  name: config-defaults
  namespace: knative-serving
data:
  max-revision-timeout-seconds: "1000"
`
	cfg := api.DefaultConfig("localhost")
	cfgBefore := *cfg

	t.Run("without the config map the service is refused", func(t *testing.T) {
		_, err := Apply(newStore(t), cfg, decode(t, long))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "timeoutSeconds") {
			t.Errorf("err = %v, want an invalid timeoutSeconds", err)
		}
	})
	for _, order := range []string{"config map first", "config map last"} {
		t.Run(order+": the config map in the batch allows it", func(t *testing.T) {
			st := newStore(t)
			batch := defaults + "---\n" + long
			if order == "config map last" {
				batch = long + "---\n" + defaults
			}
			res, err := Apply(st, cfg, decode(t, batch))
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if len(res) != 2 {
				t.Errorf("results = %+v", res)
			}
			if _, err := st.Get(api.KindConfigMap, api.ConfigNamespace, "config-defaults"); err != nil {
				t.Errorf("config map not stored: %v", err)
			}
		})
	}
	t.Run("an invalid config map refuses the batch", func(t *testing.T) {
		st := newStore(t)
		badCM := strings.Replace(defaults, `"1000"`, `"lots"`, 1)
		_, err := Apply(st, cfg, decode(t, badCM+"---\n"+serviceYAML("ok", "World", "")))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "config-defaults") {
			t.Errorf("err = %v, want ErrInvalid naming config-defaults", err)
		}
		if keys := storedKeys(t, st); len(keys) != 0 {
			t.Errorf("stored %v after a refused batch", keys)
		}
	})
	if diff := cmp.Diff(cfgBefore.Defaults, cfg.Defaults); diff != "" {
		t.Errorf("Apply changed the caller's config (-before +after):\n%s", diff)
	}
}

func TestApplyStaleResourceVersionIsInvalid(t *testing.T) {
	st := newStore(t)
	cfg := api.DefaultConfig("localhost")
	if _, err := Apply(st, cfg, decode(t, serviceYAML("hello", "A", ""))); err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(st, cfg, decode(t, serviceYAML("hello", "B", ""))); err != nil {
		t.Fatal(err)
	}
	stale := decode(t, serviceYAML("hello", "C", ""))
	stale[0].SetResourceVersion("1")
	_, err := Apply(st, cfg, stale)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "conflict") {
		t.Errorf("err = %v, want ErrInvalid conflict", err)
	}
}

// --- controller passes with a fake runtime and router ---

type fakeRuntime struct {
	mu      sync.Mutex
	scale   map[string]int  // ns/rev -> instances asked for
	failing map[string]bool // ns/rev -> instances crash
	retains int
	changes chan struct{}
}

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{scale: map[string]int{}, failing: map[string]bool{}, changes: make(chan struct{})}
}

func (f *fakeRuntime) Ensure(rev *api.Revision, scale int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scale[rev.Namespace+"/"+rev.Name] = scale
	return nil
}

func (f *fakeRuntime) Observe(ns, rev string) reconcile.Observed {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := ns + "/" + rev
	n := f.scale[k]
	if f.failing[k] {
		return reconcile.Observed{Desired: n, Failed: true, Reason: "ExitCode1", Message: "exit status 1"}
	}
	return reconcile.Observed{Desired: n, Ready: n, LogURL: "file:///logs/" + k}
}

func (f *fakeRuntime) Retain(keep map[string]bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.retains++
	for k := range f.scale {
		if !keep[k] {
			delete(f.scale, k)
		}
	}
}

func (f *fakeRuntime) Endpoints() gateway.Endpoints {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := gateway.Endpoints{}
	for k, n := range f.scale {
		for i := range n {
			e[k] = append(e[k], gateway.Endpoint{HTTP: fmt.Sprintf("127.0.0.1:%d", 10000+i)})
		}
	}
	return e
}

func (f *fakeRuntime) Changes() <-chan struct{} { return f.changes }

func (f *fakeRuntime) running() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.scale)
}

type fakeRouter struct {
	mu        sync.Mutex
	table     *gateway.Table
	endpoints gateway.Endpoints
	certs     map[string]*tls.Certificate
}

func (r *fakeRouter) SetCertificates(c map[string]*tls.Certificate) {
	r.mu.Lock()
	r.certs = c
	r.mu.Unlock()
}

func (r *fakeRouter) SetTable(t *gateway.Table) { r.mu.Lock(); r.table = t; r.mu.Unlock() }
func (r *fakeRouter) SetEndpoints(e gateway.Endpoints) {
	r.mu.Lock()
	r.endpoints = e
	r.mu.Unlock()
}

type harness struct {
	t      *testing.T
	st     *store.Store
	rt     *fakeRuntime
	router *fakeRouter
	ctl    *Controller
}

func newHarness(t *testing.T) *harness {
	st := newStore(t)
	h := &harness{t: t, st: st, rt: newFakeRuntime(), router: &fakeRouter{}}
	h.ctl = New(Options{Store: st, Runtime: h.rt, Router: h.router, Domain: "localhost", GatewayPort: 8080,
		Registry: prometheus.NewRegistry()})
	return h
}

func (h *harness) apply(yaml string) {
	h.t.Helper()
	if _, err := Apply(h.st, h.ctl.Config(), decode(h.t, yaml)); err != nil {
		h.t.Fatalf("Apply: %v", err)
	}
}

func (h *harness) passes(n int) {
	h.t.Helper()
	for range n {
		if err := h.ctl.Reconcile(context.Background()); err != nil {
			h.t.Fatalf("Reconcile: %v", err)
		}
	}
}

func (h *harness) get(kind, name string) api.Object {
	h.t.Helper()
	o, err := h.st.Get(kind, "default", name)
	if err != nil {
		h.t.Fatalf("Get %s %s: %v", kind, name, err)
	}
	return o
}

func (h *harness) names(kind string) []string {
	h.t.Helper()
	objs, err := h.st.List(kind, "")
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, o.GetName())
	}
	return out
}

func TestControllerServiceLifecycle(t *testing.T) {
	h := newHarness(t)
	h.apply(serviceYAML("hello", "World", ""))
	h.passes(4)

	if diff := cmp.Diff([]string{"hello"}, h.names(api.KindConfiguration)); diff != "" {
		t.Errorf("configurations (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"hello-00001"}, h.names(api.KindRevision)); diff != "" {
		t.Errorf("revisions (-want +got):\n%s", diff)
	}
	cfg := h.get(api.KindConfiguration, "hello").(*api.Configuration)
	if cfg.Status.LatestCreatedRevisionName != "hello-00001" || cfg.Status.LatestReadyRevisionName != "hello-00001" {
		t.Errorf("configuration status = %+v", cfg.Status.ConfigurationStatusFields)
	}
	if owner := metav1.GetControllerOf(cfg); owner == nil || owner.Kind != api.KindService || owner.Name != "hello" {
		t.Errorf("configuration controller = %+v, want the Service", owner)
	}
	rev := h.get(api.KindRevision, "hello-00001").(*api.Revision)
	if !reconcile.IsTrue(rev.Status.Conditions, api.ConditionReady) {
		t.Errorf("revision not ready: %+v", rev.Status.Conditions)
	}
	if rev.Labels[api.LabelRoutingState] != api.RoutingStateActive || rev.Labels[api.LabelService] != "hello" {
		t.Errorf("revision labels = %v", rev.Labels)
	}
	if owner := metav1.GetControllerOf(rev); owner == nil || owner.Kind != api.KindConfiguration || owner.UID != cfg.UID {
		t.Errorf("revision controller = %+v, want the Configuration %s", owner, cfg.UID)
	}

	route := h.get(api.KindRoute, "hello").(*api.Route)
	wantTraffic := []api.TrafficTarget{{RevisionName: "hello-00001", LatestRevision: ptr(true), Percent: ptr[int64](100)}}
	if diff := cmp.Diff(wantTraffic, route.Status.Traffic); diff != "" {
		t.Errorf("route traffic (-want +got):\n%s", diff)
	}
	if route.Status.URL != "http://hello.default.localhost:8080" {
		t.Errorf("route url = %q", route.Status.URL)
	}

	svc := h.get(api.KindService, "hello").(*api.Service)
	for _, c := range []api.ConditionType{api.ConditionReady, api.ConditionConfigurationsReady, api.ConditionRoutesReady} {
		if !reconcile.IsTrue(svc.Status.Conditions, c) {
			t.Errorf("service %s not True: %+v", c, svc.Status.Conditions)
		}
	}
	if svc.Status.URL != "http://hello.default.localhost:8080" || svc.Status.LatestReadyRevisionName != "hello-00001" {
		t.Errorf("service status url %q latestReady %q", svc.Status.URL, svc.Status.LatestReadyRevisionName)
	}
	if svc.Status.ObservedGeneration != svc.Generation {
		t.Errorf("service observedGeneration %d, generation %d", svc.Status.ObservedGeneration, svc.Generation)
	}

	h.router.mu.Lock()
	table, eps := h.router.table, h.router.endpoints
	h.router.mu.Unlock()
	if table == nil {
		t.Fatal("router never got a table")
	}
	e, ok := table.Lookup("hello.default.localhost")
	if !ok {
		t.Fatal("gateway table has no host hello.default.localhost")
	}
	if diff := cmp.Diff([]gateway.Target{{Namespace: "default", Revision: "hello-00001", Percent: 100, Timeout: 300 * time.Second}}, e.Targets, ignoreTargetInternals); diff != "" {
		t.Errorf("gateway targets (-want +got):\n%s", diff)
	}
	if len(eps[gateway.EndpointKey("default", "hello-00001")]) != 1 {
		t.Errorf("router endpoints = %v", eps)
	}
	if diff := cmp.Diff(map[string]int{"default/hello-00001": 1}, h.rt.running()); diff != "" {
		t.Errorf("running instances (-want +got):\n%s", diff)
	}

	// A settled system stays put: another pass writes nothing.
	events := make(chan store.Event, 100)
	h.st.Watch(events)
	h.passes(1)
	if len(events) != 0 {
		t.Errorf("a pass over a settled system wrote %d changes, first %+v", len(events), <-events)
	}

	// Template change: a new revision takes the traffic, the old one scales to zero.
	h.apply(serviceYAML("hello", "Moon", ""))
	h.passes(4)
	if diff := cmp.Diff([]string{"hello-00001", "hello-00002"}, h.names(api.KindRevision)); diff != "" {
		t.Errorf("revisions after a template change (-want +got):\n%s", diff)
	}
	route = h.get(api.KindRoute, "hello").(*api.Route)
	wantTraffic = []api.TrafficTarget{{RevisionName: "hello-00002", LatestRevision: ptr(true), Percent: ptr[int64](100)}}
	if diff := cmp.Diff(wantTraffic, route.Status.Traffic); diff != "" {
		t.Errorf("route traffic after a template change (-want +got):\n%s", diff)
	}
	newRev := h.get(api.KindRevision, "hello-00002").(*api.Revision)
	if got := newRev.Spec.Containers[0].Env; len(got) != 1 || got[0].Value != "Moon" {
		t.Errorf("new revision env = %+v", got)
	}
	oldRev := h.get(api.KindRevision, "hello-00001").(*api.Revision)
	if oldRev.Labels[api.LabelRoutingState] != api.RoutingStateReserve {
		t.Errorf("old revision routingState = %q, want reserve", oldRev.Labels[api.LabelRoutingState])
	}
	if !reconcile.IsTrue(oldRev.Status.Conditions, api.ConditionReady) || !reconcile.IsFalse(oldRev.Status.Conditions, api.ConditionActive) {
		t.Errorf("old revision conditions = %+v, want Ready True and Active False", oldRev.Status.Conditions)
	}
	if diff := cmp.Diff(map[string]int{"default/hello-00002": 1}, h.rt.running()); diff != "" {
		t.Errorf("running instances after the change (-want +got):\n%s", diff)
	}
	svc = h.get(api.KindService, "hello").(*api.Service)
	if !reconcile.IsTrue(svc.Status.Conditions, api.ConditionReady) || svc.Status.LatestReadyRevisionName != "hello-00002" {
		t.Errorf("service after the change: latestReady %q conditions %+v", svc.Status.LatestReadyRevisionName, svc.Status.Conditions)
	}
	h.router.mu.Lock()
	e, _ = h.router.table.Lookup("hello.default.localhost")
	h.router.mu.Unlock()
	if e == nil || len(e.Targets) != 1 || e.Targets[0].Revision != "hello-00002" {
		t.Errorf("gateway entry after the change = %+v", e)
	}

	// Deleting the Service collects everything it owned.
	if err := h.st.Delete(api.KindService, "default", "hello"); err != nil {
		t.Fatal(err)
	}
	h.passes(3)
	for _, k := range []string{api.KindConfiguration, api.KindRoute, api.KindRevision} {
		if got := h.names(k); len(got) != 0 {
			t.Errorf("%s left after deleting the service: %v", k, got)
		}
	}
	if got := h.rt.running(); len(got) != 0 {
		t.Errorf("instances still running after delete: %v", got)
	}
	h.router.mu.Lock()
	n := h.router.table.Len()
	h.router.mu.Unlock()
	if n != 0 {
		t.Errorf("gateway table still has %d hosts", n)
	}
}

func TestControllerTagsAndSplit(t *testing.T) {
	h := newHarness(t)
	h.apply(serviceYAML("hello", "One", ""))
	h.passes(4)
	h.apply(serviceYAML("hello", "Two", `  traffic:
    - revisionName: hello-00001
      percent: 80
      tag: stable
    - latestRevision: true
      percent: 20
      tag: canary
`))
	h.passes(5)
	route := h.get(api.KindRoute, "hello").(*api.Route)
	want := []api.TrafficTarget{
		{Tag: "stable", RevisionName: "hello-00001", LatestRevision: ptr(false), Percent: ptr[int64](80), URL: "http://stable-hello.default.localhost:8080"},
		{Tag: "canary", RevisionName: "hello-00002", LatestRevision: ptr(true), Percent: ptr[int64](20), URL: "http://canary-hello.default.localhost:8080"},
	}
	if diff := cmp.Diff(want, route.Status.Traffic); diff != "" {
		t.Errorf("route traffic (-want +got):\n%s", diff)
	}
	h.router.mu.Lock()
	table := h.router.table
	h.router.mu.Unlock()
	for host, rev := range map[string]string{"stable-hello.default.localhost": "hello-00001", "canary-hello.default.localhost": "hello-00002"} {
		e, ok := table.Lookup(host)
		if !ok || len(e.Targets) != 1 || e.Targets[0].Revision != rev {
			t.Errorf("%s -> %+v, want %s", host, e, rev)
		}
	}
	if diff := cmp.Diff(map[string]int{"default/hello-00001": 1, "default/hello-00002": 1}, h.rt.running()); diff != "" {
		t.Errorf("running (-want +got):\n%s", diff)
	}
}

func TestControllerFailingRevision(t *testing.T) {
	h := newHarness(t)
	h.apply(serviceYAML("hello", "One", ""))
	h.passes(4)
	h.rt.failing["default/hello-00002"] = true
	h.apply(serviceYAML("hello", "Two", ""))
	h.passes(4)

	cfg := h.get(api.KindConfiguration, "hello").(*api.Configuration)
	c := reconcile.GetCondition(cfg.Status.Conditions, api.ConditionReady)
	if c == nil || c.Status != corev1.ConditionFalse || c.Reason != "RevisionFailed" ||
		c.Message != `Revision "hello-00002" failed with message: exit status 1.` {
		t.Errorf("configuration Ready = %+v", c)
	}
	// Traffic stays on the last ready revision.
	route := h.get(api.KindRoute, "hello").(*api.Route)
	if len(route.Status.Traffic) != 1 || route.Status.Traffic[0].RevisionName != "hello-00001" {
		t.Errorf("route traffic = %+v, want hello-00001 kept", route.Status.Traffic)
	}
	svc := h.get(api.KindService, "hello").(*api.Service)
	c = reconcile.GetCondition(svc.Status.Conditions, api.ConditionReady)
	if c == nil || c.Status != corev1.ConditionFalse || c.Reason != "RevisionFailed" {
		t.Errorf("service Ready = %+v, want False RevisionFailed", c)
	}
}

func TestControllerStandaloneConfigurationAndRoute(t *testing.T) {
	h := newHarness(t)
	h.apply(`apiVersion: serving.knative.dev/v1
kind: Configuration
metadata:
  name: cfg
spec:
  template:
    spec:
      containers:
        - image: gantry/sample-app
---
apiVersion: serving.knative.dev/v1
kind: Route
metadata:
  name: rt
spec:
  traffic:
    - configurationName: cfg
      percent: 100
`)
	h.passes(4)
	route := h.get(api.KindRoute, "rt").(*api.Route)
	if len(route.Status.Traffic) != 1 || route.Status.Traffic[0].RevisionName != "cfg-00001" {
		t.Errorf("route traffic = %+v", route.Status.Traffic)
	}
	if !reconcile.IsTrue(route.Status.Conditions, api.ConditionReady) {
		t.Errorf("route conditions = %+v", route.Status.Conditions)
	}
	// Objects with no owner are never garbage-collected.
	if got := h.names(api.KindConfiguration); !slices.Equal(got, []string{"cfg"}) {
		t.Errorf("configurations = %v", got)
	}
}

func TestControllerConfigReadsConfigMaps(t *testing.T) {
	h := newHarness(t)
	h.apply(`apiVersion: v1
kind: ConfigMap
metadata:
  name: config-domain
  namespace: knative-serving
data:
  example.com: ""
`)
	if got := h.ctl.Config().DomainFor("r", "default", nil); got != "example.com" {
		t.Errorf("domain = %q, want example.com from config-domain", got)
	}
	h.apply(serviceYAML("hello", "World", ""))
	h.passes(4)
	route := h.get(api.KindRoute, "hello").(*api.Route)
	if route.Status.URL != "http://hello.default.example.com:8080" {
		t.Errorf("url = %q", route.Status.URL)
	}
}

func TestControllerRunStopsOnCancel(t *testing.T) {
	h := newHarness(t)
	h.apply(serviceYAML("hello", "World", ""))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.ctl.Run(ctx) }()
	// Run reconciles on start and on every store event; wait for the revision.
	deadline := time.After(30 * time.Second)
	for {
		if objs, _ := h.st.List(api.KindRevision, ""); len(objs) > 0 {
			break
		}
		select {
		case <-deadline:
			t.Fatal("Run created no revision")
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
