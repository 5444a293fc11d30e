package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// A board is what a dashboard shows, before it is built with the SDK.
type board struct {
	uid, title, description string
	// extraVars follow datasource, namespace, service and revision.
	extraVars []cog.Builder[dashboard.VariableModel]
	rows      []row
}

type row struct {
	title  string
	panels []panel
}

type panelKind int

const (
	timeseriesPanel panelKind = iota
	statPanel
)

type panel struct {
	kind          panelKind
	title         string
	description   string
	queries       []Query
	width, height uint32
	// steps are the stat thresholds, lowest first; nil is one green step.
	steps []dashboard.Threshold
}

func single(title string, q Query, steps ...dashboard.Threshold) panel {
	return panel{kind: statPanel, title: title, description: q.Description, queries: []Query{q}, width: 6, height: 4, steps: steps}
}

func graph(title, description string, width uint32, qs ...Query) panel {
	if description == "" {
		description = qs[0].Description
	}
	return panel{kind: timeseriesPanel, title: title, description: description, queries: qs, width: width, height: 8}
}

func step(color string, from float64) dashboard.Threshold {
	return dashboard.Threshold{Value: cog.ToPtr(from), Color: color}
}

func base(color string) dashboard.Threshold { return dashboard.Threshold{Color: color} }

// boards returns every dashboard, in file order.
func boards() []board {
	return []board{
		{
			uid: "gantry-overview", title: "Gantry / Overview",
			description: "Request volume, success rate and pods of the selected revisions, from the queue-proxies' request metrics.",
			rows: []row{
				{"Overview (average over the time range)", []panel{
					single("Request volume", RequestVolume),
					single("Success rate (non-5xx)", SuccessRate, base("red"), step("orange", 0.95), step("green", 0.99)),
					single("4xx", ClientErrorRate),
					single("5xx", ServerErrorRate, base("green"), step("red", 0.001)),
				}},
				{"Request volume", []panel{
					graph("Request volume by revision", "", 12, RequestVolumeByRevision),
					graph("Request volume by response code class", "", 12, RequestVolumeByCodeClass),
				}},
				{"Errors and pods", []panel{
					graph("5xx ratio by revision", "", 12, ErrorRatio5xxByRevision),
					graph("Pods by revision", "", 12, PodsByRevision),
				}},
			},
		},
		{
			uid: "gantry-response-time", title: "Gantry / Response time",
			description: "Response time percentiles measured by the queue-proxies, and how much of it is queue wait.",
			rows: []row{
				{"Response time", []panel{
					graph("Response time by revision", "P50, P90, P95 and P99 response time of each revision, queue wait included.", 24,
						LatencyP50ByRevision, LatencyP90ByRevision, LatencyP95ByRevision, LatencyP99ByRevision),
					graph("Response time by response code class", "P50, P90, P95 and P99 response time by response code class.", 24,
						LatencyP50ByCodeClass, LatencyP90ByCodeClass, LatencyP95ByCodeClass, LatencyP99ByCodeClass),
				}},
				{"Queue wait vs app time", []panel{
					graph("Queue wait vs app time (mean)", "Mean time in the queue-proxy, in the app, and the difference: time waiting in the queue-proxy.", 12,
						MeanRequestLatency, MeanAppLatency, MeanQueueWait),
					graph("Queue depth", "", 12, QueueDepthByRevision),
				}},
			},
		},
		{
			uid: "gantry-autoscaler", title: "Gantry / Autoscaler",
			description: "What the request-driven autoscaler (KPA) observes and decides for the selected revisions.",
			rows: []row{
				{"Pods", []panel{
					graph("Pod counts", "Pods the autoscaler wants, has requested from the runtime, and that are ready.", 24,
						DesiredPods, RequestedPods, ActualPods),
				}},
				{"Concurrency", []panel{
					graph("Observed concurrency", "Concurrent requests of the revision over the stable and panic windows.", 12,
						StableConcurrency, PanicConcurrency),
					graph("Concurrency per pod vs target", "Observed concurrency per ready pod against the target per pod: above the target the autoscaler adds pods.", 12,
						StableConcurrencyPerPod, PanicConcurrencyPerPod, TargetConcurrencyPerPod),
				}},
				{"Panic mode and burst capacity", []panel{
					graph("Panic mode", "", 12, PanicMode),
					graph("Excess burst capacity", "", 12, ExcessBurstCapacity),
				}},
				{"Cold starts", []panel{
					graph("Cold starts", "", 12, ColdStartRate),
					graph("Cold start duration", "", 12, ColdStartDurationP50, ColdStartDurationP95),
				}},
			},
		},
		{
			uid: "gantry-resources", title: "Gantry / Resources and cost",
			description: "CPU and memory of the app and the queue-proxy of each revision (cAdvisor), per request and per million requests at the prices set above.",
			extraVars: []cog.Builder[dashboard.VariableModel]{
				dashboard.NewTextBoxVariableBuilder(VarCPUPrice).Label("Price per vCPU-second").
					Description("Price of one vCPU-second, for the cost panels.").
					DefaultValue(dashboard.StringOrMap{String: cog.ToPtr(DefaultCPUPrice)}).
					Current(option(DefaultCPUPrice, DefaultCPUPrice)),
				dashboard.NewTextBoxVariableBuilder(VarMemPrice).Label("Price per GiB-second").
					Description("Price of one GiB of memory for one second, for the cost panels.").
					DefaultValue(dashboard.StringOrMap{String: cog.ToPtr(DefaultMemoryPrice)}).
					Current(option(DefaultMemoryPrice, DefaultMemoryPrice)),
			},
			rows: []row{
				{"Usage", []panel{
					graph("CPU by revision and container", "", 12, CPUByRevision),
					graph("Memory by revision and container", "", 12, MemoryByRevision),
				}},
				{"Efficiency and cost", []panel{
					graph("CPU per request", "", 8, CPUMillisecondsPerRequest),
					graph("Memory per concurrent request", "", 8, MemoryPerConcurrentRequest),
					graph("Cost per million requests", "", 8, CostPerMillionRequests),
				}},
			},
		},
		{
			uid: "gantry-control-plane", title: "Gantry / Control plane",
			description: "Reconcilers, the autoscaler's scrapes of the queue-proxies and the gateway. These series are not per revision: the namespace, service and revision variables do not filter them.",
			rows: []row{
				{"Reconcilers", []panel{
					graph("Reconcile rate", "", 12, ReconcileRate),
					graph("Reconcile duration", "P50 and P99 reconcile duration by kind.", 12, ReconcileLatencyP50, ReconcileLatencyP99),
				}},
				{"Scrapes and gateway", []panel{
					graph("Scrape duration", "P50 and P99 duration of the autoscaler's scrapes of the queue-proxies.", 8, ScrapeDurationP50, ScrapeDurationP99),
					graph("Gateway requests", "", 8, GatewayRequests),
					graph("Gateway routing errors", "", 8, GatewayRoutingErrors),
				}},
			},
		},
	}
}
