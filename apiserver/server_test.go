package apiserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/apiserver/wire"
	"github.com/gantry-dev/gantry/controller/reconcile"
	"github.com/gantry-dev/gantry/store"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
)

type fixture struct {
	t  *testing.T
	st *store.Store
	h  http.Handler
}

func newFixture(t *testing.T, mod func(*Options)) *fixture {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	o := Options{Store: st, Config: func() *api.Config { return api.DefaultConfig("localhost") }}
	if mod != nil {
		mod(&o)
	}
	return &fixture{t: t, st: st, h: New(o)}
}

func (f *fixture) do(method, path, body string) *httptest.ResponseRecorder {
	f.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

// errorOf decodes an error answer, failing when it is not {"error": "..."}.
func errorOf(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type = %q, want JSON", ct)
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("error body %q is not JSON: %v", rec.Body, err)
	}
	msg, ok := m["error"].(string)
	if !ok || len(m) != 1 {
		t.Fatalf("error body = %q, want exactly {\"error\": string}", rec.Body)
	}
	return msg
}

const helloYAML = `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: hello
  labels:
    app: hello
spec:
  template:
    spec:
      containers:
        - image: gantry/sample-app
`

const byeYAML = `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: bye
  namespace: other
  labels:
    app: bye
    tier: web
spec:
  template:
    spec:
      containers:
        - image: gantry/sample-app
`

func TestApply(t *testing.T) {
	f := newFixture(t, nil)
	rec := f.do(http.MethodPost, "/api/v1/apply", helloYAML+"---\n"+byeYAML)
	if rec.Code != http.StatusOK {
		t.Fatalf("code = %d %s", rec.Code, rec.Body)
	}
	var got struct {
		Results []map[string]string `json:"results"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := []map[string]string{
		{"kind": "Service", "namespace": "default", "name": "hello", "result": "created"},
		{"kind": "Service", "namespace": "other", "name": "bye", "result": "created"},
	}
	if diff := cmp.Diff(want, got.Results); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	// JSON bodies work too, and re-applying is unchanged.
	js := `{"apiVersion":"serving.knative.dev/v1","kind":"Service","metadata":{"name":"hello","labels":{"app":"hello"}},
	        "spec":{"template":{"spec":{"containers":[{"image":"gantry/sample-app"}]}}}}`
	rec = f.do(http.MethodPost, "/api/v1/apply", js)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"result":"unchanged"`) {
		t.Errorf("JSON re-apply: %d %s", rec.Code, rec.Body)
	}
}

func TestApplyErrors(t *testing.T) {
	invalid := strings.Replace(helloYAML, "name: hello", "name: bad", 1) + "  traffic:\n    - latestRevision: true\n      percent: 90\n"
	tests := []struct {
		name     string
		body     string
		wantCode int
		wantMsg  string // substring
	}{
		{"invalid object", invalid, http.StatusBadRequest, "Service default/bad: Traffic targets sum to 90, want 100: spec.traffic"},
		{"one invalid object refuses the batch", helloYAML + "---\n" + invalid, http.StatusBadRequest, "Traffic targets sum to 90"},
		{"malformed YAML", "kind: Service\nmetadata: [unclosed\n", http.StatusBadRequest, "document 1"},
		{"not an object", "- just\n- a list\n", http.StatusBadRequest, "document 1"},
		{"empty body", "", http.StatusBadRequest, "no objects to apply"},
		{"oversized body", strings.Repeat("#", 8<<20+1), http.StatusRequestEntityTooLarge, "manifest larger than 8388608 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			rec := f.do(http.MethodPost, "/api/v1/apply", tc.body)
			if rec.Code != tc.wantCode {
				t.Errorf("code = %d, want %d (%s)", rec.Code, tc.wantCode, rec.Body)
			}
			if msg := errorOf(t, rec); !strings.Contains(msg, tc.wantMsg) {
				t.Errorf("error = %q, want it to contain %q", msg, tc.wantMsg)
			}
			objs, err := f.st.List(api.KindService, "")
			if err != nil || len(objs) != 0 {
				t.Errorf("refused apply stored %d services (%v)", len(objs), err)
			}
		})
	}
}

func TestApplyOversizedLimitIsExact(t *testing.T) {
	f := newFixture(t, nil)
	// Exactly at the limit: decoded (and here refused as YAML with nothing in it), not 413.
	rec := f.do(http.MethodPost, "/api/v1/apply", strings.Repeat("#", 8<<20))
	if rec.Code == http.StatusRequestEntityTooLarge {
		t.Errorf("a body of exactly 8 MiB was refused as too large")
	}
}

func listNames(t *testing.T, rec *httptest.ResponseRecorder) []string {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("list: %d %s", rec.Code, rec.Body)
	}
	var got struct {
		Items []struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name, Namespace string
			} `json:"metadata"`
		} `json:"items"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Items == nil {
		t.Fatalf("items is %s, want a list", rec.Body)
	}
	out := []string{}
	for _, it := range got.Items {
		out = append(out, it.Kind+" "+it.Metadata.Namespace+"/"+it.Metadata.Name)
	}
	return out
}

func TestListGetDelete(t *testing.T) {
	f := newFixture(t, nil)
	if rec := f.do(http.MethodPost, "/api/v1/apply", helloYAML+"---\n"+byeYAML); rec.Code != http.StatusOK {
		t.Fatal(rec.Body)
	}
	tests := []struct {
		path string
		want []string
	}{
		{"/api/v1/services", []string{"Service default/hello", "Service other/bye"}},
		{"/api/v1/ksvc", []string{"Service default/hello", "Service other/bye"}},
		{"/api/v1/services?namespace=other", []string{"Service other/bye"}},
		{"/api/v1/services?namespace=nope", []string{}},
		{"/api/v1/services?labelSelector=app=hello", []string{"Service default/hello"}},
		{"/api/v1/services?labelSelector=app%3Dbye,tier%3Dweb", []string{"Service other/bye"}},
		{"/api/v1/services?labelSelector=app%3Dbye,tier%3Ddb", []string{}},
		{"/api/v1/services?labelSelector=app%20%3D%20hello", []string{"Service default/hello"}},
		{"/api/v1/revisions", []string{}},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, listNames(t, f.do(http.MethodGet, tc.path, ""))); diff != "" {
			t.Errorf("GET %s (-want +got):\n%s", tc.path, diff)
		}
	}

	rec := f.do(http.MethodGet, "/api/v1/services/default/hello", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("get: %d %s", rec.Code, rec.Body)
	}
	var svc api.Service
	if err := json.Unmarshal(rec.Body.Bytes(), &svc); err != nil {
		t.Fatal(err)
	}
	if svc.Name != "hello" || svc.Kind != "Service" || svc.APIVersion != api.APIVersionV1 || svc.Generation != 1 {
		t.Errorf("get = %s %s %s gen %d", svc.APIVersion, svc.Kind, svc.Name, svc.Generation)
	}

	rec = f.do(http.MethodGet, "/api/v1/services/default/nope", "")
	if rec.Code != http.StatusNotFound {
		t.Errorf("get missing: %d", rec.Code)
	}
	if msg := errorOf(t, rec); !strings.Contains(msg, "default/nope") || !strings.Contains(msg, "not found") {
		t.Errorf("get missing error = %q", msg)
	}

	rec = f.do(http.MethodDelete, "/api/v1/services/default/hello", "")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"deleted":"Service default/hello"`) {
		t.Errorf("delete: %d %s", rec.Code, rec.Body)
	}
	if _, err := f.st.Get(api.KindService, "default", "hello"); err == nil {
		t.Error("service still stored after delete")
	}
	rec = f.do(http.MethodDelete, "/api/v1/services/default/hello", "")
	if rec.Code != http.StatusNotFound {
		t.Errorf("second delete: %d", rec.Code)
	}
	errorOf(t, rec)
}

func TestUnknownResource(t *testing.T) {
	f := newFixture(t, nil)
	for _, req := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/widgets"},
		{http.MethodGet, "/api/v1/widgets/default/x"},
		{http.MethodDelete, "/api/v1/widgets/default/x"},
	} {
		rec := f.do(req.method, req.path, "")
		if rec.Code != http.StatusNotFound {
			t.Errorf("%s %s: code %d, want 404", req.method, req.path, rec.Code)
		}
		if msg := errorOf(t, rec); !strings.Contains(msg, `unknown resource "widgets"`) {
			t.Errorf("%s %s: error %q", req.method, req.path, msg)
		}
	}
	rec := f.do(http.MethodGet, "/no/such/page", "")
	if rec.Code != http.StatusNotFound {
		t.Errorf("unknown path: %d", rec.Code)
	}
	errorOf(t, rec)
}

func TestDeleteOwnedObject(t *testing.T) {
	f := newFixture(t, nil)
	if rec := f.do(http.MethodPost, "/api/v1/apply", helloYAML); rec.Code != http.StatusOK {
		t.Fatal(rec.Body)
	}
	o, err := f.st.Get(api.KindService, "default", "hello")
	if err != nil {
		t.Fatal(err)
	}
	svc := o.(*api.Service)
	if _, err := f.st.Put(reconcile.ServiceConfiguration(svc), reconcile.ServiceRoute(svc)); err != nil {
		t.Fatal(err)
	}
	for _, res := range []struct{ path, kind string }{
		{"/api/v1/configurations/default/hello", "Configuration"},
		{"/api/v1/routes/default/hello", "Route"},
	} {
		rec := f.do(http.MethodDelete, res.path, "")
		if rec.Code != http.StatusConflict {
			t.Errorf("DELETE %s: code %d, want 409", res.path, rec.Code)
		}
		want := res.kind + ` default/hello is owned by Service "hello": delete that instead`
		if msg := errorOf(t, rec); msg != want {
			t.Errorf("DELETE %s: error %q, want %q", res.path, msg, want)
		}
		if _, err := f.st.Get(res.kind, "default", "hello"); err != nil {
			t.Errorf("%s deleted despite the 409: %v", res.kind, err)
		}
	}
}

func TestInstancesAndTraffic(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.Instances = func(ns, rev string) any { return []map[string]string{{"rev": ns + "/" + rev}} }
		o.Requests = func(ns, route string) (map[string]uint64, time.Duration) {
			return map[string]uint64{"hello-00001": 30, "hello-00002": 10}, time.Minute
		}
	})
	rev := &api.Revision{}
	rev.SetGroupVersionKind(api.GroupVersionKind(api.KindRevision))
	rev.Namespace, rev.Name = "default", "hello-00001"
	route := &api.Route{}
	route.SetGroupVersionKind(api.GroupVersionKind(api.KindRoute))
	route.Namespace, route.Name = "default", "hello"
	if _, err := f.st.Put(rev, route); err != nil {
		t.Fatal(err)
	}
	route.Status.URL = "http://hello.default.localhost"
	p := func(n int64) *int64 { return &n }
	tr := true
	route.Status.Traffic = []api.TrafficTarget{
		{RevisionName: "hello-00001", Percent: p(75)},
		{RevisionName: "hello-00002", Percent: p(25), LatestRevision: &tr, Tag: "canary", URL: "http://canary-hello.default.localhost"},
		{RevisionName: "hello-00001", Percent: p(0), Tag: "stable"},
	}
	if err := f.st.UpdateStatus(route); err != nil {
		t.Fatal(err)
	}

	rec := f.do(http.MethodGet, "/api/v1/revisions/default/hello-00001/instances", "")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"items":[{"rev":"default/hello-00001"}]`) {
		t.Errorf("instances: %d %s", rec.Code, rec.Body)
	}
	rec = f.do(http.MethodGet, "/api/v1/revisions/default/nope/instances", "")
	if rec.Code != http.StatusNotFound {
		t.Errorf("instances of a missing revision: %d", rec.Code)
	}

	rec = f.do(http.MethodGet, "/api/v1/routes/default/hello/traffic", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("traffic: %d %s", rec.Code, rec.Body)
	}
	var got struct {
		Route         string            `json:"route"`
		URL           string            `json:"url"`
		WindowSeconds float64           `json:"windowSeconds"`
		Targets       []wire.TrafficRow `json:"targets"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := []wire.TrafficRow{
		{RevisionName: "hello-00001", Percent: 75, Requests: 30, ObservedShare: 75},
		{RevisionName: "hello-00002", Percent: 25, Tag: "canary", URL: "http://canary-hello.default.localhost", LatestRevision: true, Requests: 10, ObservedShare: 25},
		{RevisionName: "hello-00001", Percent: 0, Tag: "stable"},
	}
	if diff := cmp.Diff(want, got.Targets); diff != "" {
		t.Errorf("traffic rows (-want +got):\n%s", diff)
	}
	if got.Route != "hello" || got.URL != "http://hello.default.localhost" || got.WindowSeconds != 60 {
		t.Errorf("traffic = %+v", got)
	}
}

func TestServiceDiscovery(t *testing.T) {
	f := newFixture(t, nil)
	rec := f.do(http.MethodGet, "/api/v1/sd", "")
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Errorf("sd with no targets: %d %q, want []", rec.Code, rec.Body)
	}

	f = newFixture(t, func(o *Options) {
		o.SDTargets = func() []SDTarget {
			return []SDTarget{{Targets: []string{"127.0.0.1:9091"}, Labels: map[string]string{"job": "gantry", "revision_name": "hello-00001"}}}
		}
	})
	rec = f.do(http.MethodGet, "/api/v1/sd", "")
	var got []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{{
		"targets": []any{"127.0.0.1:9091"},
		"labels":  map[string]any{"job": "gantry", "revision_name": "hello-00001"},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sd (-want +got):\n%s", diff)
	}
}

func TestIndexPage(t *testing.T) {
	f := newFixture(t, nil)
	rec := f.do(http.MethodGet, "/", "")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "No services yet") {
		t.Errorf("empty index: %d %s", rec.Code, rec.Body)
	}

	if r := f.do(http.MethodPost, "/api/v1/apply", helloYAML); r.Code != http.StatusOK {
		t.Fatal(r.Body)
	}
	o, _ := f.st.Get(api.KindService, "default", "hello")
	svc := o.(*api.Service)
	svc.Status.URL = "http://hello.default.localhost:8080"
	svc.Status.LatestReadyRevisionName = "hello-00001"
	svc.Status.Conditions = []api.Condition{{Type: api.ConditionReady, Status: corev1.ConditionFalse, Reason: "RevisionFailed"}}
	if err := f.st.UpdateStatus(svc); err != nil {
		t.Fatal(err)
	}
	rec = f.do(http.MethodGet, "/", "")
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("index: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	for _, want := range []string{
		`<a href="/services/default/hello">hello</a>`, `<a href="http://hello.default.localhost:8080">hello.default.localhost:8080</a>`,
		`<span class="state bad">False</span>`, `<span class="reason">RevisionFailed</span>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("index does not contain %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "No services yet") {
		t.Error("index says there are no services")
	}
}

func TestHealthzAndMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "gantry_test_total", Help: "t"})
	reg.MustRegister(c)
	c.Inc()
	f := newFixture(t, func(o *Options) { o.Gatherer = reg })
	if rec := f.do(http.MethodGet, "/healthz", ""); rec.Code != http.StatusOK || rec.Body.String() != "ok\n" {
		t.Errorf("healthz: %d %q", rec.Code, rec.Body)
	}
	rec := f.do(http.MethodGet, "/metrics", "")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "gantry_test_total 1") {
		t.Errorf("metrics: %d %s", rec.Code, rec.Body)
	}
	// Without a gatherer there is no /metrics.
	f = newFixture(t, nil)
	if rec := f.do(http.MethodGet, "/metrics", ""); rec.Code != http.StatusNotFound {
		t.Errorf("metrics without a gatherer: %d", rec.Code)
	}
}

func TestAuthToken(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.AuthToken = "s3cret" })
	do := func(method, path string, hdr map[string]string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(helloYAML))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, req)
		return rec
	}
	// Open: health and the pages' static files.
	for _, p := range []string{"/healthz", "/static/ui.css"} {
		if rec := do("GET", p, nil); rec.Code != 200 {
			t.Errorf("%s without token: %d", p, rec.Code)
		}
	}
	// Everything else needs the token.
	for _, c := range []struct{ method, path string }{
		{"GET", "/"}, {"GET", "/alerts"}, {"GET", "/api/ui/services"}, {"GET", "/api/v1/services"},
		{"GET", "/api/v1/services?watch=true"},
		{"POST", "/api/v1/apply"}, {"DELETE", "/api/v1/services/default/hello"}, {"GET", "/downloads/rules.yml"},
	} {
		rec := do(c.method, c.path, nil)
		if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s without token: %d", c.method, c.path, rec.Code)
		}
		if msg := errorOf(t, rec); !strings.Contains(msg, "Authorization: Bearer") {
			t.Errorf("%s %s: %q", c.method, c.path, msg)
		}
		if rec := do(c.method, c.path, map[string]string{"Authorization": "Bearer wrong"}); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s %s with a wrong token: %d", c.method, c.path, rec.Code)
		}
	}
	if rec := do("POST", "/api/v1/apply", map[string]string{"Authorization": "Bearer s3cret"}); rec.Code != 200 {
		t.Errorf("apply with the token: %d %s", rec.Code, rec.Body)
	}
	// A browser gets a sign-in form, then a cookie from ?token=.
	rec := do("GET", "/services/default/hello", map[string]string{"Accept": "text/html"})
	if rec.Code != 401 || !strings.Contains(rec.Body.String(), `<label for="token">`) || !strings.Contains(rec.Body.String(), `action="/services/default/hello"`) {
		t.Errorf("sign-in page: %d %s", rec.Code, rec.Body)
	}
	if rec := do("GET", "/?token=nope", nil); rec.Code != 401 {
		t.Errorf("wrong ?token: %d", rec.Code)
	}
	rec = do("GET", "/?token=s3cret&sort=rate", nil)
	cookie := rec.Header().Get("Set-Cookie")
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/?sort=rate" || !strings.Contains(cookie, "gantry_token=s3cret") ||
		!strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Strict") {
		t.Fatalf("?token: %d %q %q", rec.Code, rec.Header().Get("Location"), cookie)
	}
	withCookie := map[string]string{"Cookie": "gantry_token=s3cret"}
	if rec := do("GET", "/", withCookie); rec.Code != 200 {
		t.Errorf("page with the cookie: %d", rec.Code)
	}
	// The cookie is not enough to change anything.
	if rec := do("POST", "/api/v1/apply", withCookie); rec.Code != 401 {
		t.Errorf("apply with only the cookie: %d", rec.Code)
	}
	if rec := do("GET", "/", map[string]string{"Cookie": "gantry_token=wrong"}); rec.Code != 401 {
		t.Errorf("wrong cookie: %d", rec.Code)
	}
	// No token: nothing is asked.
	f = newFixture(t, nil)
	if rec := f.do("GET", "/", ""); rec.Code != 200 {
		t.Errorf("no token configured: %d", rec.Code)
	}
}

// Secret values never leave the API: list and get show the keys with empty
// values and their sizes, and what get printed cannot be applied back.
func TestSecretsRedacted(t *testing.T) {
	f := newFixture(t, nil)
	rec := f.do(http.MethodPost, "/api/v1/apply", `apiVersion: v1
kind: Secret
metadata: {name: db, namespace: default}
data: {password: ZnJvbS1kYXRh, user: YWRtaW4=}
stringData: {token: s3cret-token}
`)
	if rec.Code != http.StatusOK {
		t.Fatalf("apply: %d %s", rec.Code, rec.Body)
	}
	stored, err := f.st.Get(api.KindSecret, "default", "db")
	if err != nil || string(stored.(*api.Secret).Data["password"]) != "from-data" {
		t.Fatalf("stored secret %v %v: the store keeps the real values", stored, err)
	}
	want := map[string]any{
		"data":       map[string]any{"password": "", "user": ""},
		"stringData": map[string]any{"token": ""},
		"annotation": "values not shown: data.password=9 bytes, data.user=5 bytes, stringData.token=12 bytes",
	}
	for _, path := range []string{"/api/v1/secrets?namespace=default", "/api/v1/secrets", "/api/v1/secrets/default/db"} {
		rec := f.do(http.MethodGet, path, "")
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		body := rec.Body.String()
		for _, v := range []string{"from-data", "ZnJvbS1kYXRh", "admin", "YWRtaW4", "s3cret-token", "czNjcmV0LXRva2Vu"} {
			if strings.Contains(body, v) {
				t.Errorf("GET %s shows the value %q: %s", path, v, body)
			}
		}
		var one map[string]any
		if strings.Contains(path, "/db") {
			json.Unmarshal(rec.Body.Bytes(), &one)
		} else {
			var list struct{ Items []map[string]any }
			json.Unmarshal(rec.Body.Bytes(), &list)
			if len(list.Items) != 1 {
				t.Fatalf("GET %s: %d items", path, len(list.Items))
			}
			one = list.Items[0]
		}
		got := map[string]any{"data": one["data"], "stringData": one["stringData"],
			"annotation": one["metadata"].(map[string]any)["annotations"].(map[string]any)[api.AnnotationRedacted]}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("GET %s (-want +got):\n%s", path, d)
		}
	}
	// Applying what get printed would blank the real values: refused.
	printed := f.do(http.MethodGet, "/api/v1/secrets/default/db", "").Body.String()
	rec = f.do(http.MethodPost, "/api/v1/apply", printed)
	if rec.Code != http.StatusBadRequest || !strings.Contains(errorOf(t, rec), "printed by gantry get") {
		t.Errorf("apply of a redacted secret: %d %s", rec.Code, rec.Body)
	}
	// ConfigMaps are not secret: shown as stored.
	f.do(http.MethodPost, "/api/v1/apply", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: default}\ndata: {LEVEL: debug}\n")
	if body := f.do(http.MethodGet, "/api/v1/configmaps/default/app", "").Body.String(); !strings.Contains(body, `"LEVEL":"debug"`) {
		t.Errorf("configmap: %s", body)
	}
}
