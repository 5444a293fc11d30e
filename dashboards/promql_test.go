package dashboards

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// querySeries is one minute-by-minute scenario for the dashboard queries,
// with Kubernetes-style pod names. Counters grow so that every rate over 5m
// is exact in binary floating point.
//
//   - hello-00001 (pod hello-00001-deployment-5d8f-x7k2p): 9 2xx and 1 5xx
//     request/s; the app uses 0.5 vCPU and 96 MiB, the queue-proxy 0.25 vCPU
//     (reported twice: by the kubelet's cAdvisor and by the queue-proxy) and
//     32 MiB; stable concurrency 4; mean latency 50 ms of which 40 ms in the
//     app; every request between 25 and 50 ms; one cold start a second.
//   - hello-00001-canary (pod hello-00001-canary-deployment-9c4b-q2w3e): a
//     revision whose name extends hello-00001's, which a pod-name prefix join
//     would count as hello-00001; it has a breaker (revision_queue_depth).
//   - pod-level cAdvisor series (container "" and "POD") that must not count.
const querySeries = `
      - series: 'revision_request_count{namespace_name="default", service_name="hello", configuration_name="hello", revision_name="hello-00001", pod_name="hello-00001-deployment-5d8f-x7k2p", container_name="queue-proxy", response_code="200", response_code_class="2xx", route_tag="default"}'
        values: '0+540x10'
      - series: 'revision_request_count{namespace_name="default", service_name="hello", configuration_name="hello", revision_name="hello-00001", pod_name="hello-00001-deployment-5d8f-x7k2p", container_name="queue-proxy", response_code="503", response_code_class="5xx", route_tag="default"}'
        values: '0+60x10'
      - series: 'revision_request_latencies_sum{namespace_name="default", service_name="hello", configuration_name="hello", revision_name="hello-00001", pod_name="hello-00001-deployment-5d8f-x7k2p", response_code_class="2xx"}'
        values: '0+30000x10'
      - series: 'revision_request_latencies_count{namespace_name="default", service_name="hello", configuration_name="hello", revision_name="hello-00001", pod_name="hello-00001-deployment-5d8f-x7k2p", response_code_class="2xx"}'
        values: '0+600x10'
      - series: 'revision_app_request_latencies_sum{namespace_name="default", service_name="hello", configuration_name="hello", revision_name="hello-00001", pod_name="hello-00001-deployment-5d8f-x7k2p", response_code_class="2xx"}'
        values: '0+24000x10'
      - series: 'revision_app_request_latencies_count{namespace_name="default", service_name="hello", configuration_name="hello", revision_name="hello-00001", pod_name="hello-00001-deployment-5d8f-x7k2p", response_code_class="2xx"}'
        values: '0+600x10'
      - series: 'revision_request_latencies_bucket{namespace_name="default", service_name="hello", configuration_name="hello", revision_name="hello-00001", pod_name="hello-00001-deployment-5d8f-x7k2p", response_code_class="2xx", le="25"}'
        values: '0x10'
      - series: 'revision_request_latencies_bucket{namespace_name="default", service_name="hello", configuration_name="hello", revision_name="hello-00001", pod_name="hello-00001-deployment-5d8f-x7k2p", response_code_class="2xx", le="50"}'
        values: '0+600x10'
      - series: 'revision_request_latencies_bucket{namespace_name="default", service_name="hello", configuration_name="hello", revision_name="hello-00001", pod_name="hello-00001-deployment-5d8f-x7k2p", response_code_class="2xx", le="+Inf"}'
        values: '0+600x10'
      - series: 'autoscaler_stable_request_concurrency{namespace_name="default", service_name="hello", configuration_name="hello", revision_name="hello-00001"}'
        values: '4x10'
      - series: 'activator_cold_start_seconds_count{namespace_name="default", revision_name="hello-00001"}'
        values: '0+60x10'
      - series: 'container_cpu_usage_seconds_total{job="kubelet", namespace="default", pod="hello-00001-deployment-5d8f-x7k2p", container="user-container"}'
        values: '0+30x10'
      - series: 'container_cpu_usage_seconds_total{job="kubelet", namespace="default", pod="hello-00001-deployment-5d8f-x7k2p", container="queue-proxy"}'
        values: '0+15x10'
      - series: 'container_cpu_usage_seconds_total{job="queue-proxy", namespace="default", pod="hello-00001-deployment-5d8f-x7k2p", container="queue-proxy"}'
        values: '0+15x10'
      - series: 'container_cpu_usage_seconds_total{job="kubelet", namespace="default", pod="hello-00001-deployment-5d8f-x7k2p", container=""}'
        values: '0+45x10'
      - series: 'container_cpu_usage_seconds_total{job="kubelet", namespace="default", pod="hello-00001-deployment-5d8f-x7k2p", container="POD"}'
        values: '0+1x10'
      - series: 'container_memory_working_set_bytes{job="kubelet", namespace="default", pod="hello-00001-deployment-5d8f-x7k2p", container="user-container"}'
        values: '100663296x10'
      - series: 'container_memory_working_set_bytes{job="kubelet", namespace="default", pod="hello-00001-deployment-5d8f-x7k2p", container="queue-proxy"}'
        values: '33554432x10'
      - series: 'revision_request_count{namespace_name="default", service_name="hello", configuration_name="hello", revision_name="hello-00001-canary", pod_name="hello-00001-canary-deployment-9c4b-q2w3e", container_name="queue-proxy", response_code="200", response_code_class="2xx", route_tag="canary"}'
        values: '0+60x10'
      - series: 'revision_queue_depth{namespace_name="default", service_name="hello", configuration_name="hello", revision_name="hello-00001-canary", pod_name="hello-00001-canary-deployment-9c4b-q2w3e", container_name="queue-proxy"}'
        values: '0x10'
      - series: 'container_cpu_usage_seconds_total{job="kubelet", namespace="default", pod="hello-00001-canary-deployment-9c4b-q2w3e", container="user-container"}'
        values: '0+15x10'
      - series: 'container_memory_working_set_bytes{job="kubelet", namespace="default", pod="hello-00001-canary-deployment-9c4b-q2w3e", container="user-container"}'
        values: '134217728x10'
`

// TestPromtoolQueries evaluates rendered dashboard queries on Prometheus
// (promtool's promql_expr_test) and checks their values, the cAdvisor join
// and the cost arithmetic included.
func TestPromtoolQueries(t *testing.T) {
	promtool(t)
	hello := `namespace_name="default", revision_name="hello-00001", service_name="hello"`
	canary := `namespace_name="default", revision_name="hello-00001-canary", service_name="hello"`
	prices := map[string]string{VarCPUPrice: "0.5", VarMemPrice: "0.25"}
	cases := []struct {
		q    Query
		sel  Selector
		vars map[string]string
		want map[string]string // labels -> value
	}{
		{q: RequestVolume, want: map[string]string{`{}`: "11"}},
		{q: SuccessRate, sel: Selector{Revision: "hello-00001"}, want: map[string]string{`{}`: "0.9"}},
		{q: ErrorRatio5xxByRevision, want: map[string]string{"{" + hello + "}": "0.1", "{" + canary + "}": "0"}},
		{q: LatencyP50ByRevision, sel: Selector{Revision: "hello-00001"}, want: map[string]string{"{" + hello + "}": "37.5"}},
		{q: MeanQueueWait, want: map[string]string{"{" + hello + "}": "10"}},
		{q: ColdStartRate, sel: Selector{Namespace: "default"}, want: map[string]string{`{namespace_name="default", revision_name="hello-00001"}`: "60"}},
		{q: CPUByRevision, want: map[string]string{
			"{" + hello + `, container="user-container"}`:  "0.5",
			"{" + hello + `, container="queue-proxy"}`:     "0.25",
			"{" + canary + `, container="user-container"}`: "0.25",
		}},
		// The canary's pod is not hello-00001's, though its name starts the same.
		{q: MemoryByRevision, sel: Selector{Service: "hello", Revision: "hello-00001"}, want: map[string]string{
			"{" + hello + `, container="user-container"}`: "100663296",
			"{" + hello + `, container="queue-proxy"}`:    "33554432",
		}},
		{q: CPUMillisecondsPerRequest, want: map[string]string{"{" + hello + "}": "75", "{" + canary + "}": "250"}},
		{q: MemoryPerConcurrentRequest, want: map[string]string{"{" + hello + "}": "33554432"}},
		// 1e6 × (0.75 vCPU × 0.5 + 0.125 GiB × 0.25) / 10 requests/s, and
		// 1e6 × (0.25 vCPU × 0.5 + 0.125 GiB × 0.25) / 1 request/s.
		{q: CostPerMillionRequests, vars: prices, sel: Selector{Namespace: "default"}, want: map[string]string{"{" + hello + "}": "40625", "{" + canary + "}": "156250"}},
	}
	var b strings.Builder
	b.WriteString("rule_files: []\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:")
	b.WriteString(querySeries)
	b.WriteString("    promql_expr_test:\n")
	for _, c := range cases {
		expr, err := c.q.Render(RenderOptions{Selector: c.sel, Vars: c.vars})
		if err != nil {
			t.Fatal(err)
		}
		// Rounded to 6 decimals: promtool compares floats exactly.
		expr = "round(1e6 * (" + expr + ")) / 1e6"
		fmt.Fprintf(&b, "      # %s\n      - expr: '%s'\n        eval_time: 10m\n        exp_samples:\n", c.q.ID, strings.ReplaceAll(expr, "'", "''"))
		for labels, value := range c.want {
			fmt.Fprintf(&b, "          - labels: '%s'\n            value: %s\n", labels, value)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "queries_test.yml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runPromtool(t, dir, "test", "rules", "queries_test.yml")
	if err != nil || !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules: %v\n%s\n%s", err, out, b.String())
	}
}
