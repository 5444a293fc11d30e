package gateway

import (
	"fmt"
	"math/rand/v2"
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
	// Timeout bounds the wait for a ready instance (the revision's timeoutSeconds).
	Timeout time.Duration

	count *atomic.Uint64 // requests sent through the route's main host
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
}

// Table maps hosts to their targets. It is immutable once built.
type Table struct {
	hosts map[string]*hostRoute
}

type hostRoute struct {
	entry RouteEntry
	// cumulative percents, for a weighted pick with one random number.
	cum   []int64
	total int64
}

// NewTable builds a table; a host listed twice is an error naming it.
func NewTable(entries []RouteEntry) (*Table, error) {
	t := &Table{hosts: make(map[string]*hostRoute, len(entries))}
	for _, e := range entries {
		h := strings.ToLower(e.Host)
		if _, dup := t.hosts[h]; dup {
			return nil, fmt.Errorf("host %q is claimed twice (route %s/%s)", h, e.Namespace, e.Route)
		}
		e.Targets = append([]Target(nil), e.Targets...)
		hr := &hostRoute{entry: e}
		for _, tg := range e.Targets {
			if tg.Percent < 0 {
				return nil, fmt.Errorf("host %q: negative percent for revision %s", h, tg.Revision)
			}
			hr.total += tg.Percent
			hr.cum = append(hr.cum, hr.total)
		}
		t.hosts[h] = hr
	}
	return t, nil
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

func (hr *hostRoute) pickRandom() (*Target, bool) { return hr.pick(rand.Float64()) }
