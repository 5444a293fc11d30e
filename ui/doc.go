// Package ui serves Gantry's web pages and their JSON (/api/ui/...) with
// Echo, on --ui-addr beside the API of package apiserver, which mounts it.
package ui
