// Package controller drives Gantry's reconcilers: it reads objects from a store,
// computes desired state with the pure functions in controller/reconcile, writes
// it back, and asks a Runtime (local processes, or Kubernetes later) to run the
// revisions. The same reconcile functions serve every runtime.
package controller
