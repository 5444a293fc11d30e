package gateway

import "sync/atomic"

// Endpoint is one ready instance: its queue-proxy's HTTP/1 and h2c addresses.
type Endpoint struct {
	HTTP string // host:port of the HTTP/1.1 proxy (Knative's 8012)
	H2C  string // host:port of the h2c proxy (Knative's 8013), for gRPC
	// Unix is the path of a Unix socket serving what HTTP does, for a
	// queue-proxy on this machine: the HTTP/1 fast path then skips loopback
	// TCP on that hop. "": none.
	Unix string
}

// Endpoints maps "namespace/revision" to the revision's ready instances.
type Endpoints map[string][]Endpoint

// EndpointKey is the Endpoints key of a revision.
func EndpointKey(namespace, revision string) string { return namespace + "/" + revision }

// endpointSet round-robins over one revision's addresses.
type endpointSet struct {
	addrs []Endpoint
	next  atomic.Uint64
}

func (s *endpointSet) pick() (Endpoint, bool) {
	if len(s.addrs) == 0 {
		return Endpoint{}, false
	}
	n := s.next.Add(1)
	return s.addrs[n%uint64(len(s.addrs))], true
}
