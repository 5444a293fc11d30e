// Package scaling runs the KPA for every revision on one machine: it scrapes
// each ready instance's queue-proxy stats every second, ticks the deciders of
// package autoscaler every two seconds, applies Knative's bounds and
// scale-to-zero rules, and publishes the scale and Knative's autoscaler
// metrics. The activator pokes it so a revision at zero scales up at once.
package scaling
