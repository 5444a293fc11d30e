// Package dashboards defines every PromQL query Gantry shows or alerts on, and
// generates from them the Grafana dashboards (with grafana-foundation-sdk) and
// the Prometheus recording and alerting rules.
//
// queries.go is the one place where a query is written. A Query's Expr is a
// Grafana template: it uses the dashboard variables $namespace, $service and
// $revision inside label matchers, $__rate_interval as the range of rate(), and
// for the cost panels $cpu_price and $memory_price. Query.Render turns the
// template into plain PromQL for concrete label values and a window, which is
// how the alert rules (rules.go) and the web UI use the same definitions.
//
// The generated files live in deploy/grafana/dashboards and
// deploy/prometheus/rules.yml; tests fail when they are out of date, and
//
//	go generate ./dashboards
//
// rewrites them together with the golden files in testdata.
package dashboards

//go:generate go test -run "TestGolden|TestDeployFilesUpToDate|TestKustomizationUpToDate" -update .
