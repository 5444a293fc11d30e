package gateway

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// Target is one weighted destination of a host: a revision in a namespace.
type Target struct {
	Namespace string
	Revision  string
	Percent   int64
	Tag       string // the traffic target's tag, "" for untagged
	// H2C sends requests to the instances' h2c port with HTTP/2 (the
	// revision's container port is named h2c: gRPC).
	H2C bool
	// GRPC sends only gRPC requests to the h2c port (a revision with both an
	// http1 and an h2c port); GRPCService, when set, limits that to requests
	// for that gRPC service (/SERVICE/Method).
	GRPC        bool
	GRPCService string
	// Timeout bounds the wait for a ready instance (the revision's timeoutSeconds).
	Timeout time.Duration
	// ContainerConcurrency, when > 0, limits the requests the activator
	// releases to each ready instance.
	ContainerConcurrency int
	// Throttle sends every request through the activator's throttle (the
	// revision's excess burst capacity is negative): at most
	// ContainerConcurrency in flight per ready instance, the rest wait.
	Throttle bool

	count *atomic.Uint64 // requests sent through the route's main host
	key   string         // EndpointKey(Namespace, Revision), resolved once
	// The Knative-Serving-* values, made once: set in every request's
	// header without allocating (never modified in place).
	hdrRevision, hdrNamespace, hdrTag []string
}

// RouteEntry is what one host serves. A route's main host carries all its
// weighted targets; each tag host carries the single tagged target at 100.
type RouteEntry struct {
	Host      string
	Namespace string
	Route     string
	Tag       string // set for tag hosts
	Targets   []Target
	// RewriteHost, when set, replaces the Host header sent to the app
	// (a DomainMapping's host is rewritten to its route's own host).
	RewriteHost string
	// PathPrefix, when set, limits the entry to request paths under it
	// ("/coffee" matches /coffee and /coffee/beans); the longest prefix wins.
	PathPrefix string
}

// Table maps hosts to their targets. It is immutable once built.
type Table struct {
	hosts map[string]*hostRoute
}

type hostRoute struct {
	entry RouteEntry
	// prefixed holds the host's entries with a PathPrefix, longest first.
	prefixed []*hostRoute
	// placeholder: the host has only prefixed entries; other paths are unknown.
	placeholder bool
	// cumulative percents, for a weighted pick with one number in [0, 1).
	cum   []int64
	total int64
	// Picks walk a golden-ratio sequence from a random phase rather than
	// drawing independent random numbers: any run of consecutive requests
	// splits within a request or two of the percents (a 10% canary gets
	// its 10 of the first 100), where random draws stray by ±sqrt(n).
	phase uint64
	seq   atomic.Uint64
}

// NewTable builds a table; a host listed twice is an error naming it.
func NewTable(entries []RouteEntry) (*Table, error) {
	t := &Table{hosts: make(map[string]*hostRoute, len(entries))}
	for _, e := range entries {
		h := strings.ToLower(e.Host)
		e.PathPrefix = strings.TrimSuffix(e.PathPrefix, "/")
		e.Targets = append([]Target(nil), e.Targets...)
		for i := range e.Targets {
			tg := &e.Targets[i]
			tg.key = EndpointKey(tg.Namespace, tg.Revision)
			tg.hdrRevision, tg.hdrNamespace = []string{tg.Revision}, []string{tg.Namespace}
			if tg.Tag != "" {
				tg.hdrTag = []string{tg.Tag}
			}
		}
		hr := &hostRoute{entry: e, phase: rand.Uint64()}
		for _, tg := range e.Targets {
			if tg.Percent < 0 {
				return nil, fmt.Errorf("host %q: negative percent for revision %s", h, tg.Revision)
			}
			hr.total += tg.Percent
			hr.cum = append(hr.cum, hr.total)
		}
		base, exists := t.hosts[h]
		switch {
		case e.PathPrefix == "" && exists && !base.placeholder:
			return nil, fmt.Errorf("host %q is claimed twice (route %s/%s)", h, e.Namespace, e.Route)
		case e.PathPrefix == "" && exists:
			hr.prefixed = base.prefixed
			t.hosts[h] = hr
		case e.PathPrefix == "":
			t.hosts[h] = hr
		default:
			if !exists {
				base = &hostRoute{entry: RouteEntry{Host: e.Host}, placeholder: true}
				t.hosts[h] = base
			}
			for _, p := range base.prefixed {
				if p.entry.PathPrefix == e.PathPrefix {
					return nil, fmt.Errorf("host %q path %q is claimed twice (route %s/%s)", h, e.PathPrefix, e.Namespace, e.Route)
				}
			}
			base.prefixed = append(base.prefixed, hr)
			sort.SliceStable(base.prefixed, func(i, j int) bool {
				return len(base.prefixed[i].entry.PathPrefix) > len(base.prefixed[j].entry.PathPrefix)
			})
		}
	}
	return t, nil
}

// routes calls fn for every entry of the table.
func (t *Table) routes(fn func(*hostRoute)) {
	for _, hr := range t.hosts {
		if !hr.placeholder {
			fn(hr)
		}
		for _, p := range hr.prefixed {
			fn(p)
		}
	}
}

// match picks the entry of a host for a request path: the longest matching
// path prefix, else the host's own entry.
func (hr *hostRoute) match(path string) (*hostRoute, bool) {
	for _, p := range hr.prefixed {
		pre := p.entry.PathPrefix
		if strings.HasPrefix(path, pre) && (len(path) == len(pre) || path[len(pre)] == '/') {
			return p, true
		}
	}
	return hr, !hr.placeholder
}

// Len is the number of hosts.
func (t *Table) Len() int { return len(t.hosts) }

// Lookup returns the entry for host (any port stripped, case-insensitive).
func (t *Table) Lookup(host string) (*RouteEntry, bool) {
	hr, ok := t.lookup(host)
	if !ok {
		return nil, false
	}
	return &hr.entry, true
}

func (t *Table) lookup(host string) (*hostRoute, bool) {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	hr, ok := t.hosts[host]
	if !ok {
		hr, ok = t.hosts[strings.ToLower(host)]
	}
	return hr, ok
}

// pick chooses a target by weight; r is uniform in [0, 1). Targets at 0
// percent are never picked for the main host.
func (hr *hostRoute) pick(r float64) (*Target, bool) {
	if hr.total <= 0 {
		return nil, false
	}
	n := int64(r * float64(hr.total))
	for i, c := range hr.cum {
		if n < c {
			return &hr.entry.Targets[i], true
		}
	}
	return &hr.entry.Targets[len(hr.entry.Targets)-1], true
}

// golden is 2^64/φ: the step of the sequence, in fixed point.
const golden = 0x9E3779B97F4A7C15

// pickNext picks the next target of the sequence; safe for concurrent use.
func (hr *hostRoute) pickNext() (*Target, bool) {
	if len(hr.cum) == 1 {
		return hr.pick(0)
	}
	x := hr.phase + hr.seq.Add(1)*golden // wraps: the fraction of n/φ
	return hr.pick(float64(x>>11) / (1 << 53))
}
