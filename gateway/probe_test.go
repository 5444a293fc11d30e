package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// A probe is answered by the gateway itself with the hash of the traffic it
// serves for the host, changes with the split, is a 404 for a host it does
// not serve, and is never counted as a request.
func TestProbeAnswersTheServedTraffic(t *testing.T) {
	reg := prometheus.NewRegistry()
	g := New(Options{Registry: reg})
	g.SetTable(mustTable(t, entry("hello.default.localhost", target("hello-1", 80), target("hello-2", 20))))
	front := httptest.NewServer(g)
	t.Cleanup(front.Close)
	probe := func(host string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", front.URL+"/", nil)
		req.Host = host
		req.Header.Set(ProbeHeader, "probe")
		resp, err := front.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get(HashHeader)
	}
	want := TrafficHash([]Target{target("hello-1", 80), target("hello-2", 20)})
	if code, h := probe("hello.default.localhost"); code != 200 || h != want {
		t.Errorf("probe: %d %q, want 200 %q", code, h, want)
	}
	if code, h := probe("other.default.localhost"); code != 404 || h != "" {
		t.Errorf("probe of an unknown host: %d %q, want 404 and no hash", code, h)
	}
	g.SetTable(mustTable(t, entry("hello.default.localhost", target("hello-1", 50), target("hello-2", 50))))
	if _, h := probe("hello.default.localhost"); h == want || h != TrafficHash([]Target{target("hello-1", 50), target("hello-2", 50)}) {
		t.Errorf("after the split changed the probe says %q", h)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "gantry_gateway_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if v := m.GetCounter().GetValue(); v != 0 {
				t.Errorf("probes counted as requests: %v %v", m.GetLabel(), v)
			}
		}
	}
	if TrafficHash([]Target{target("a", 100)}) == TrafficHash([]Target{{Namespace: "other", Revision: "a", Percent: 100}}) {
		t.Error("the hash ignores the namespace")
	}
	if h := TrafficHash(nil); len(h) != 16 || strings.Trim(h, "0123456789abcdef") != "" {
		t.Errorf("hash %q, want 16 hex digits", h)
	}
}
