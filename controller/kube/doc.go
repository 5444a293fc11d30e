// Package kube is Gantry's Kubernetes runtime: `gantry controller`. It
// reconciles Gantry's Service, Configuration, Revision, Route and
// DomainMapping custom resources (serving.gantry.dev/v1, CRDs in
// deploy/crds) with the same pure reconcilers the one-machine driver uses
// (controller/reconcile), runs each revision as a Deployment with the
// queue-proxy sidecar, scales it with the KPA (controller/scaling) through
// the Deployment's scale subresource, and serves the gateway/activator from
// the routes it watches.
//
// It is built on controller-runtime: shared informers, rate-limited work
// queues, leader election on a Lease, owner references for garbage
// collection, status conditions and events. The pure builders of the
// objects it writes (Deployments, Services, HTTPRoutes) live in
// resources.go and httproute.go and are tested without a cluster; the
// integration tests run against a real kube-apiserver and etcd built by
// hack/kube-env.sh.
package kube
