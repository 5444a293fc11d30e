// Package wire holds what Gantry's API (package apiserver) and its web UI
// (package ui) share on --ui-addr: the one error body, the one auth
// middleware, and the JSON shapes both serve (service discovery groups, a
// route's traffic). It imports neither, so both can use it.
package wire
