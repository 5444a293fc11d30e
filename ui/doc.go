// Package ui serves Gantry's HTTP API (apply, get, delete, service discovery,
// control-plane metrics) and its web pages with Echo, on --ui-addr.
package ui
