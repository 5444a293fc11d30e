package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/dashboards"
	"github.com/gantry-dev/gantry/metrics"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// testNow is the pages' clock in these tests.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeQuerier answers range queries by their rendered PromQL; anything else
// gets an empty matrix.
type fakeQuerier struct {
	mu     sync.Mutex
	byExpr map[string][]fakeSeries
	err    error
	exprs  []string
}

type fakeSeries struct {
	labels map[string]string
	value  float64
	// from is the first step index with data (older points are gaps).
	from int
}

func newFakeQuerier() *fakeQuerier { return &fakeQuerier{byExpr: map[string][]fakeSeries{}} }

// set gives q, rendered with sel and window, these series.
func (f *fakeQuerier) set(t testing.TB, q dashboards.Query, sel dashboards.Selector, window string, ss ...fakeSeries) {
	t.Helper()
	expr, err := q.Render(dashboards.RenderOptions{Selector: sel, Window: window})
	if err != nil {
		t.Fatal(err)
	}
	f.byExpr[expr] = append(f.byExpr[expr], ss...)
}

func (f *fakeQuerier) Query(context.Context, string, time.Time) (model.Value, error) {
	return model.Vector{}, nil
}

func (f *fakeQuerier) QueryRange(_ context.Context, expr string, start, end time.Time, step time.Duration) (model.Value, error) {
	f.mu.Lock()
	f.exprs = append(f.exprs, expr)
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	out := model.Matrix{}
	for _, s := range f.byExpr[expr] {
		m := model.Metric{}
		for k, v := range s.labels {
			m[model.LabelName(k)] = model.LabelValue(v)
		}
		ss := &model.SampleStream{Metric: m}
		i := 0
		for ts := start; !ts.After(end); ts = ts.Add(step) {
			if i >= s.from {
				ss.Values = append(ss.Values, model.SamplePair{Timestamp: model.TimeFromUnixNano(ts.UnixNano()), Value: model.SampleValue(s.value)})
			}
			i++
		}
		out = append(out, ss)
	}
	return out, nil
}

var _ metrics.Querier = (*fakeQuerier)(nil)

func rev(ns, svc, rev string) map[string]string {
	return map[string]string{"namespace_name": ns, "service_name": svc, "revision_name": rev}
}

func withLabel(m map[string]string, k, v string) map[string]string {
	out := map[string]string{}
	for kk, vv := range m {
		out[kk] = vv
	}
	out[k] = v
	return out
}

// helloMetrics fills the overview queries for default/hello: hello-00001
// serves 8 req/s with no errors, hello-00002 2 req/s with half 5xx.
func helloMetrics(t testing.TB, f *fakeQuerier) {
	r1, r2 := rev("default", "hello", "hello-00001"), rev("default", "hello", "hello-00002")
	all := dashboards.Selector{}
	w := defaultRange.Window
	f.set(t, dashboards.RequestVolumeByRevision, all, w, fakeSeries{labels: r1, value: 8}, fakeSeries{labels: r2, value: 2})
	f.set(t, dashboards.ErrorRatio5xxByRevision, all, w, fakeSeries{labels: r1, value: 0}, fakeSeries{labels: r2, value: 0.5})
	f.set(t, dashboards.LatencyP50ByRevision, all, w, fakeSeries{labels: r1, value: 10}, fakeSeries{labels: r2, value: 20})
	f.set(t, dashboards.LatencyP95ByRevision, all, w, fakeSeries{labels: r1, value: 50}, fakeSeries{labels: r2, value: 80})
	f.set(t, dashboards.LatencyP99ByRevision, all, w, fakeSeries{labels: r1, value: 100}, fakeSeries{labels: r2, value: 300})
	f.set(t, dashboards.ActualPods, all, w, fakeSeries{labels: r1, value: 1}, fakeSeries{labels: r2, value: 1})
	f.set(t, dashboards.DesiredPods, all, w, fakeSeries{labels: r1, value: 1}, fakeSeries{labels: r2, value: 2})
	f.set(t, dashboards.CPUMillisecondsPerRequest, all, w, fakeSeries{labels: r1, value: 2}, fakeSeries{labels: r2, value: 4})
	f.set(t, dashboards.CostPerMillionRequests, all, w, fakeSeries{labels: r1, value: 0.05}, fakeSeries{labels: r2, value: 0.1})
}

// putService stores a ready service with its route and revisions.
func putService(t testing.TB, f *fixture, ns, name string, revs ...string) {
	t.Helper()
	svc := &api.Service{}
	svc.SetGroupVersionKind(api.GroupVersionKind(api.KindService))
	svc.Namespace, svc.Name = ns, name
	route := &api.Route{}
	route.SetGroupVersionKind(api.GroupVersionKind(api.KindRoute))
	route.Namespace, route.Name = ns, name
	objs := []api.Object{svc, route}
	var revObjs []*api.Revision
	for i, r := range revs {
		ro := &api.Revision{}
		ro.SetGroupVersionKind(api.GroupVersionKind(api.KindRevision))
		ro.Namespace, ro.Name = ns, r
		ro.Labels = map[string]string{api.LabelService: name, api.LabelConfiguration: name, api.LabelConfigurationGen: fmt.Sprint(i + 1)}
		ro.Annotations = map[string]string{"autoscaling.knative.dev/target": "10"}
		ro.CreationTimestamp = metav1.NewTime(testNow.Add(-time.Duration(len(revs)-i) * time.Hour))
		ro.Spec.Containers = []corev1.Container{{Image: "gantry/sample-app", Env: []corev1.EnvVar{{Name: "TARGET", Value: "secret-ish"}}}}
		objs = append(objs, ro)
		revObjs = append(revObjs, ro)
	}
	if _, err := f.st.Put(objs...); err != nil {
		t.Fatal(err)
	}
	svc.Status.URL = "http://" + name + "." + ns + ".localhost:8080"
	svc.Status.Conditions = []api.Condition{{Type: api.ConditionReady, Status: corev1.ConditionTrue}}
	if len(revs) > 0 {
		svc.Status.LatestReadyRevisionName = revs[len(revs)-1]
	}
	if err := f.st.UpdateStatus(svc); err != nil {
		t.Fatal(err)
	}
	pct := func(n int64) *int64 { return &n }
	for i, r := range revs {
		p := int64(100)
		if len(revs) == 2 {
			p = []int64{80, 20}[i]
		}
		route.Status.Traffic = append(route.Status.Traffic, api.TrafficTarget{RevisionName: r, Percent: pct(p)})
	}
	if err := f.st.UpdateStatus(route); err != nil {
		t.Fatal(err)
	}
	for _, ro := range revObjs {
		ro.Status.Conditions = []api.Condition{{Type: api.ConditionReady, Status: corev1.ConditionTrue}}
		if err := f.st.UpdateStatus(ro); err != nil {
			t.Fatal(err)
		}
	}
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	return v
}

func near(got *float64, want float64) bool {
	return got != nil && math.Abs(*got-want) < 1e-9*math.Max(1, math.Abs(want))
}

var helloAlerts = []metrics.Alert{{Name: dashboards.AlertHigh5xxRatio, State: "firing", Value: 0.5, Expr: "revision:revision_request_5xx:ratio_rate5m > 0.05",
	Labels:      map[string]string{"alertname": dashboards.AlertHigh5xxRatio, "namespace_name": "default", "service_name": "hello", "revision_name": "hello-00002", "severity": "warning"},
	Annotations: map[string]string{"summary": "default/hello-00002 answers 50% of requests with 5xx"}, ActiveAt: testNow.Add(-10 * time.Minute)}}

func uiFixture(t *testing.T, q *fakeQuerier, mod func(*Options)) *fixture {
	return newFixture(t, func(o *Options) {
		if q != nil {
			o.Querier = q
		}
		o.Now = func() time.Time { return testNow }
		if mod != nil {
			mod(o)
		}
	})
}

func TestServicesAPI(t *testing.T) {
	q := newFakeQuerier()
	helloMetrics(t, q)
	f := uiFixture(t, q, func(o *Options) { o.Alerts = func() []metrics.Alert { return helloAlerts } })
	putService(t, f, "default", "hello", "hello-00001", "hello-00002")
	putService(t, f, "shop", "bye", "bye-00001")

	got := decode[ServicesResponse](t, f.do(http.MethodGet, "/api/ui/services?sort=rate&dir=desc", ""))
	if got.Total != 2 || len(got.Services) != 2 || got.Services[0].Name != "hello" || got.Services[1].Name != "bye" {
		t.Fatalf("services = %+v", got.Services)
	}
	if got.Range != "5m" || got.StepSeconds != 5 || !got.End.Equal(testNow) || got.FiringCount != 1 {
		t.Errorf("range %s step %v end %v firing %d", got.Range, got.StepSeconds, got.End, got.FiringCount)
	}
	h := got.Services[0]
	for _, c := range []struct {
		name string
		m    Metric
		want float64
	}{
		{"request rate", h.RequestRate, 10},
		{"5xx rate", h.ErrorRate5xx, 1},
		{"success rate", h.SuccessRate, 0.9},
		{"p50 (slowest revision)", h.LatencyP50, 20},
		{"p95", h.LatencyP95, 80},
		{"p99", h.LatencyP99, 300},
		{"actual instances", h.ActualInstances, 2},
		{"desired instances", h.DesiredInstances, 3},
		{"CPU ms per request (weighted)", h.CPUMsPerRequest, (8*2 + 2*4) / 10.0},
		{"cost per million (weighted)", h.CostPerMillion, (8*0.05 + 2*0.1) / 10},
	} {
		if !near(c.m.Value, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.m.Value, c.want)
		}
		if len(c.m.Series) != 61 {
			t.Errorf("%s sparkline has %d points, want 61 (5 minutes, one per 5 s)", c.name, len(c.m.Series))
		}
	}
	if h.Ready != "True" || h.URL != "http://hello.default.localhost:8080" || len(h.Alerts) != 1 || h.Alerts[0].Revision != "hello-00002" {
		t.Errorf("hello = %+v", h)
	}
	if b := got.Services[1]; b.RequestRate.Value != nil || b.SuccessRate.Value != nil || len(b.Alerts) != 0 {
		t.Errorf("bye has no metrics, got %+v", b)
	}

	// The filter matches namespace, name and URL; the default sort is by name.
	got = decode[ServicesResponse](t, f.do(http.MethodGet, "/api/ui/services?q=SHOP", ""))
	if len(got.Services) != 1 || got.Services[0].Name != "bye" || got.Total != 2 {
		t.Errorf("filtered = %+v", got.Services)
	}
	got = decode[ServicesResponse](t, f.do(http.MethodGet, "/api/ui/services", ""))
	if got.Services[0].Name != "bye" || got.Sort != "name" {
		t.Errorf("default order = %s, %s", got.Services[0].Name, got.Sort)
	}
	// No data sorts last in both directions.
	got = decode[ServicesResponse](t, f.do(http.MethodGet, "/api/ui/services?sort=p99&dir=asc", ""))
	if got.Services[0].Name != "hello" {
		t.Errorf("ascending p99: %s first, want hello (bye has no data)", got.Services[0].Name)
	}

	for _, bad := range []struct{ path, want string }{
		{"/api/ui/services?sort=height", `sort "height": want one of`},
		{"/api/ui/services?dir=up", `dir "up": want asc or desc`},
		{"/?sort=height", `sort "height"`},
	} {
		rec := f.do(http.MethodGet, bad.path, "")
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad.path, rec.Code)
		}
		if msg := errorOf(t, rec); !strings.Contains(msg, bad.want) {
			t.Errorf("%s: error %q, want %q", bad.path, msg, bad.want)
		}
	}
}

func TestServicesPage(t *testing.T) {
	q := newFakeQuerier()
	helloMetrics(t, q)
	f := uiFixture(t, q, func(o *Options) { o.Alerts = func() []metrics.Alert { return helloAlerts } })
	putService(t, f, "default", "hello", "hello-00001", "hello-00002")
	rec := f.do(http.MethodGet, "/?sort=p99&dir=desc", "")
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("services page: %d %s", rec.Code, body)
	}
	for _, want := range []string{
		`<a href="/services/default/hello">hello</a>`,
		`<span class="v">10</span>`,     // requests/s
		`<span class="v">90.0%</span>`,  // success
		`<span class="v">300 ms</span>`, // p99
		`<span class="v">2.4 ms</span>`,
		`<span class="v">2 / 3</span>`,
		`<svg class="spark"`,
		`class="alerting"`, `firing: GantryRevisionHigh5xxRatio (hello-00002)`,
		`aria-sort="descending"`, `<label for="q">`, `<label for="refresh">`,
		`<span class="badge firing">1 firing</span>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("services page lacks %q", want)
		}
	}
}

func TestPagesWithoutMetrics(t *testing.T) {
	f := uiFixture(t, nil, nil)
	putService(t, f, "default", "hello", "hello-00001")
	for _, p := range []string{"/", "/services/default/hello", "/revisions/default/hello-00001", "/alerts", "/downloads"} {
		rec := f.do(http.MethodGet, p, "")
		if rec.Code != http.StatusOK {
			t.Errorf("%s without a querier: %d %s", p, rec.Code, rec.Body)
		}
		if strings.Contains(rec.Body.String(), "could not be read") {
			t.Errorf("%s warns without a querier", p)
		}
	}
	if body := f.do(http.MethodGet, "/", "").Body.String(); !strings.Contains(body, "no data") {
		t.Error("services page without metrics does not say no data")
	}
	if body := f.do(http.MethodGet, "/alerts", "").Body.String(); !strings.Contains(body, "No rules are evaluated") {
		t.Error("alerts page without an engine does not say so")
	}
}

func TestQueryErrorsAreShown(t *testing.T) {
	q := newFakeQuerier()
	q.err = errors.New("engine on fire")
	f := uiFixture(t, q, nil)
	putService(t, f, "default", "hello", "hello-00001")
	got := decode[ServicesResponse](t, f.do(http.MethodGet, "/api/ui/services", ""))
	if len(got.Warnings) != len(overviewQueries) || !strings.Contains(got.Warnings[0], "engine on fire") {
		t.Errorf("warnings = %q", got.Warnings)
	}
	if body := f.do(http.MethodGet, "/services/default/hello", "").Body.String(); !strings.Contains(body, "engine on fire") {
		t.Error("service page hides the query error")
	}
}

func TestServiceDetail(t *testing.T) {
	q := newFakeQuerier()
	sel := dashboards.Selector{Namespace: "default", Service: "hello"}
	r1, r2 := rev("default", "hello", "hello-00001"), rev("default", "hello", "hello-00002")
	q.set(t, dashboards.RequestVolumeByCodeClass, sel, "2m", fakeSeries{labels: map[string]string{"response_code_class": "2xx"}, value: 9},
		fakeSeries{labels: map[string]string{"response_code_class": "5xx"}, value: 1})
	q.set(t, dashboards.LatencyP99ByRevision, sel, "2m", fakeSeries{labels: r1, value: 100}, fakeSeries{labels: r2, value: 300})
	q.set(t, dashboards.DesiredPods, sel, "2m", fakeSeries{labels: r1, value: 3})
	q.set(t, dashboards.ActualPods, sel, "2m", fakeSeries{labels: r1, value: 1})
	q.set(t, dashboards.PanicMode, sel, "2m", fakeSeries{labels: r1, value: 1, from: 100})
	// Cold starts have no service_name: another service's revision must not show.
	q.set(t, dashboards.ColdStartRate, sel, "2m", fakeSeries{labels: map[string]string{"namespace_name": "default", "revision_name": "hello-00002"}, value: 2},
		fakeSeries{labels: map[string]string{"namespace_name": "default", "revision_name": "other-00001"}, value: 5})
	f := uiFixture(t, q, func(o *Options) {
		o.Alerts = func() []metrics.Alert { return helloAlerts }
		o.Requests = func(string, string) (map[string]uint64, time.Duration) {
			return map[string]uint64{"hello-00001": 75, "hello-00002": 25}, time.Minute
		}
		o.RecentErrors = func(ns, svc string, limit int) []RequestError {
			return []RequestError{{Time: testNow, Revision: "hello-00002", Status: 500, Method: "GET", Path: "/checkout", LatencyMs: 12, TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"}}
		}
	})
	putService(t, f, "default", "hello", "hello-00001", "hello-00002")

	got := decode[ServiceDetail](t, f.do(http.MethodGet, "/api/ui/services/default/hello?range=1h", ""))
	if got.Range != "1h" || got.StepSeconds != 30 || got.Ready != "True" || len(got.Alerts) != 1 {
		t.Errorf("detail = %+v", got)
	}
	charts := map[string]Chart{}
	for _, c := range got.Charts {
		charts[c.ID] = c
	}
	for _, id := range []string{"requests", "latency", "pods", "concurrency", "coldstarts", "cpu", "memory", "cost"} {
		if _, ok := charts[id]; !ok {
			t.Errorf("no %s chart", id)
		}
	}
	if s := charts["requests"].Series; len(s) != 2 || s[0].Name != "2xx" || s[1].Name != "5xx" || len(s[0].Values) != 121 {
		t.Errorf("requests chart = %+v", s)
	}
	if s := charts["latency"].Series; len(s) != 2 || s[0].Name != "hello-00001 p99" {
		t.Errorf("latency chart series = %+v", s)
	}
	if s := charts["coldstarts"].Series; len(s) != 1 || s[0].Name != "hello-00002" {
		t.Errorf("cold starts chart keeps only the service's revisions: %+v", s)
	}
	pods := charts["pods"]
	if len(pods.Series) != 2 || len(pods.Shaded) != 1 || pods.ShadeLabel != "panic mode" {
		t.Errorf("pods chart = %+v", pods)
	} else if sp := pods.Shaded[0]; !sp.To.Equal(testNow) || !sp.From.Equal(testNow.Add(-10*time.Minute-15*time.Second)) {
		t.Errorf("panic span = %v..%v", sp.From, sp.To)
	}
	if got.Traffic == nil || len(got.Traffic.Targets) != 2 || got.Traffic.Targets[0].ObservedShare != 75 {
		t.Errorf("traffic = %+v", got.Traffic)
	}
	if len(got.Revisions) != 2 || got.Revisions[0].Name != "hello-00002" || got.Revisions[0].TrafficPercent != 20 ||
		got.Revisions[1].Age != "2h" || got.Revisions[0].Autoscaling["autoscaling.knative.dev/target"] != "10" ||
		strings.Join(got.Revisions[0].Env, ",") != "TARGET" {
		t.Errorf("revisions = %+v", got.Revisions)
	}
	if len(got.RecentErrors) != 1 || got.RecentErrors[0].Path != "/checkout" {
		t.Errorf("recent errors = %+v", got.RecentErrors)
	}
	if strings.Contains(f.do(http.MethodGet, "/api/ui/services/default/hello", "").Body.String(), "secret-ish") {
		t.Error("an env value leaks into the service's JSON")
	}

	rec := f.do(http.MethodGet, "/services/default/hello?range=1h", "")
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("service page: %d %s", rec.Code, body)
	}
	for _, want := range []string{`<svg class="chart"`, `<rect class="shade"`, `aria-current="true" class="on">1h</a>`,
		"hello-00001 p99", "<code>GET /checkout</code>", `<a href="/traces/4bf92f3577b34da6a3ce929d0e0e4736">`, `href="/revisions/default/hello-00002"`,
		"Requests by response code class", "Concurrency per pod vs target", "Cold starts", "CPU per request", "Memory per concurrent request"} {
		if !strings.Contains(body, want) {
			t.Errorf("service page lacks %q", want)
		}
	}

	for _, bad := range []struct {
		path string
		code int
		want string
	}{
		{"/api/ui/services/default/nope", 404, "not found"},
		{"/api/ui/services/default/hello?range=7m", 400, `range "7m": want one of 5m, 15m, 1h, 6h, 24h`},
		{"/services/default/nope", 404, "not found"},
		{"/services/default/hello?range=forever", 400, `range "forever"`},
		{"/api/ui/nothing", 404, "no such UI endpoint"},
	} {
		rec := f.do(http.MethodGet, bad.path, "")
		if rec.Code != bad.code {
			t.Errorf("%s: %d, want %d", bad.path, rec.Code, bad.code)
		}
		if msg := errorOf(t, rec); !strings.Contains(msg, bad.want) {
			t.Errorf("%s: %q, want %q", bad.path, msg, bad.want)
		}
	}
	// A browser gets the error as a page.
	req := httptest.NewRequest(http.MethodGet, "/services/default/nope", nil)
	req.Header.Set("Accept", "text/html")
	rr := httptest.NewRecorder()
	f.h.ServeHTTP(rr, req)
	if rr.Code != 404 || !strings.Contains(rr.Body.String(), `<p role="alert">Service default/nope: not found</p>`) {
		t.Errorf("HTML 404: %d %s", rr.Code, rr.Body)
	}
}

func TestRevisionDetail(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "app.log")
	var lines []string
	for i := range 100 {
		lines = append(lines, fmt.Sprintf("line %d", i))
	}
	if err := os.WriteFile(logPath, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	q := newFakeQuerier()
	sel := dashboards.Selector{Namespace: "default", Revision: "hello-00001"}
	q.set(t, dashboards.CPUByRevision, sel, defaultRange.Window, fakeSeries{labels: withLabel(rev("default", "hello", "hello-00001"), "container", "user-container"), value: 0.02})
	f := uiFixture(t, q, func(o *Options) {
		o.Instances = func(ns, r string) any {
			return []map[string]any{{"name": r + "-a", "ready": true, "address": "127.0.0.1:1234", "appPid": os.Getpid(), "restarts": 2,
				"log": logPath, "ports": map[string]int{"http": 1234}}}
		}
		o.Decisions = func(ns, r string) any {
			return []map[string]any{{"time": testNow.Add(-2 * time.Second), "desired": 1, "reason": "stable"},
				{"time": testNow, "desired": 3, "scale": 3, "ready": 1, "panicMode": true, "reason": "panic", "stableConcurrency": 4.5}}
		}
	})
	putService(t, f, "default", "hello", "hello-00001")

	got := decode[RevisionDetail](t, f.do(http.MethodGet, "/api/ui/revisions/default/hello-00001", ""))
	if got.Service != "hello" || got.Revision.TrafficPercent != 100 || got.Revision.Ready != "True" {
		t.Errorf("revision = %+v", got.Revision)
	}
	if len(got.Instances) != 1 {
		t.Fatalf("instances = %+v", got.Instances)
	}
	in := got.Instances[0]
	if in.Name != "hello-00001-a" || !in.Ready || in.Restarts != 2 || in.Ports["http"] != 1234 || len(in.LogTail) != logTailLines || in.LogTail[logTailLines-1] != "line 99" {
		t.Errorf("instance = %+v", in)
	}
	if _, err := os.Stat("/proc/self/stat"); err == nil && (in.CPUSeconds == nil || in.MemoryBytes == nil || *in.MemoryBytes <= 0) {
		t.Errorf("instance CPU %v memory %v: want this process's", in.CPUSeconds, in.MemoryBytes)
	}
	if got.Autoscaler == nil || got.Autoscaler.Desired != 3 || !got.Autoscaler.InPanic || len(got.Decisions) != 2 || got.Decisions[1].DecisionReason != "stable" {
		t.Errorf("autoscaler %+v decisions %+v", got.Autoscaler, got.Decisions)
	}
	var cpu *Chart
	for i := range got.Charts {
		if got.Charts[i].ID == "cpu-usage" {
			cpu = &got.Charts[i]
		}
	}
	if cpu == nil || len(cpu.Series) != 1 || cpu.Series[0].Name != "user-container" {
		t.Errorf("cpu chart = %+v", cpu)
	}

	body := f.do(http.MethodGet, "/revisions/default/hello-00001", "").Body.String()
	for _, want := range []string{"hello-00001-a", "line 99", "Log tail of hello-00001-a", "<dt>panic mode</dt><dd><strong>yes</strong></dd>",
		"Last 2 decisions", `<a href="/services/default/hello">hello</a>`, "CPU by container"} {
		if !strings.Contains(body, want) {
			t.Errorf("revision page lacks %q", want)
		}
	}
	for _, bad := range []struct {
		path string
		code int
	}{{"/api/ui/revisions/default/nope", 404}, {"/api/ui/revisions/default/hello-00001?range=1y", 400}, {"/revisions/default/nope", 404}} {
		if rec := f.do(http.MethodGet, bad.path, ""); rec.Code != bad.code {
			t.Errorf("%s: %d, want %d", bad.path, rec.Code, bad.code)
		} else {
			errorOf(t, rec)
		}
	}
}

func TestAlertsPage(t *testing.T) {
	pending := helloAlerts[0]
	pending.State, pending.Labels = "pending", withLabel(pending.Labels, "revision_name", "hello-00001")
	f := uiFixture(t, nil, func(o *Options) {
		o.Alerts = func() []metrics.Alert { return []metrics.Alert{pending, helloAlerts[0]} }
		o.GrafanaURL = "http://grafana.example:3000/"
	})
	got := decode[AlertsResponse](t, f.do(http.MethodGet, "/api/ui/alerts", ""))
	if !got.Available || got.Firing != 1 || got.Pending != 1 || len(got.Alerts) != 2 || got.Alerts[0].State != "firing" {
		t.Fatalf("alerts = %+v", got)
	}
	a := got.Alerts[0]
	if a.Expr == "" || a.Revision != "hello-00002" || a.Service != "hello" || a.Severity != "warning" {
		t.Errorf("alert = %+v", a)
	}
	for _, want := range []string{"http://grafana.example:3000/d/gantry-overview/?", "viewPanel=10", "var-revision=hello-00002", "var-service=hello"} {
		if !strings.Contains(a.GrafanaURL, want) {
			t.Errorf("grafana link %q lacks %q", a.GrafanaURL, want)
		}
	}
	got = decode[AlertsResponse](t, f.do(http.MethodGet, "/api/ui/alerts?state=pending", ""))
	if len(got.Alerts) != 1 || got.Alerts[0].Revision != "hello-00001" {
		t.Errorf("pending = %+v", got.Alerts)
	}
	rec := f.do(http.MethodGet, "/api/ui/alerts?state=resolved", "")
	if msg := errorOf(t, rec); rec.Code != 400 || !strings.Contains(msg, `state "resolved": want firing or pending`) {
		t.Errorf("bad state: %d %q", rec.Code, msg)
	}
	body := f.do(http.MethodGet, "/alerts", "").Body.String()
	for _, want := range []string{"GantryRevisionHigh5xxRatio", "revision:revision_request_5xx:ratio_rate5m &gt; 0.05", "viewPanel=10", `href="/revisions/default/hello-00002"`} {
		if !strings.Contains(body, want) {
			t.Errorf("alerts page lacks %q", want)
		}
	}
	// Without a Grafana URL there is no link column.
	f = uiFixture(t, nil, func(o *Options) { o.Alerts = func() []metrics.Alert { return helloAlerts } })
	if body := f.do(http.MethodGet, "/alerts", "").Body.String(); strings.Contains(body, "viewPanel") || !strings.Contains(body, "GantryRevisionHigh5xxRatio") {
		t.Error("alerts page without Grafana")
	}
}

func TestDownloads(t *testing.T) {
	f := uiFixture(t, nil, func(o *Options) { o.Rules = dashboards.RuleOptions{ErrorRatioThreshold: 0.2} })
	rec := f.do(http.MethodGet, "/downloads/rules.yml", "")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), dashboards.AlertHigh5xxRatio) || !strings.Contains(rec.Body.String(), "threshold 0.2") ||
		!strings.Contains(rec.Header().Get("Content-Disposition"), "gantry.rules.yml") {
		t.Errorf("rules: %d %q %.200s", rec.Code, rec.Header(), rec.Body)
	}
	for _, uid := range dashboards.DashboardUIDs() {
		rec := f.do(http.MethodGet, "/downloads/dashboards/"+uid+".json", "")
		var d struct {
			UID    string `json:"uid"`
			Panels []any  `json:"panels"`
		}
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &d) != nil || d.UID != uid || len(d.Panels) == 0 {
			t.Errorf("dashboard %s: %d %.200s", uid, rec.Code, rec.Body)
		}
	}
	rec = f.do(http.MethodGet, "/downloads/dashboards/nope.json", "")
	if msg := errorOf(t, rec); rec.Code != 404 || !strings.Contains(msg, `no dashboard "nope.json"`) {
		t.Errorf("unknown dashboard: %d %q", rec.Code, msg)
	}
	list := decode[struct{ Items []Download }](t, f.do(http.MethodGet, "/api/ui/downloads", ""))
	if len(list.Items) != 1+len(dashboards.DashboardUIDs()) {
		t.Errorf("downloads = %+v", list.Items)
	}
	body := f.do(http.MethodGet, "/downloads", "").Body.String()
	if !strings.Contains(body, `href="/downloads/dashboards/gantry-overview.json" download`) {
		t.Error("downloads page lacks the overview dashboard")
	}
}

func TestStaticAndGzip(t *testing.T) {
	f := uiFixture(t, nil, nil)
	for _, p := range []string{"/static/ui.css", "/static/ui.js"} {
		if rec := f.do(http.MethodGet, p, ""); rec.Code != 200 || rec.Body.Len() < 100 {
			t.Errorf("%s: %d", p, rec.Code)
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/api/ui/services", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Errorf("services JSON not gzipped: %q", rec.Header())
	}
}

func TestSVG(t *testing.T) {
	nan := math.NaN()
	if s := sparkline(Values{nan, nan}); s != "" {
		t.Errorf("empty sparkline = %q", s)
	}
	s := string(sparkline(Values{1, 2, nan, 3, nan}))
	if !strings.Contains(s, "M0 ") || strings.Count(s, "M") != 2 || !strings.Contains(s, "h0.1") {
		t.Errorf("sparkline with a gap and a lone point = %s", s)
	}
	g := grid{Start: testNow.Add(-15 * time.Minute), Step: 15 * time.Second, N: 61}
	v := renderChart(Chart{ID: "x", Title: `a <b> & "c"`, Unit: dashboards.UnitMilliseconds}, g)
	if !strings.Contains(string(v.SVG), "no data") || !strings.Contains(string(v.SVG), "a &lt;b&gt; &amp; &#34;c&#34;") {
		t.Errorf("chart = %s", v.SVG)
	}
	v = renderChart(Chart{ID: "y", Title: "t", Unit: dashboards.UnitPercentUnit, Series: []ChartSeries{{Name: "<s>", Values: Values{0.5, 0.99}}}}, grid{Start: testNow, Step: time.Second, N: 2})
	if !strings.Contains(string(v.SVG), "&lt;s&gt;: 99.0%") || v.Legend[0].Last != "99.0%" {
		t.Errorf("chart desc/legend = %s %+v", v.SVG, v.Legend)
	}
	for _, c := range []struct {
		v    float64
		unit string
		want string
	}{
		{0.2534, dashboards.UnitMilliseconds, "253 µs"}, {12, dashboards.UnitMilliseconds, "12 ms"}, {9.9996, dashboards.UnitMilliseconds, "10 ms"}, {3, dashboards.UnitShort, "3"}, {1534, dashboards.UnitMilliseconds, "1.53 s"}, {0.9995, dashboards.UnitPercentUnit, "99.950%"},
		{3 << 20, dashboards.UnitBytes, "3 MiB"}, {3.5 * (1 << 20), dashboards.UnitBytes, "3.5 MiB"}, {0.000123, dashboards.UnitUSD, "$0.00012"}, {12.5, dashboards.UnitUSD, "$12.50"},
		{nan, dashboards.UnitShort, "–"}, {25000, dashboards.UnitShort, "25.0k"},
	} {
		if got := formatValue(c.v, c.unit); got != c.want {
			t.Errorf("formatValue(%v, %s) = %q, want %q", c.v, c.unit, got, c.want)
		}
	}
}

// TestOneBadgePerAlert: the burn-rate alert fires with two label sets (its
// page and ticket severities); the services page shows it once, as firing.
func TestOneBadgePerAlert(t *testing.T) {
	burn := func(severity, state string) metrics.Alert {
		return metrics.Alert{Name: dashboards.AlertErrorBudgetBurn, State: state,
			Labels: map[string]string{"alertname": dashboards.AlertErrorBudgetBurn, "namespace_name": "default", "service_name": "hello",
				"revision_name": "hello-00002", "severity": severity, "slo": "availability"},
			Annotations: map[string]string{"summary": "burning (" + severity + ")"}}
	}
	alerts := append([]metrics.Alert{burn("ticket", "pending"), burn("page", "firing")}, helloAlerts...)
	f := uiFixture(t, newFakeQuerier(), func(o *Options) { o.Alerts = func() []metrics.Alert { return alerts } })
	putService(t, f, "default", "hello", "hello-00001", "hello-00002")
	got := decode[ServicesResponse](t, f.do(http.MethodGet, "/api/ui/services", ""))
	if len(got.Services) != 1 || len(got.Services[0].Alerts) != 2 {
		t.Fatalf("alerts = %+v, want one per alert name", got.Services)
	}
	for _, a := range got.Services[0].Alerts {
		if a.State != "firing" {
			t.Errorf("alert %s is %s, want firing (the worst of its label sets)", a.Name, a.State)
		}
	}
	body := f.do(http.MethodGet, "/", "").Body.String()
	if n := strings.Count(body, `class="badge firing" title`); n != 2 {
		t.Errorf("services page has %d firing badges, want 2", n)
	}
}

// TestServicesRangePicker: the services page takes ?range= like the detail
// pages; the step follows the range.
func TestServicesRangePicker(t *testing.T) {
	f := uiFixture(t, newFakeQuerier(), nil)
	putService(t, f, "default", "hello", "hello-00001")
	for _, c := range []struct {
		rng  string
		step float64
		n    int
	}{{"", 5, 61}, {"5m", 5, 61}, {"15m", 15, 61}, {"1h", 30, 121}, {"6h", 180, 121}, {"24h", 720, 121}} {
		got := decode[ServicesResponse](t, f.do(http.MethodGet, "/api/ui/services?range="+c.rng, ""))
		if got.StepSeconds != c.step || len(got.Services[0].RequestRate.Series) != c.n {
			t.Errorf("range %q: step %v, %d points; want %v, %d", c.rng, got.StepSeconds, len(got.Services[0].RequestRate.Series), c.step, c.n)
		}
	}
	body := f.do(http.MethodGet, "/?range=1h", "").Body.String()
	for _, want := range []string{`<a href="?range=5m">5m</a>`, `<a href="?range=1h" aria-current="true" class="on">1h</a>`, "Last hour, a point every 30 s.",
		`<input type="hidden" name="range" value="1h">`, `range=1h&amp;sort=rate`} {
		if !strings.Contains(body, want) {
			t.Errorf("services page with ?range=1h lacks %q", want)
		}
	}
	// The range links keep the filter and the sort.
	if body := f.do(http.MethodGet, "/?q=hel&sort=p99&dir=desc", "").Body.String(); !strings.Contains(body, `<a href="?dir=desc&amp;q=hel&amp;sort=p99&amp;range=15m">15m</a>`) {
		t.Errorf("range links do not keep q, sort and dir")
	}
	if rec := f.do(http.MethodGet, "/api/ui/services?range=2d", ""); rec.Code != 400 || !strings.Contains(errorOf(t, rec), "want one of 5m, 15m, 1h, 6h, 24h") {
		t.Errorf("bad range: %d %s", rec.Code, rec.Body)
	}
}
