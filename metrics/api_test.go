package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// apiFixture is a DB with three scrapes of one target, served by its API.
func apiFixture(t *testing.T) (*DB, *httptest.Server, time.Time) {
	db := openTest(t, Options{})
	app := newAppTarget(t)
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	for i := range 3 {
		app.requests.WithLabelValues("2xx").Add(5)
		if _, err := db.ScrapeOnce(context.Background(), []Target{{URL: app.hostPort(), Labels: map[string]string{"job": "qp"}}},
			t0.Add(time.Duration(i)*5*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(http.StripPrefix("/prom", db.APIHandler()))
	t.Cleanup(srv.Close)
	return db, srv, t0.Add(10 * time.Second)
}

func getJSON(t *testing.T, method, u string, form url.Values) (int, map[string]any) {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = http.PostForm(u, form)
	} else {
		resp, err = http.Get(u + "?" + form.Encode())
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, m
}

func TestAPIJSONShapeIsPrometheus(t *testing.T) {
	_, srv, end := apiFixture(t)
	ts := strconv.FormatInt(end.Unix(), 10)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		code, m := getJSON(t, method, srv.URL+"/prom/api/v1/query", url.Values{"query": {`up{job="qp"}`}, "time": {ts}})
		if code != 200 || m["status"] != "success" {
			t.Fatalf("%s query: %d %v", method, code, m)
		}
		data := m["data"].(map[string]any)
		res := data["result"].([]any)
		if data["resultType"] != "vector" || len(res) != 1 {
			t.Fatalf("%s query data: %v", method, data)
		}
		s := res[0].(map[string]any)
		metric := s["metric"].(map[string]any)
		val := s["value"].([]any)
		if metric["__name__"] != "up" || metric["job"] != "qp" || val[0] != float64(end.Unix()) || val[1] != "1" {
			t.Errorf("%s sample: %v, want metric with __name__ and value [%d, \"1\"]", method, s, end.Unix())
		}
	}

	// Empty vector is [], not null.
	_, m := getJSON(t, http.MethodGet, srv.URL+"/prom/api/v1/query", url.Values{"query": {`nothing_here`}, "time": {ts}})
	if r, ok := m["data"].(map[string]any)["result"].([]any); !ok || len(r) != 0 {
		t.Errorf("empty result: %v", m)
	}
	// Scalars and strings.
	_, m = getJSON(t, http.MethodGet, srv.URL+"/prom/api/v1/query", url.Values{"query": {`1+1`}, "time": {"1700000000.5"}})
	if d := m["data"].(map[string]any); d["resultType"] != "scalar" || d["result"].([]any)[0] != 1700000000.5 || d["result"].([]any)[1] != "2" {
		t.Errorf("scalar: %v", d)
	}

	// Range: a matrix of [ts, "value"] points.
	_, m = getJSON(t, http.MethodGet, srv.URL+"/prom/api/v1/query_range", url.Values{"query": {`revision_request_count`},
		"start": {end.Add(-10 * time.Second).Format(time.RFC3339)}, "end": {ts}, "step": {"5s"}})
	d := m["data"].(map[string]any)
	if d["resultType"] != "matrix" {
		t.Fatalf("range: %v", m)
	}
	series := d["result"].([]any)[0].(map[string]any)
	values := series["values"].([]any)
	if len(values) != 3 || values[2].([]any)[1] != "15" {
		t.Errorf("range values: %v", values)
	}

	// Errors: Prometheus's envelope, types and statuses.
	for _, c := range []struct {
		path string
		form url.Values
		code int
		typ  string
	}{
		{"/prom/api/v1/query", url.Values{"query": {`sum(`}}, 400, "bad_data"},
		{"/prom/api/v1/query", url.Values{"query": {`up`}, "time": {"yesterday"}}, 400, "bad_data"},
		{"/prom/api/v1/query_range", url.Values{"query": {`up`}, "start": {"10"}, "end": {"20"}, "step": {"0"}}, 400, "bad_data"},
		{"/prom/api/v1/query_range", url.Values{"query": {`up`}, "start": {"0"}, "end": {"100000"}, "step": {"1"}}, 400, "bad_data"},
		{"/prom/api/v1/query", url.Values{"query": {`label_replace(up, "x", "$1", "job", "(")`}}, 422, "execution"},
		{"/prom/api/v1/series", url.Values{}, 400, "bad_data"},
		{"/prom/api/v1/nope", url.Values{}, 404, "not_found"},
	} {
		code, m := getJSON(t, http.MethodGet, srv.URL+c.path, c.form)
		if code != c.code || m["status"] != "error" || m["errorType"] != c.typ || m["error"] == "" {
			t.Errorf("%s %v: got %d %v, want %d %s", c.path, c.form, code, m, c.code, c.typ)
		}
	}
}

// TestRemoteClientReadsOurAPI checks compatibility the other way: Prometheus's
// own Go client (the --prometheus-url Querier) decodes what the API serves.
func TestRemoteClientReadsOurAPI(t *testing.T) {
	db, srv, end := apiFixture(t)
	remote, err := NewRemote(srv.URL+"/prom", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []Querier{db, remote} {
		vec := mustQuery(t, q, `sum by (job) (revision_request_count)`, end)
		if len(vec) != 1 || vec[0].Value != 15 || vec[0].Metric["job"] != "qp" || !vec[0].Timestamp.Time().Equal(end) {
			t.Errorf("%T: %v", q, vec)
		}
		v, err := q.QueryRange(context.Background(), `revision_request_count`, end.Add(-10*time.Second), end, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if mat := v.(model.Matrix); len(mat) != 1 || len(mat[0].Values) != 3 || mat[0].Values[0].Value != 5 {
			t.Errorf("%T range: %v", q, mat)
		}
		if _, err := q.QueryRange(context.Background(), `up`, end, end, 0); err == nil {
			t.Errorf("%T: zero step accepted", q)
		}
	}
	ctx := context.Background()
	names, _, _, err := remote.API().LabelNames(ctx, nil, time.Time{}, time.Time{})
	if err != nil || !strings.Contains(fmt.Sprint(names), "instance, job, namespace_name") {
		t.Errorf("label names: %v %v", names, err)
	}
	jobs, _, _, err := remote.API().LabelValues(ctx, "job", []string{`up`}, time.Time{}, time.Time{})
	if err != nil || len(jobs) != 1 || jobs[0] != "qp" {
		t.Errorf("label values: %v %v", jobs, err)
	}
	series, _, _, err := remote.API().Series(ctx, []string{`revision_request_count`}, end.Add(-time.Minute), end)
	if err != nil || len(series) != 1 || series[0]["response_code_class"] != "2xx" {
		t.Errorf("series: %v %v", series, err)
	}
	bi, err := remote.API().Buildinfo(ctx)
	if err != nil || bi.Version == "" {
		t.Errorf("buildinfo: %+v %v", bi, err)
	}
}
