package gateway

import "sync/atomic"

// Endpoints maps "namespace/revision" to the addresses (host:port) of the
// revision's ready queue-proxies.
type Endpoints map[string][]string

// EndpointKey is the Endpoints key of a revision.
func EndpointKey(namespace, revision string) string { return namespace + "/" + revision }

// endpointSet round-robins over one revision's addresses.
type endpointSet struct {
	addrs []string
	next  atomic.Uint64
}

func (s *endpointSet) pick() (string, bool) {
	if len(s.addrs) == 0 {
		return "", false
	}
	n := s.next.Add(1)
	return s.addrs[n%uint64(len(s.addrs))], true
}
