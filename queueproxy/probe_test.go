package queueproxy

import (
	"net/http"
	"strings"
	"testing"
)

func TestProbeHeaders(t *testing.T) {
	q := startQP(t, testEnv(startApp(t)))
	waitReady(t, q)
	for _, tc := range []struct {
		hdr  []string
		code int
		body string
	}{
		{[]string{"K-Network-Probe", "queue"}, 200, "queue"},
		{[]string{"User-Agent", "kube-probe/1.31"}, 200, "queue"},
		{[]string{"K-Kubelet-Probe", "x"}, 200, "queue"},
		{[]string{"User-Agent", "Knative-Activator-Probe"}, 200, "queue"},
		{[]string{"K-Network-Probe", "bogus"}, 400, "unexpected probe header value: bogus\n"},
		{[]string{"K-Network-Probe", "probe"}, 400, "no hash header\n"},
		{[]string{"K-Network-Probe", "probe", "K-Network-Hash", "abc"}, 200, ""},
	} {
		code, body := get(t, nil, q.url(q.HTTP, "/?status=500"), tc.hdr...)
		if code != tc.code || body != tc.body {
			t.Errorf("%v: got %d %q, want %d %q", tc.hdr, code, body, tc.code, tc.body)
		}
	}
	// Probes never reach the app, the breaker or the metrics.
	_, m := get(t, nil, q.url(q.Metrics, "/metrics"))
	if strings.Contains(m, "revision_request_count{") {
		t.Errorf("probes were counted:\n%s", m)
	}
	// The admin port answers health too.
	if code, body := get(t, nil, q.url(q.Admin, "/")); code != 200 || body != "queue" {
		t.Errorf("admin health: %d %q", code, body)
	}
}

func TestProbeAppNotReady(t *testing.T) {
	// An HTTP probe of a path the app fails, with a period so health answers at once.
	app := startApp(t)
	q := startQP(t, testEnv(app, "SERVING_READINESS_PROBE",
		`{"httpGet":{"path":"/?status=503"},"periodSeconds":1}`))
	for range 3 {
		if code, _ := get(t, nil, q.url(q.HTTP, "/"), "K-Network-Probe", "queue"); code != 503 {
			t.Fatalf("not-ready app: got %d, want 503", code)
		}
	}
	// Traffic still passes: readiness is the gateway's business.
	if code, _ := get(t, nil, q.url(q.HTTP, "/")); code != 200 {
		t.Fatalf("traffic: %d", code)
	}
}

func TestProbeHTTPReady(t *testing.T) {
	q := startQP(t, testEnv(startApp(t), "SERVING_READINESS_PROBE", `{"httpGet":{"path":"/healthz"}}`))
	// Aggressive probing: the first health check waits for readiness.
	if code, body := get(t, nil, q.url(q.HTTP, "/"), "K-Network-Probe", "queue"); code != 200 || body != "queue" {
		t.Fatalf("got %d %q", code, body)
	}
}

func TestClassifyProbe(t *testing.T) {
	for _, tc := range []struct {
		h    http.Header
		want probeKind
	}{
		{http.Header{}, notProbe},
		{http.Header{"User-Agent": {"curl/8"}}, notProbe},
		{http.Header{"K-Network-Probe": {""}}, notProbe},
		{http.Header{"K-Network-Probe": {"queue"}}, healthProbe},
		{http.Header{"K-Network-Probe": {"probe"}}, hashProbe},
		{http.Header{"User-Agent": {"Knative-Autoscaling-Probe"}}, healthProbe},
	} {
		if got := classifyProbe(&http.Request{Header: tc.h}); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.h, got, tc.want)
		}
	}
}
