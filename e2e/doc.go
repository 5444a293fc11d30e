// Package e2e runs the gantry binary for real: `gantry up` on free loopback
// ports in a temporary state directory, driven through its CLI and gateway.
package e2e
