// Package metrics is Gantry's embedded metrics engine for `gantry up`: a
// Prometheus TSDB under the state directory, a scraper for the stack's own
// targets (the control plane and every queue-proxy), in-process PromQL, rule
// evaluation with alert notification, and a subset of Prometheus's HTTP API
// so that Grafana, the UI and scripts can query it as if it were Prometheus.
//
// Everything that stores, parses, evaluates or encodes is Prometheus's own
// code (tsdb, model/textparse, promql, rules); this package only wires it.
// With --prometheus-url the UI queries a real Prometheus instead, through the
// same Querier interface (NewRemote).
package metrics
