package scaling

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/queueproxy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeStats serves a fixed queue-proxy Stat in protobuf on a real socket.
type fakeStats struct {
	mu   sync.Mutex
	stat queueproxy.Stat
	srv  *httptest.Server
	hits int
}

func newFakeStats(t *testing.T, conc float64) *fakeStats {
	f := &fakeStats{stat: queueproxy.Stat{AverageConcurrentRequests: conc, RequestCount: conc}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.hits++
		if r.Header.Get("Accept") != "application/protobuf" {
			http.Error(w, "want protobuf", 406)
			return
		}
		w.Write(queueproxy.EncodeStat(nil, &f.stat))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeStats) set(conc float64) {
	f.mu.Lock()
	f.stat.AverageConcurrentRequests, f.stat.RequestCount = conc, conc
	f.mu.Unlock()
}

func (f *fakeStats) addr() string { return f.srv.Listener.Addr().(*net.TCPAddr).String() }

// clock is a manual time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestScalerUpDownAndToZero drives the scaler's scrape and tick steps with a
// manual clock against real stats endpoints: load scales the revision up
// (bounded by max-scale), no load brings it to zero after the stable window
// and the grace period, and a poke brings it back at once.
func TestScalerUpDownAndToZero(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	pods := []*fakeStats{newFakeStats(t, 10)}
	var mu sync.Mutex
	ready := 1
	reg := prometheus.NewRegistry()
	changes := 0
	s := New(Options{Now: clk.now, Registry: reg, OnChange: func() { changes++ },
		Pods: func(ns, rev string) []Pod {
			mu.Lock()
			defer mu.Unlock()
			var out []Pod
			for i := 0; i < ready && i < len(pods); i++ {
				out = append(out, Pod{Name: "p", Ready: true, StatsAddr: pods[i].addr()})
			}
			return out
		}})
	cfg := api.DefaultAutoscalerConfig()
	cfg.ScaleToZeroGracePeriod = 2 * time.Second
	in := RevisionInput{Namespace: "default", Name: "r-00001", Service: "r", Configuration: "r", Reachable: true,
		Annotations: map[string]string{"autoscaling.knative.dev/target": "2", "autoscaling.knative.dev/window": "6s",
			"autoscaling.knative.dev/max-scale": "3"}}
	s.Sync([]RevisionInput{in}, cfg)
	if sc, ok := s.Scale("default", "r-00001"); !ok || sc != 1 {
		t.Fatalf("new revision scale = %d, %v; want its initial scale 1", sc, ok)
	}
	step := func(n int) {
		for i := 0; i < n; i++ {
			clk.add(time.Second)
			s.scrapeAll(t.Context())
			if i%2 == 1 {
				s.tickAll()
			}
		}
	}
	// 10 concurrent requests against target 2×0.7: panic, bounded by max-scale 3.
	step(4)
	if sc, _ := s.Scale("default", "r-00001"); sc != 3 {
		t.Fatalf("under load scale = %d, want 3 (max-scale); decisions %+v", sc, s.Decisions("default", "r-00001"))
	}
	if got := testutil.ToFloat64(s.m.requested.WithLabelValues("default", "r", "r", "r-00001")); got != 3 {
		t.Errorf("autoscaler_requested_pods = %v, want 3", got)
	}
	if got := testutil.ToFloat64(s.m.panicMode.WithLabelValues("default", "r", "r", "r-00001")); got != 1 {
		t.Errorf("autoscaler_panic_mode = %v, want 1", got)
	}
	// Load stops: after the stable window the revision goes inactive, then to zero.
	pods[0].set(0)
	step(30)
	if sc, _ := s.Scale("default", "r-00001"); sc != 0 {
		t.Fatalf("idle scale = %d, want 0; last decisions %+v", sc, s.Decisions("default", "r-00001"))
	}
	mu.Lock()
	ready = 0
	mu.Unlock()
	// A request waiting in the activator scales it up without waiting for a tick.
	before := changes
	s.Poke("default", "r-00001")
	if sc, _ := s.Scale("default", "r-00001"); sc < 1 {
		t.Fatalf("after a poke scale = %d, want at least 1", sc)
	}
	if changes == before {
		t.Errorf("a poke that changed the scale did not call OnChange")
	}
	// A revision no longer synced is forgotten, with its metrics.
	s.Sync(nil, cfg)
	if _, ok := s.Scale("default", "r-00001"); ok {
		t.Errorf("removed revision still known")
	}
	if n := testutil.CollectAndCount(s.m.requested); n != 0 {
		t.Errorf("%d autoscaler_requested_pods series left after the revision went away", n)
	}
}

// TestScrapeSkipsBrokenPods: a pod whose stats endpoint is down or returns
// garbage is skipped; the others still count.
func TestScrapeSkipsBrokenPods(t *testing.T) {
	good := newFakeStats(t, 4)
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte{0xff, 0xff, 0xff})
	}))
	defer garbage.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	downAddr := down.Listener.Addr().String()
	down.Close()
	pods := []Pod{{Name: "a", Ready: true, StatsAddr: good.addr()}, {Name: "b", Ready: true, StatsAddr: garbage.Listener.Addr().String()},
		{Name: "c", Ready: true, StatsAddr: downAddr}, {Name: "d", Ready: false, StatsAddr: good.addr()}}
	st, n, err := scrapeRevision(t.Context(), &http.Client{Timeout: time.Second}, pods, time.Minute, time.Now())
	if n != 1 {
		t.Fatalf("scraped %d pods (err %v), want 1", n, err)
	}
	// One good sample of 4, extrapolated to the 3 ready pods.
	if st.AverageConcurrentRequests != 12 {
		t.Errorf("revision concurrency = %v, want 12 (4 × 3 ready pods)", st.AverageConcurrentRequests)
	}
}

// A revision that never becomes ready stays activating for its progress
// deadline and 30 s more, then goes to zero, as Knative's KPA does; not for
// Knative's default 630 s when its deadline is shorter.
func TestNeverReadyRevisionGivesUpAfterItsDeadline(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	s := New(Options{Now: clk.now, Registry: prometheus.NewRegistry(), Pods: func(string, string) []Pod { return nil }})
	in := RevisionInput{Namespace: "default", Name: "stuck-00001", Service: "stuck", Configuration: "stuck",
		Reachable: true, ProgressDeadline: 10 * time.Second}
	s.Sync([]RevisionInput{in}, api.DefaultAutoscalerConfig())
	tick := func(d time.Duration) int {
		t.Helper()
		clk.add(d)
		s.tickAll()
		sc, _ := s.Scale("default", "stuck-00001")
		return sc
	}
	if sc := tick(30 * time.Second); sc != 1 {
		t.Fatalf("scale %d 30 s in, want the initial 1 until 40 s", sc)
	}
	if sc := tick(15 * time.Second); sc != 0 {
		t.Errorf("scale %d 45 s in, want 0 (deadline 10 s + 30 s); decisions %+v", sc, s.Decisions("default", "stuck-00001"))
	}
}
