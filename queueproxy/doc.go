// Package queueproxy is Gantry's per-instance sidecar, compatible with Knative's
// queue-proxy: it sits between the gateway and one instance of the user app and
// enforces containerConcurrency (breaker), answers readiness probes, drains on
// shutdown, applies the revision's timeouts, and reports what it sees: autoscaler
// stats on the stats port and per-request Prometheus metrics on the metrics port.
//
// Main is the entry point; the handler chain is assembled in buildHandler
// (proxy.go), innermost layer first.
package queueproxy
