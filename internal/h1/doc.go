// Package h1 is the HTTP/1.1 engine the gateway and the queue-proxy share:
// the request limits both enforce, the client-body accounting that tells a
// client's fault (4xx) from a backend's (5xx), and (as it moves here) the
// parsing, writing and connection pooling of both fast paths.
package h1
