// Package gateway is the ingress every request crosses first: it maps the Host
// header to a route, picks a revision by the route's traffic weights and an
// instance of that revision, and proxies the request to the instance's
// queue-proxy. The route table and the endpoints are swapped atomically, so
// lookups take no lock and cost the same with ten routes or ten thousand.
package gateway
