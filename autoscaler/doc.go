// Package autoscaler is Gantry's Knative Pod Autoscaler (KPA): the pure logic
// that turns queue-proxy stats into a desired instance count.
//
// The pieces, in the order data flows through them:
//
//   - Stat, SampleSize, Extrapolate: a revision-wide stat from a sample of pods
//     (Knative's stats scraper), and Scraper, the interface the runtime's HTTP
//     scrape of the queue-proxy's port 9090 implements.
//   - RevisionMetrics: one-second buckets over the stable and panic windows
//     (linear or weighted-exponential averages), fed by Record.
//   - Decider: Knative's Scale() — stable/panic windows, rate limits,
//     activation scale, scale-down delay and excess burst capacity.
//   - ApplyBounds: min/max/initial scale and scale to zero with its grace period,
//     as Knative's KPA reconciler applies them after the decider.
//   - SimulateMain: `gantry scale simulate`, the above driven by a CSV trace.
//
// Nothing here reads the clock: every call takes `now`, so windows and panic
// mode are tested deterministically.
package autoscaler
