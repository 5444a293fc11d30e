package gateway

import (
	"sync"
	"sync/atomic"
	"time"
)

// counters count requests per route target, across table swaps, so the
// observed traffic split can be compared with the configured one.
type counters struct {
	mu sync.Mutex
	m  map[string]*atomic.Uint64 // "namespace/route/revision"
}

func (c *counters) get(ns, route, rev string) *atomic.Uint64 {
	k := ns + "/" + route + "/" + rev
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*atomic.Uint64{}
	}
	n := c.m[k]
	if n == nil {
		n = new(atomic.Uint64)
		c.m[k] = n
	}
	return n
}

func (c *counters) snapshot() map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]uint64, len(c.m))
	for k, v := range c.m {
		out[k] = v.Load()
	}
	return out
}

// ShareWindow keeps snapshots of the request counters to tell how requests
// were split over the last minute.
type ShareWindow struct {
	mu    sync.Mutex
	snaps []snap
	keep  time.Duration
}

type snap struct {
	at     time.Time
	counts map[string]uint64
}

// Sample records the gateway's counters at now; call it every few seconds.
func (w *ShareWindow) Sample(g *Gateway, now time.Time) {
	s := snap{at: now, counts: g.counts.snapshot()}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.keep == 0 {
		w.keep = time.Minute
	}
	w.snaps = append(w.snaps, s)
	// Keep one snapshot at or before now-keep as the window's start.
	for len(w.snaps) > 2 && !w.snaps[1].at.After(now.Add(-w.keep)) {
		w.snaps = w.snaps[1:]
	}
}

// Requests returns, per revision, the requests a route's main host sent it
// over the window (up to the last sample), and the window's length.
func (w *ShareWindow) Requests(namespace, route string) (map[string]uint64, time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]uint64{}
	if len(w.snaps) == 0 {
		return out, 0
	}
	first, last := w.snaps[0], w.snaps[len(w.snaps)-1]
	prefix := namespace + "/" + route + "/"
	for k, v := range last.counts {
		if len(k) > len(prefix) && k[:len(prefix)] == prefix {
			out[k[len(prefix):]] = v - first.counts[k]
		}
	}
	return out, last.at.Sub(first.at)
}
