package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/exporters/otlptest"
)

// tracedApp answers with the trace context it received, after 20ms.
const tracedApp = `package main

import (
	"net/http"
	"os"
	"time"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
		w.Header().Set("X-Seen-Traceparent", r.Header.Get("Traceparent"))
		w.Header().Set("X-Seen-Baggage", r.Header.Get("Baggage"))
		w.Write([]byte("traced\n"))
	})
	http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil)
}
`

func buildTracedApp(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(tracedApp), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module tracedapp\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "tracedapp")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build traced app: %v\n%s", err, out)
	}
	return bin
}

// TestTracingColdStartOTLP is issue 8's acceptance: with OTLP export to a
// real gRPC receiver, a request through gateway → activator (cold) →
// queue-proxy → app makes one trace whose spans nest and whose durations
// add up, the app sees the propagated context, the same trace is in gantry
// up's store, and the queue-proxy's metrics arrive over OTLP with the values
// it serves on its metrics port.
func TestTracingColdStartOTLP(t *testing.T) {
	rcv, err := otlptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer rcv.Stop()
	app := buildTracedApp(t)
	for k, v := range map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + rcv.Addr, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
		"OTEL_BSP_SCHEDULE_DELAY": "200", "OTEL_METRIC_EXPORT_INTERVAL": "500"} {
		t.Setenv(k, v)
	}
	s := startStack(t, "", "--trace-sampling", "1")
	s.mustGantry(fastScaleConfig+"---\n"+fmt.Sprintf(`apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: traced
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/window: "6s"
    spec:
      containerConcurrency: 4
      containers:
        - image: example/traced
          command: [%q]
`, app), "apply", "-f", "-")
	waitFor(t, 60*time.Second, "traced to serve", func() bool {
		code, body, err := s.request("traced.default.localhost", "/")
		return err == nil && code == 200 && body == "traced\n"
	})
	waitFor(t, 90*time.Second, "traced-00001 to scale to zero", func() bool { return s.actual("traced-00001") == 0 })

	const traceID, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.gateway+"/work", nil)
	req.Host = "traced.default.localhost"
	req.Header.Set("Traceparent", "00-"+traceID+"-"+callerSpan+"-01")
	req.Header.Set("Baggage", "tenant=e2e")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Gantry-Cold-Start") != "true" {
		t.Fatalf("%s cold-start=%q, want 200 after a cold start", resp.Status, resp.Header.Get("Gantry-Cold-Start"))
	}
	seen := resp.Header.Get("X-Seen-Traceparent")
	if !strings.HasPrefix(seen, "00-"+traceID+"-") || !strings.HasSuffix(seen, "-01") || resp.Header.Get("X-Seen-Baggage") != "tenant=e2e" {
		t.Fatalf("the app saw traceparent %q baggage %q, want the caller's trace, sampled", seen, resp.Header.Get("X-Seen-Baggage"))
	}

	// Seven spans: gateway server, activator, cold start, gateway client,
	// queue-proxy server, queue-proxy client (no queue wait: one request).
	byKey := map[string]otlptest.Span{}
	waitFor(t, 15*time.Second, "the trace's spans at the OTLP receiver", func() bool {
		for _, sp := range rcv.Spans() {
			if sp.TraceID() == traceID {
				byKey[sp.Service+" "+sp.Name+" "+sp.Kind.String()] = sp
			}
		}
		return len(byKey) >= 6
	})
	get := func(key string) otlptest.Span {
		sp, ok := byKey[key]
		if !ok {
			keys := []string{}
			for k := range byKey {
				keys = append(keys, k)
			}
			t.Fatalf("no span %q; have %q", key, keys)
		}
		return sp
	}
	gwSrv := get("gantry-gateway GET SPAN_KIND_SERVER")
	act := get("gantry-gateway activator SPAN_KIND_INTERNAL")
	cold := get("gantry-gateway activator.cold_start SPAN_KIND_INTERNAL")
	gwCli := get("gantry-gateway GET SPAN_KIND_CLIENT")
	qpSrv := get("traced GET SPAN_KIND_SERVER")
	qpCli := get("traced GET SPAN_KIND_CLIENT")
	for _, c := range []struct {
		child, parent otlptest.Span
		what          string
	}{{act, gwSrv, "activator in gateway"}, {cold, act, "cold start in activator"}, {gwCli, act, "proxy call in activator"},
		{qpSrv, gwCli, "queue-proxy in the gateway's call"}, {qpCli, qpSrv, "app call in queue-proxy"}} {
		if c.child.ParentID() != c.parent.SpanID() {
			t.Errorf("%s: parent %s, want %s", c.what, c.child.ParentID(), c.parent.SpanID())
		}
		if c.child.StartTimeUnixNano < c.parent.StartTimeUnixNano || c.child.EndTimeUnixNano > c.parent.EndTimeUnixNano+uint64(time.Millisecond) {
			t.Errorf("%s: child [%d, %d] not within parent [%d, %d]", c.what, c.child.StartTimeUnixNano, c.child.EndTimeUnixNano,
				c.parent.StartTimeUnixNano, c.parent.EndTimeUnixNano)
		}
	}
	if gwSrv.ParentID() != callerSpan {
		t.Errorf("gateway span's parent %s, want the caller's %s", gwSrv.ParentID(), callerSpan)
	}
	if !strings.Contains(seen, "-"+qpCli.SpanID()+"-") {
		t.Errorf("the app's parent is %q, want the queue-proxy's client span %s", seen, qpCli.SpanID())
	}
	dur := func(sp otlptest.Span) time.Duration { return time.Duration(sp.EndTimeUnixNano - sp.StartTimeUnixNano) }
	// Durations add up: the activator's time is the cold start plus the
	// proxied call, and the app's 20ms is inside every hop's span.
	if rest := dur(act) - dur(cold) - dur(gwCli); rest < 0 || rest > 50*time.Millisecond {
		t.Errorf("activator %s = cold start %s + call %s + %s: want the remainder small", dur(act), dur(cold), dur(gwCli), rest)
	}
	if cold.EndTimeUnixNano > gwCli.StartTimeUnixNano {
		t.Error("the proxied call started before the cold start ended")
	}
	if dur(qpCli) < 20*time.Millisecond || dur(gwSrv)-dur(qpCli) < dur(cold) {
		t.Errorf("app call %s, gateway %s, cold start %s: the app's time and the wait must both be in the gateway's span",
			dur(qpCli), dur(gwSrv), dur(cold))
	}
	if gwSrv.Attr("kn.revision.name") != "traced-00001" || qpSrv.Resource["kn.revision.name"] != "traced-00001" ||
		qpSrv.Resource["k8s.namespace.name"] != "default" || qpSrv.Resource["k8s.pod.name"] == "" {
		t.Errorf("attributes: gateway %v, queue-proxy resource %v", gwSrv.GetAttributes(), qpSrv.Resource)
	}

	// The same trace in gantry up's store.
	var stored struct {
		SpanList []struct{ Name, Service, ParentSpanID string } `json:"spanList"`
	}
	waitFor(t, 10*time.Second, "the trace in gantry up's store", func() bool {
		return s.getJSON("/api/v1/traces/"+traceID, &stored) == nil && len(stored.SpanList) >= 6
	})
	page, err := http.Get("http://" + s.ui + "/traces/" + traceID)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != 200 || !strings.Contains(string(html), "<svg") || !strings.Contains(string(html), "activator.cold_start") {
		t.Errorf("waterfall page: %s", page.Status)
	}

	// Metrics over OTLP equal the queue-proxy's metrics port.
	var sd []struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	if err := s.getJSON("/api/v1/sd", &sd); err != nil {
		t.Fatal(err)
	}
	metricsAddr := ""
	for _, g := range sd {
		if g.Labels["__meta_gantry_revision"] == "traced-00001" {
			metricsAddr = g.Targets[0]
		}
	}
	if metricsAddr == "" {
		t.Fatalf("no metrics target for traced-00001 in %v", sd)
	}
	scraped := scrapeValue(t, "http://"+metricsAddr+"/metrics", `revision_request_count{`, `response_code="200"`)
	waitFor(t, 10*time.Second, "revision_request_count over OTLP to equal the scrape", func() bool {
		v, ok := rcv.LastSum("revision_request_count", map[string]string{"kn.revision.name": "traced-00001"},
			map[string]string{"response_code": "200", "revision_name": "traced-00001"})
		return ok && v == scraped
	})
	lat := scrapeValue(t, "http://"+metricsAddr+"/metrics", `revision_request_latencies_count{`, `response_code="200"`)
	waitFor(t, 10*time.Second, "revision_request_latencies count over OTLP to equal the scrape", func() bool {
		v, ok := rcv.LastSum("revision_request_latencies", map[string]string{"kn.revision.name": "traced-00001"},
			map[string]string{"response_code": "200"})
		return ok && v == lat
	})
}

// scrapeValue returns the value of the first series starting with prefix
// and containing label.
func scrapeValue(t *testing.T, url, prefix, label string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, prefix) && strings.Contains(line, label) {
			f := strings.Fields(line[strings.LastIndex(line, "}")+1:])
			v, err := strconv.ParseFloat(f[0], 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	t.Fatalf("no %s%s at %s", prefix, label, url)
	return 0
}
