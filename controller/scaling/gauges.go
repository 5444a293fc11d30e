package scaling

import "github.com/prometheus/client_golang/prometheus"

// gauges are Knative's autoscaler metrics, by revision.
type gauges struct {
	desired, actual, requested, stable, panic, target, ebc, panicMode *prometheus.GaugeVec
	reason                                                            *prometheus.GaugeVec
	scrapeDuration                                                    prometheus.Histogram
	scrapeErrors                                                      prometheus.Counter
	lastReason                                                        map[string]string
}

var revLabels = []string{"namespace_name", "service_name", "configuration_name", "revision_name"}

func newGauges(reg prometheus.Registerer) *gauges {
	g := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, revLabels)
	}
	m := &gauges{
		desired:   g("autoscaler_desired_pods", "Number of pods the autoscaler wants."),
		actual:    g("autoscaler_actual_pods", "Number of pods that are ready."),
		requested: g("autoscaler_requested_pods", "Number of pods the autoscaler asked the runtime for."),
		stable:    g("autoscaler_stable_request_concurrency", "Average concurrency over the stable window, revision-wide."),
		panic:     g("autoscaler_panic_request_concurrency", "Average concurrency over the panic window, revision-wide."),
		target:    g("autoscaler_target_concurrency_per_pod", "The concurrency target per pod."),
		ebc:       g("autoscaler_excess_burst_capacity", "Excess burst capacity over the panic window."),
		panicMode: g("autoscaler_panic_mode", "1 while the autoscaler is in panic mode."),
		reason: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gantry_autoscaler_decision",
			Help: "1 for the reason of the last decision of each revision."}, append(append([]string(nil), revLabels...), "reason")),
		scrapeDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "gantry_autoscaler_scrape_duration_seconds",
			Help: "Time to scrape one revision's queue-proxies.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 12)}),
		scrapeErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "gantry_autoscaler_scrape_errors_total",
			Help: "Revision scrapes that got no stat from any pod."}),
		lastReason: map[string]string{},
	}
	if reg != nil {
		reg.MustRegister(m.desired, m.actual, m.requested, m.stable, m.panic, m.target, m.ebc, m.panicMode, m.reason, m.scrapeDuration, m.scrapeErrors)
	}
	return m
}

func labels(in RevisionInput) []string {
	return []string{in.Namespace, in.Service, in.Configuration, in.Name}
}

func (m *gauges) record(in RevisionInput, d Decision) {
	l := labels(in)
	if d.Desired >= 0 {
		m.desired.WithLabelValues(l...).Set(float64(d.Desired))
	}
	m.actual.WithLabelValues(l...).Set(float64(d.Ready))
	m.requested.WithLabelValues(l...).Set(float64(d.Scale))
	m.stable.WithLabelValues(l...).Set(d.Stable)
	m.panic.WithLabelValues(l...).Set(d.Panic)
	m.target.WithLabelValues(l...).Set(d.Target)
	m.ebc.WithLabelValues(l...).Set(float64(d.EBC))
	p := 0.0
	if d.InPanic {
		p = 1
	}
	m.panicMode.WithLabelValues(l...).Set(p)
	reason := d.BoundsReason
	if reason == "" || reason == "desired" {
		reason = d.DecisionReason
	}
	k := in.Namespace + "/" + in.Name
	if old, ok := m.lastReason[k]; ok && old != reason {
		m.reason.DeleteLabelValues(append(l, old)...)
	}
	m.lastReason[k] = reason
	m.reason.WithLabelValues(append(l, reason)...).Set(1)
}

func (m *gauges) forget(in RevisionInput) {
	l := labels(in)
	for _, v := range []*prometheus.GaugeVec{m.desired, m.actual, m.requested, m.stable, m.panic, m.target, m.ebc, m.panicMode} {
		v.DeleteLabelValues(l...)
	}
	k := in.Namespace + "/" + in.Name
	if old, ok := m.lastReason[k]; ok {
		m.reason.DeleteLabelValues(append(l, old)...)
		delete(m.lastReason, k)
	}
}
