// Package apiserver is Gantry's control-plane HTTP API on --ui-addr: apply,
// get, list, watch and delete of Knative objects, a revision's instances, a
// route's traffic, Prometheus service discovery and the control plane's own
// metrics. New serves it together with the web pages of package ui; both
// answer errors as wire.Error and sit behind one wire.RequireToken.
// docs/api.md describes every route in Routes (a test keeps them in step).
package apiserver
