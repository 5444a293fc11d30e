package queueproxy

import (
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

func labelsOf(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, lp := range m.GetLabel() {
		l[lp.GetName()] = lp.GetValue()
	}
	return l
}

// find returns the series of family name whose labels include want.
func find(t *testing.T, mfs map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	var found *dto.Metric
	for _, m := range mfs[name].GetMetric() {
		l := labelsOf(m)
		match := true
		for k, v := range want {
			if l[k] != v {
				match = false
			}
		}
		if match {
			if found != nil {
				t.Fatalf("%s%v matches more than one series", name, want)
			}
			found = m
		}
	}
	if found == nil {
		t.Fatalf("no %s%v", name, want)
	}
	return found
}

func TestRequestMetrics(t *testing.T) {
	q := startQP(t, testEnv(startApp(t), "CONTAINER_CONCURRENCY", "5", "GANTRY_APP_PID", strconv.Itoa(os.Getpid()),
		"SERVING_SERVICE", ""))
	waitReady(t, q)
	send := func(n int, path string, hdr ...string) {
		for range n {
			get(t, nil, q.url(q.HTTP, path), hdr...)
		}
	}
	send(5, "/")
	send(3, "/?status=404")
	send(2, "/?status=503&sleep=120")
	send(4, "/", "Knative-Serving-Tag", "canary")
	send(1, "/?cpu=50&status=202") // the app (this process) burns measurable CPU

	mfs := scrape(t, q.url(q.Metrics, "/metrics"))
	common := map[string]string{"namespace_name": "ns", "service_name": "unknown", "configuration_name": "cfg",
		"revision_name": "rev-1", "pod_name": "pod-1", "container_name": "queue-proxy"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range common {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		labels []string
		n      float64
	}{
		{[]string{"response_code", "200", "response_code_class", "2xx", "route_tag", "DEFAULT"}, 5},
		{[]string{"response_code", "404", "response_code_class", "4xx", "route_tag", "DEFAULT"}, 3},
		{[]string{"response_code", "503", "response_code_class", "5xx", "route_tag", "DEFAULT"}, 2},
		{[]string{"response_code", "200", "response_code_class", "2xx", "route_tag", "canary"}, 4},
	} {
		if got := find(t, mfs, "revision_request_count", with(tc.labels...)).GetCounter().GetValue(); got != tc.n {
			t.Errorf("revision_request_count%v = %v, want %v", tc.labels, got, tc.n)
		}
		h := find(t, mfs, "revision_request_latencies", with(tc.labels...)).GetHistogram()
		if float64(h.GetSampleCount()) != tc.n {
			t.Errorf("latencies%v count %d", tc.labels, h.GetSampleCount())
		}
		if len(h.GetBucket()) != len(latencyBucketsMS)+1 { // +Inf
			t.Errorf("%d buckets", len(h.GetBucket()))
		}
		// The slow 503s land above 100ms and below 1s; the rest well below 100ms.
		for _, b := range h.GetBucket() {
			var want uint64
			switch {
			case tc.labels[1] == "503" && b.GetUpperBound() < 100:
				want = 0
			case tc.labels[1] == "503" && b.GetUpperBound() >= 1000:
				want = 2
			case tc.labels[1] != "503" && b.GetUpperBound() >= 100:
				want = uint64(tc.n)
			default:
				continue
			}
			if b.GetCumulativeCount() != want {
				t.Errorf("latencies%v le=%v: %d, want %d", tc.labels, b.GetUpperBound(), b.GetCumulativeCount(), want)
			}
		}
	}
	app := find(t, mfs, "revision_app_request_count", with("response_code", "200", "response_code_class", "2xx"))
	if got := app.GetCounter().GetValue(); got != 9 {
		t.Errorf("app 200s = %v, want 9", got)
	}
	if _, ok := labelsOf(app)["route_tag"]; ok {
		t.Error("app metrics must not carry route_tag")
	}
	if h := find(t, mfs, "revision_app_request_latencies", with("response_code", "503")).GetHistogram(); h.GetSampleCount() != 2 {
		t.Errorf("app latencies 503 count %d", h.GetSampleCount())
	}
	if g := find(t, mfs, "revision_queue_depth", common).GetGauge().GetValue(); g != 0 {
		t.Errorf("queue depth %v at rest", g)
	}
	for _, c := range []string{"queue-proxy", "user-container"} {
		l := map[string]string{"namespace": "ns", "pod": "pod-1", "container": c}
		if v := find(t, mfs, "container_cpu_usage_seconds_total", l).GetCounter().GetValue(); v <= 0 {
			t.Errorf("%s cpu %v", c, v)
		}
		if v := find(t, mfs, "container_memory_working_set_bytes", l).GetGauge().GetValue(); v <= 0 {
			t.Errorf("%s memory %v", c, v)
		}
	}
}

func TestExemplarsAndTraceparent(t *testing.T) {
	q := startQP(t, testEnv(startApp(t)))
	waitReady(t, q)
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	req, _ := http.NewRequest("GET", q.url(q.HTTP, "/"), nil)
	req.Header.Set("traceparent", tp)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("traceparent"); got != tp {
		t.Errorf("traceparent back: %q", got)
	}
	req, _ = http.NewRequest("GET", q.url(q.Metrics, "/metrics"), nil)
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `# {trace_id="4bf92f3577b34da6a3ce929d0e0e4736"}`) {
		t.Errorf("no exemplar in OpenMetrics output:\n%s", b)
	}
}

// The app sees the traceparent header.
func TestTraceparentReachesApp(t *testing.T) {
	var got string
	app := startHandlerApp(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("traceparent")
	}))
	q := startQP(t, testEnv(app))
	waitReady(t, q)
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	get(t, nil, q.url(q.HTTP, "/"), "traceparent", tp)
	if got != tp {
		t.Errorf("app got traceparent %q", got)
	}
}
