// Package local is the one-machine runtime: every revision instance is a local
// process (the user's container command) with a `gantry queue-proxy` process
// in front of it on free ports. Instances are probed for readiness, restarted
// with back-off when they crash, log to files under the state directory, and
// are all stopped, with their process groups, when the runtime closes.
package local
