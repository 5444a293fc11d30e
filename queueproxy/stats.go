package queueproxy

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// Stat is one autoscaler report, Knative's `Stat` message.
type Stat struct {
	PodName                          string  // field 1
	AverageConcurrentRequests        float64 // field 2
	AverageProxiedConcurrentRequests float64 // field 3
	RequestCount                     float64 // field 4, per second
	ProxiedRequestCount              float64 // field 5, per second
	ProcessUptime                    float64 // field 6, seconds
	Timestamp                        int64   // field 7, unix seconds
}

// statShards spreads the per-request bookkeeping over independent locks so
// that concurrent requests rarely contend on the same one.
const statShards = 16

// statShard integrates concurrency over time for the requests it saw.
type statShard struct {
	mu          sync.Mutex
	last        int64 // monotonic ns of the last change
	conc        int64
	proxiedConc int64
	area        float64 // Σ conc·Δt, in ns
	proxiedArea float64
	count       int64
	proxied     int64
	_           [40]byte // keep shards on separate cache lines
}

func (s *statShard) advance(now int64) {
	if dt := float64(now - s.last); dt > 0 {
		s.area += float64(s.conc) * dt
		s.proxiedArea += float64(s.proxiedConc) * dt
	}
	s.last = now
}

// RequestStats computes Knative's time-weighted concurrency and request rate.
type RequestStats struct {
	start  time.Time
	shards [statShards]statShard
}

// NewRequestStats returns stats whose clock starts at now.
func NewRequestStats(now time.Time) *RequestStats {
	return &RequestStats{start: now}
}

func (rs *RequestStats) mono(now time.Time) int64 { return int64(now.Sub(rs.start)) }

// In records a request arrival and returns the shard that must see its Out.
func (rs *RequestStats) In(now time.Time, proxied bool) int {
	i := int(rand.Uint32() % statShards)
	s := &rs.shards[i]
	t := rs.mono(now)
	s.mu.Lock()
	s.advance(t)
	s.conc++
	s.count++
	if proxied {
		s.proxiedConc++
		s.proxied++
	}
	s.mu.Unlock()
	return i
}

// Out records the end of a request counted by In on shard i.
func (rs *RequestStats) Out(now time.Time, i int, proxied bool) {
	s := &rs.shards[i]
	t := rs.mono(now)
	s.mu.Lock()
	s.advance(t)
	s.conc--
	if proxied {
		s.proxiedConc--
	}
	s.mu.Unlock()
}

// Concurrency is the number of requests in flight now.
func (rs *RequestStats) Concurrency() int64 {
	var n int64
	for i := range rs.shards {
		s := &rs.shards[i]
		s.mu.Lock()
		n += s.conc
		s.mu.Unlock()
	}
	return n
}

// Report closes the window that began at the previous report (or at start)
// and returns its averages; counts are divided by the window length.
func (rs *RequestStats) report(now time.Time, windowStart time.Time) (avg, proxiedAvg, rate, proxiedRate float64) {
	t := rs.mono(now)
	var area, parea float64
	var count, proxied int64
	for i := range rs.shards {
		s := &rs.shards[i]
		s.mu.Lock()
		s.advance(t)
		area += s.area
		parea += s.proxiedArea
		count += s.count
		proxied += s.proxied
		s.area, s.proxiedArea, s.count, s.proxied = 0, 0, 0, 0
		s.mu.Unlock()
	}
	window := float64(now.Sub(windowStart))
	if window <= 0 {
		return 0, 0, 0, 0
	}
	secs := window / float64(time.Second)
	return area / window, parea / window, float64(count) / secs, float64(proxied) / secs
}

// StatsReporter publishes a Stat every period for the stats port to serve.
type StatsReporter struct {
	stats   *RequestStats
	pod     string
	period  time.Duration
	now     func() time.Time
	latest  atomic.Pointer[Stat]
	started time.Time
	last    time.Time
}

// NewStatsReporter reports stats every period (Knative: 1s) under the pod name.
func NewStatsReporter(stats *RequestStats, pod string, period time.Duration, now func() time.Time) *StatsReporter {
	if now == nil {
		now = time.Now
	}
	t := now()
	r := &StatsReporter{stats: stats, pod: pod, period: period, now: now, started: t, last: t}
	r.latest.Store(&Stat{PodName: pod, Timestamp: t.Unix()})
	return r
}

// Tick closes the current window at now and publishes it.
func (r *StatsReporter) Tick(now time.Time) *Stat {
	avg, pavg, rate, prate := r.stats.report(now, r.last)
	r.last = now
	st := &Stat{
		PodName:                          r.pod,
		AverageConcurrentRequests:        avg,
		AverageProxiedConcurrentRequests: pavg,
		RequestCount:                     rate,
		ProxiedRequestCount:              prate,
		ProcessUptime:                    now.Sub(r.started).Seconds(),
		Timestamp:                        now.Unix(),
	}
	r.latest.Store(st)
	return st
}

// Run ticks every period until ctx ends.
func (r *StatsReporter) Run(ctx context.Context) {
	t := time.NewTicker(r.period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.Tick(r.now())
		}
	}
}

// Latest is the most recently published report.
func (r *StatsReporter) Latest() *Stat { return r.latest.Load() }

// StatsHandler serves the latest Stat: protobuf when the client accepts
// application/protobuf (what Knative's autoscaler sends), else Prometheus text.
func StatsHandler(r *StatsReporter, e Env) http.Handler {
	labels := fmt.Sprintf(`{destination_namespace=%q,destination_configuration=%q,destination_revision=%q,destination_pod=%q}`,
		e.Namespace, e.Configuration, e.Revision, e.Pod)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		st := r.Latest()
		if strings.Contains(req.Header.Get("Accept"), "application/protobuf") ||
			strings.Contains(req.Header.Get("Accept"), "application/x-protobuf") {
			w.Header().Set("Content-Type", "application/protobuf")
			w.Write(EncodeStat(nil, st))
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		var b []byte
		gauge := func(name, help string, v float64) {
			b = fmt.Appendf(b, "# HELP %s %s\n# TYPE %s gauge\n%s%s %s\n", name, help, name, name, labels,
				strconv.FormatFloat(v, 'g', -1, 64))
		}
		gauge("queue_requests_per_second", "Number of requests received since last Stat", st.RequestCount)
		gauge("queue_proxied_operations_per_second", "Number of proxied requests received since last Stat", st.ProxiedRequestCount)
		gauge("queue_average_concurrent_requests", "Number of requests currently being handled by this pod", st.AverageConcurrentRequests)
		gauge("queue_average_proxied_concurrent_requests", "Number of proxied requests currently being handled by this pod", st.AverageProxiedConcurrentRequests)
		gauge("process_uptime", "The number of seconds that the process has been up", st.ProcessUptime)
		w.Write(b)
	})
}

// EncodeStat appends st in protobuf wire format (proto3: zero fields omitted).
func EncodeStat(b []byte, st *Stat) []byte {
	if st.PodName != "" {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, st.PodName)
	}
	for i, v := range [...]float64{st.AverageConcurrentRequests, st.AverageProxiedConcurrentRequests,
		st.RequestCount, st.ProxiedRequestCount, st.ProcessUptime} {
		if v != 0 {
			b = protowire.AppendTag(b, protowire.Number(2+i), protowire.Fixed64Type)
			b = protowire.AppendFixed64(b, math.Float64bits(v))
		}
	}
	if st.Timestamp != 0 {
		b = protowire.AppendTag(b, 7, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(st.Timestamp))
	}
	return b
}

// DecodeStat parses a Stat in protobuf wire format, skipping unknown fields.
func DecodeStat(b []byte) (Stat, error) {
	var st Stat
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return st, fmt.Errorf("decode stat: %w", protowire.ParseError(n))
		}
		b = b[n:]
		var dbl *float64
		switch num {
		case 2:
			dbl = &st.AverageConcurrentRequests
		case 3:
			dbl = &st.AverageProxiedConcurrentRequests
		case 4:
			dbl = &st.RequestCount
		case 5:
			dbl = &st.ProxiedRequestCount
		case 6:
			dbl = &st.ProcessUptime
		}
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, n := protowire.ConsumeString(b)
			if n < 0 {
				return st, fmt.Errorf("decode stat: pod_name: %w", protowire.ParseError(n))
			}
			st.PodName, b = v, b[n:]
		case dbl != nil && typ == protowire.Fixed64Type:
			v, n := protowire.ConsumeFixed64(b)
			if n < 0 {
				return st, fmt.Errorf("decode stat: field %d: %w", num, protowire.ParseError(n))
			}
			*dbl, b = math.Float64frombits(v), b[n:]
		case num == 7 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return st, fmt.Errorf("decode stat: timestamp: %w", protowire.ParseError(n))
			}
			st.Timestamp, b = int64(v), b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return st, fmt.Errorf("decode stat: field %d: %w", num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	return st, nil
}
