package dashboards

import (
	"fmt"
	"strings"
)

// Query is one PromQL query, defined once and used by the dashboards, the
// alert rules and the web UI.
type Query struct {
	// ID is stable and unique, in snake_case ("request_volume_by_revision").
	ID string
	// Title names what the query measures, for a panel or a UI chart.
	Title string
	// Legend is the Grafana legend format of each series ("{{revision_name}}").
	Legend string
	// Expr is the PromQL template. It may use $namespace, $service and
	// $revision only as label-matcher values, $__rate_interval as a range,
	// and $cpu_price and $memory_price as numbers. Render substitutes them.
	Expr string
	// Unit is a Grafana unit id ("reqps", "ms", "bytes", "percentunit").
	Unit string
	// Description says what the query shows, for panel descriptions and tooltips.
	Description string
	// MinWindow, when set, is the shortest range Render puts in place of
	// $__rate_interval: a rate over cAdvisor's counters needs two of its
	// samples, which are 10-15 s apart whatever the scrape interval.
	MinWindow string
}

// Grafana unit ids used by the queries.
const (
	UnitRequestsPerSecond = "reqps"
	UnitOpsPerSecond      = "ops"
	UnitOpsPerMinute      = "opm"
	UnitPercentUnit       = "percentunit"
	UnitMilliseconds      = "ms"
	UnitSeconds           = "s"
	UnitBytes             = "bytes"
	UnitShort             = "short"
	UnitOnOff             = "bool_on_off"
	UnitUSD               = "currencyUSD"
)

// Label matchers shared by the queries. revSel selects the queue-proxy and
// autoscaler series of the revisions picked in the dashboard variables.
const (
	revSel = `namespace_name=~"$namespace", service_name=~"$service", revision_name=~"$revision"`
	// activatorSel selects the activator's series, which have no
	// service_name: the dashboards' revision variable lists the service's
	// revisions when "All" is picked.
	activatorSel = `namespace_name=~"$namespace", revision_name=~"$revision"`
	// byRev is the grouping of every per-revision query; it is also the label
	// set of the recording rules and alerts.
	byRev = `namespace_name, service_name, revision_name`
)

// Containers of a revision's pod as cAdvisor labels them.
const (
	ContainerApp        = "user-container"
	ContainerQueueProxy = "queue-proxy"
)

// Default prices of the cost panels, per vCPU-second and per GiB-second of
// memory (the list prices of a common pay-per-use serverless offer). The
// dashboard shows them as editable textbox variables.
const (
	DefaultCPUPrice    = "0.000024"
	DefaultMemoryPrice = "0.0000025"
)

func requests(extra string) string {
	return `rate(revision_request_count{` + revSel + extra + `}[$__rate_interval])`
}

func sumByRev(expr string) string { return `sum by (` + byRev + `) (` + expr + `)` }

// byPod attaches namespace_name, service_name and revision_name to a cAdvisor
// vector (labels namespace, pod, container) and keeps only the pods of the
// selected revisions. This is the join that works on one machine and on
// Kubernetes alike: cAdvisor's pod label is the pod's name (on one machine
// the queue-proxy exports the cAdvisor names itself, for the instance), and
// the queue-proxy of that pod reports the same name as pod_name on its own
// series. Matching (namespace, pod) with (namespace_name, pod_name) is exact,
// where a pod-name prefix match (pod=~"$revision-.*") would also catch a
// revision whose name extends another's ("hello-v1" and "hello-v1-canary").
// The queue-proxy series used are revision_queue_depth (exported while the
// pod lives when it has a breaker, containerConcurrency > 0) and the request
// counters (once the pod served a request). max by (namespace, pod,
// container) removes duplicates when two sources report the same container
// (the kubelet's cAdvisor and the queue-proxy's own collector).
func byPod(cadvisor string) string {
	return `label_replace(label_replace(max by (namespace, pod, container) (` + cadvisor + `), "namespace_name", "$1", "namespace", "(.*)"), "pod_name", "$1", "pod", "(.*)")` +
		` * on (namespace_name, pod_name) group_left (service_name, revision_name)` +
		` group by (namespace_name, service_name, revision_name, pod_name) (` +
		`revision_queue_depth{` + revSel + `} or revision_request_count{` + revSel + `} or revision_app_request_count{` + revSel + `})`
}

const podContainers = `namespace=~"$namespace", container=~"` + ContainerApp + `|` + ContainerQueueProxy + `"`

// cadvisorWindow is the MinWindow of queries over cAdvisor's rates: a 30 s
// window holds one of its samples at times, and the container's CPU then
// drops out of the sum.
const cadvisorWindow = "1m"

var (
	cpuByPod    = byPod(`rate(container_cpu_usage_seconds_total{` + podContainers + `}[$__rate_interval])`)
	memoryByPod = byPod(`container_memory_working_set_bytes{` + podContainers + `}`)
)

// Overview.
var (
	RequestVolume = Query{
		ID: "request_volume", Title: "Request volume", Legend: "requests/s", Unit: UnitRequestsPerSecond,
		Expr:        `sum(` + requests(``) + `)`,
		Description: "Requests per second answered by the queue-proxies of the selected revisions.",
	}
	SuccessRate = Query{
		ID: "success_rate", Title: "Success rate (non-5xx)", Legend: "success rate", Unit: UnitPercentUnit,
		Expr:        `sum(` + requests(`, response_code_class!="5xx"`) + `) / sum(` + requests(``) + `)`,
		Description: "Share of responses that are not 5xx.",
	}
	ClientErrorRate = Query{
		ID: "client_error_rate", Title: "4xx rate", Legend: "4xx/s", Unit: UnitRequestsPerSecond,
		Expr:        `sum(` + requests(`, response_code_class="4xx"`) + `) or vector(0)`,
		Description: "4xx responses per second.",
	}
	ServerErrorRate = Query{
		ID: "server_error_rate", Title: "5xx rate", Legend: "5xx/s", Unit: UnitRequestsPerSecond,
		Expr:        `sum(` + requests(`, response_code_class="5xx"`) + `) or vector(0)`,
		Description: "5xx responses per second.",
	}
	RequestVolumeByRevision = Query{
		ID: "request_volume_by_revision", Title: "Request volume by revision", Legend: "{{revision_name}}", Unit: UnitRequestsPerSecond,
		Expr:        sumByRev(requests(``)),
		Description: "Requests per second of each revision.",
	}
	RequestVolumeByCodeClass = Query{
		ID: "request_volume_by_code_class", Title: "Request volume by response code class", Legend: "{{response_code_class}}", Unit: UnitRequestsPerSecond,
		Expr:        `sum by (response_code_class) (` + requests(``) + `)`,
		Description: "Requests per second by response code class (2xx, 3xx, 4xx, 5xx).",
	}
	// ErrorRatio5xxByRevision is 0, not absent, for a revision that served
	// requests but no 5xx, so recorded ratios and graphs have no gaps.
	ErrorRatio5xxByRevision = Query{
		ID: "error_ratio_5xx_by_revision", Title: "5xx ratio by revision", Legend: "{{revision_name}}", Unit: UnitPercentUnit,
		Expr: `(` + sumByRev(requests(`, response_code_class="5xx"`)) + ` or 0 * ` + sumByRev(requests(``)) + `)` +
			` / ` + sumByRev(requests(``)),
		Description: "Share of each revision's responses that are 5xx; the SLI of the availability alerts.",
	}
	PodsByRevision = Query{
		ID: "pods_by_revision", Title: "Pods by revision", Legend: "{{revision_name}}", Unit: UnitShort,
		Expr:        sumByRev(`autoscaler_actual_pods{` + revSel + `}`),
		Description: "Ready pods (instances) of each revision, as the autoscaler sees them.",
	}
)

// Response time.
var (
	LatencyP50ByRevision  = latencyByRevision(0.50)
	LatencyP90ByRevision  = latencyByRevision(0.90)
	LatencyP95ByRevision  = latencyByRevision(0.95)
	LatencyP99ByRevision  = latencyByRevision(0.99)
	LatencyP50ByCodeClass = latencyByCodeClass(0.50)
	LatencyP90ByCodeClass = latencyByCodeClass(0.90)
	LatencyP95ByCodeClass = latencyByCodeClass(0.95)
	LatencyP99ByCodeClass = latencyByCodeClass(0.99)
	MeanRequestLatency    = meanLatency("mean_request_latency", "Total time in queue-proxy", "total", "revision_request_latencies")
	MeanAppLatency        = meanLatency("mean_app_latency", "Time in the app", "app", "revision_app_request_latencies")
	MeanQueueWait         = Query{
		ID: "mean_queue_wait", Title: "Time waiting in queue-proxy", Legend: "{{revision_name}} queue wait", Unit: UnitMilliseconds,
		Expr:        `clamp_min(` + MeanRequestLatency.Expr + ` - ` + MeanAppLatency.Expr + `, 0)`,
		Description: "Mean time a request waits in the queue-proxy (breaker queue and proxying) before and after the app handles it: total minus app time.",
	}
	QueueDepthByRevision = Query{
		ID: "queue_depth_by_revision", Title: "Queue depth by revision", Legend: "{{revision_name}}", Unit: UnitShort,
		Expr:        sumByRev(`revision_queue_depth{` + revSel + `}`),
		Description: "Requests waiting in the queue-proxies' breaker queues.",
	}
)

func pct(q float64) string { return fmt.Sprintf("p%d", int(q*100+0.5)) }

func latencyByRevision(q float64) Query {
	p := pct(q)
	return Query{
		ID: "latency_" + p + "_by_revision", Title: strings.ToUpper(p) + " response time by revision",
		Legend: "{{revision_name}} " + p, Unit: UnitMilliseconds,
		Expr: fmt.Sprintf(`histogram_quantile(%g, sum by (%s, le) (rate(revision_request_latencies_bucket{%s}[$__rate_interval])))`,
			q, byRev, revSel),
		Description: "Response time measured by the queue-proxy, queue wait included.",
	}
}

func latencyByCodeClass(q float64) Query {
	p := pct(q)
	return Query{
		ID: "latency_" + p + "_by_code_class", Title: strings.ToUpper(p) + " response time by response code class",
		Legend: "{{response_code_class}} " + p, Unit: UnitMilliseconds,
		Expr: fmt.Sprintf(`histogram_quantile(%g, sum by (response_code_class, le) (rate(revision_request_latencies_bucket{%s}[$__rate_interval])))`,
			q, revSel),
		Description: "Response time measured by the queue-proxy, by response code class.",
	}
}

func meanLatency(id, title, legend, histogram string) Query {
	return Query{
		ID: id, Title: title, Legend: "{{revision_name}} " + legend, Unit: UnitMilliseconds,
		Expr: sumByRev(`rate(`+histogram+`_sum{`+revSel+`}[$__rate_interval])`) +
			` / ` + sumByRev(`rate(`+histogram+`_count{`+revSel+`}[$__rate_interval])`),
		Description: "Mean of " + histogram + ".",
	}
}

// Autoscaler.
var (
	DesiredPods   = autoscalerGauge("desired_pods", "Desired pods", "desired", "autoscaler_desired_pods", "Pods the autoscaler wants.")
	ActualPods    = autoscalerGauge("actual_pods", "Actual pods", "actual", "autoscaler_actual_pods", "Ready pods.")
	RequestedPods = autoscalerGauge("requested_pods", "Requested pods", "requested", "autoscaler_requested_pods",
		"Pods requested from the runtime (Deployment replicas or local processes).")
	StableConcurrency = autoscalerGauge("stable_concurrency", "Stable concurrency", "stable", "autoscaler_stable_request_concurrency",
		"Concurrent requests of the revision averaged over the stable window (60s by default).")
	PanicConcurrency = autoscalerGauge("panic_concurrency", "Panic concurrency", "panic", "autoscaler_panic_request_concurrency",
		"Concurrent requests of the revision averaged over the panic window (6s by default).")
	TargetConcurrencyPerPod = autoscalerGauge("target_concurrency_per_pod", "Target concurrency per pod", "target per pod",
		"autoscaler_target_concurrency_per_pod", "Concurrency per pod the autoscaler aims at (target × target utilization).")
	StableConcurrencyPerPod = perPod(StableConcurrency, "stable_concurrency_per_pod", "Stable concurrency per pod", "stable per pod")
	PanicConcurrencyPerPod  = perPod(PanicConcurrency, "panic_concurrency_per_pod", "Panic concurrency per pod", "panic per pod")
	ExcessBurstCapacity     = autoscalerGauge("excess_burst_capacity", "Excess burst capacity", "EBC", "autoscaler_excess_burst_capacity",
		"Spare capacity beyond the target burst capacity; negative means the activator stays in the request path.")
	PanicMode = Query{
		ID: "panic_mode", Title: "Panic mode", Legend: "{{revision_name}}", Unit: UnitOnOff,
		Expr:        `max by (` + byRev + `) (autoscaler_panic_mode{` + revSel + `})`,
		Description: "1 while the autoscaler is in panic mode.",
	}
	ColdStartRate = Query{
		ID: "cold_start_rate", Title: "Cold starts", Legend: "{{revision_name}}", Unit: UnitOpsPerMinute,
		Expr:        `60 * sum by (namespace_name, revision_name) (rate(activator_cold_start_seconds_count{` + activatorSel + `}[$__rate_interval]))`,
		Description: "Requests per minute that found the revision scaled to zero and waited for a pod.",
	}
	ColdStartDurationP50 = coldStart(0.50)
	ColdStartDurationP95 = coldStart(0.95)
)

func autoscalerGauge(id, title, legend, metric, desc string) Query {
	return Query{
		ID: id, Title: title, Legend: "{{revision_name}} " + legend, Unit: UnitShort,
		Expr: sumByRev(metric + `{` + revSel + `}`), Description: desc,
	}
}

func perPod(q Query, id, title, legend string) Query {
	return Query{
		ID: id, Title: title, Legend: "{{revision_name}} " + legend, Unit: UnitShort,
		Expr:        q.Expr + ` / (` + ActualPods.Expr + ` > 0)`,
		Description: q.Description + " Divided by the ready pods, to compare with the target per pod.",
	}
}

func coldStart(q float64) Query {
	p := pct(q)
	return Query{
		ID: "cold_start_duration_" + p, Title: strings.ToUpper(p) + " cold start duration", Legend: "{{revision_name}} " + p, Unit: UnitSeconds,
		Expr: fmt.Sprintf(`histogram_quantile(%g, sum by (namespace_name, revision_name, le) (rate(activator_cold_start_seconds_bucket{%s}[$__rate_interval])))`,
			q, activatorSel),
		Description: "Time a request waited in the activator for the first pod of a revision scaled to zero.",
	}
}

// Resources and cost.
var (
	CPUByRevision = Query{
		ID: "cpu_by_revision", Title: "CPU by revision and container", Legend: "{{revision_name}} {{container}}", Unit: UnitShort,
		Expr:        `sum by (` + byRev + `, container) (` + cpuByPod + `)`,
		Description: "vCPU used (CPU-seconds per second) by the app (user-container) and the queue-proxy.",
		MinWindow:   cadvisorWindow,
	}
	MemoryByRevision = Query{
		ID: "memory_by_revision", Title: "Memory by revision and container", Legend: "{{revision_name}} {{container}}", Unit: UnitBytes,
		Expr:        `sum by (` + byRev + `, container) (` + memoryByPod + `)`,
		Description: "Working-set memory of the app (user-container) and the queue-proxy.",
	}
	CPUMillisecondsPerRequest = Query{
		ID: "cpu_ms_per_request", Title: "CPU per request", Legend: "{{revision_name}}", Unit: UnitMilliseconds,
		Expr:        `1000 * ` + sumByRev(cpuByPod) + ` / (` + sumByRev(requests(``)) + ` > 0)`,
		Description: "CPU-milliseconds (app and queue-proxy) spent per request.",
		MinWindow:   cadvisorWindow,
	}
	MemoryPerConcurrentRequest = Query{
		ID: "memory_per_concurrent_request", Title: "Memory per concurrent request", Legend: "{{revision_name}}", Unit: UnitBytes,
		Expr:        sumByRev(memoryByPod) + ` / (` + StableConcurrency.Expr + ` > 0)`,
		Description: "Working-set memory (app and queue-proxy) divided by the stable concurrency.",
	}
	CostPerMillionRequests = Query{
		ID: "cost_per_million_requests", Title: "Cost per million requests", Legend: "{{revision_name}}", Unit: UnitUSD,
		Expr: `1e6 * (` + sumByRev(cpuByPod) + ` * $cpu_price + ` + sumByRev(memoryByPod) + ` / 1073741824 * $memory_price)` +
			` / (` + sumByRev(requests(``)) + ` > 0)`,
		Description: "vCPU-seconds × $cpu_price plus GiB-seconds × $memory_price, per million requests (app and queue-proxy).",
		MinWindow:   cadvisorWindow,
	}
)

// Control plane. These series have no namespace, service or revision labels.
var (
	ReconcileRate = Query{
		ID: "reconcile_rate", Title: "Reconciles", Legend: "{{kind}} {{result}}", Unit: UnitOpsPerSecond,
		Expr:        `sum by (kind, result) (rate(gantry_reconcile_total[$__rate_interval]))`,
		Description: "Reconciles per second by kind and result.",
	}
	ReconcileLatencyP50 = histogramQuantile("reconcile_latency_p50", "P50 reconcile duration", "{{kind}} p50", 0.50, "kind", "gantry_reconcile_duration_seconds")
	ReconcileLatencyP99 = histogramQuantile("reconcile_latency_p99", "P99 reconcile duration", "{{kind}} p99", 0.99, "kind", "gantry_reconcile_duration_seconds")
	ScrapeDurationP50   = histogramQuantile("scrape_duration_p50", "P50 scrape duration", "p50", 0.50, "", "gantry_scrape_duration_seconds")
	ScrapeDurationP99   = histogramQuantile("scrape_duration_p99", "P99 scrape duration", "p99", 0.99, "", "gantry_scrape_duration_seconds")
	GatewayRequests     = Query{
		ID: "gateway_requests_by_code_class", Title: "Gateway requests", Legend: "{{code_class}}", Unit: UnitRequestsPerSecond,
		Expr:        `sum by (code_class) (rate(gantry_gateway_requests_total[$__rate_interval]))`,
		Description: "Requests per second through the gateway by response code class.",
	}
	GatewayRoutingErrors = Query{
		ID: "gateway_routing_errors", Title: "Gateway routing errors", Legend: "{{reason}}", Unit: UnitRequestsPerSecond,
		Expr:        `sum by (reason) (rate(gantry_gateway_routing_errors_total[$__rate_interval]))`,
		Description: "Requests per second the gateway could not route, by reason (no such host, no ready revision, ...).",
	}
)

func histogramQuantile(id, title, legend string, q float64, by, metric string) Query {
	group := "le"
	if by != "" {
		group = by + ", le"
	}
	return Query{
		ID: id, Title: title, Legend: legend, Unit: UnitSeconds,
		Expr:        fmt.Sprintf(`histogram_quantile(%g, sum by (%s) (rate(%s_bucket[$__rate_interval])))`, q, group, metric),
		Description: "From the histogram " + metric + ".",
	}
}

// Queries returns every query, in the order the dashboards show them.
func Queries() []Query {
	return []Query{
		RequestVolume, SuccessRate, ClientErrorRate, ServerErrorRate,
		RequestVolumeByRevision, RequestVolumeByCodeClass, ErrorRatio5xxByRevision, PodsByRevision,
		LatencyP50ByRevision, LatencyP90ByRevision, LatencyP95ByRevision, LatencyP99ByRevision,
		LatencyP50ByCodeClass, LatencyP90ByCodeClass, LatencyP95ByCodeClass, LatencyP99ByCodeClass,
		MeanRequestLatency, MeanAppLatency, MeanQueueWait, QueueDepthByRevision,
		DesiredPods, ActualPods, RequestedPods,
		StableConcurrency, PanicConcurrency, StableConcurrencyPerPod, PanicConcurrencyPerPod, TargetConcurrencyPerPod,
		PanicMode, ExcessBurstCapacity, ColdStartRate, ColdStartDurationP50, ColdStartDurationP95,
		CPUByRevision, MemoryByRevision, CPUMillisecondsPerRequest, MemoryPerConcurrentRequest, CostPerMillionRequests,
		ReconcileRate, ReconcileLatencyP50, ReconcileLatencyP99, ScrapeDurationP50, ScrapeDurationP99,
		GatewayRequests, GatewayRoutingErrors,
	}
}

// QueryByID returns the query with the given ID.
func QueryByID(id string) (Query, bool) {
	for _, q := range Queries() {
		if q.ID == id {
			return q, true
		}
	}
	return Query{}, false
}
