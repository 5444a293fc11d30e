package metrics

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The fleet of the benchmarks: 100 revisions × 3 instances, each a
// queue-proxy-like target with Knative's request metrics (counters and
// 26-bucket latency histograms for three response codes, at the queue and at
// the app) plus cAdvisor-named CPU and memory of app and proxy.
const (
	benchRevisions = 100
	benchInstances = 3
	benchInterval  = 5 * time.Second
)

var benchCodes = []int{200, 404, 500}

// Knative's request latency buckets (ms), as the queue-proxy exposes them.
var benchBuckets = []float64{5, 10, 20, 40, 60, 80, 100, 150, 200, 250, 300, 350, 400, 450,
	500, 600, 700, 800, 900, 1000, 2000, 5000, 10000, 20000, 50000, 100000}

type fleet struct {
	srv     *httptest.Server
	targets []Target
	bodies  [][]byte
	series  int // per target
}

func newFleet(tb testing.TB) *fleet {
	f := &fleet{bodies: make([][]byte, benchRevisions*benchInstances)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /t/{i}/metrics", func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(r.PathValue("i"))
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_, _ = w.Write(f.bodies[i])
	})
	f.srv = httptest.NewServer(mux)
	tb.Cleanup(f.srv.Close)
	for rev := range benchRevisions {
		for in := range benchInstances {
			i := rev*benchInstances + in
			f.targets = append(f.targets, Target{URL: fmt.Sprintf("%s/t/%d/metrics", f.srv.URL, i), Labels: map[string]string{
				"job": "queue-proxy", "namespace": "default", "revision": fmt.Sprintf("svc%02d-00001", rev),
				"pod": fmt.Sprintf("svc%02d-00001-%d", rev, in), "instance": fmt.Sprintf("127.0.0.1:%d", 20000+i)}})
		}
	}
	f.render(0)
	f.series = strings.Count(string(f.bodies[0]), "\n") - strings.Count(string(f.bodies[0]), "#")
	return f
}

// render writes every target's exposition as of round n: counters grow by a
// per-target rate with some noise, histograms fill by an exponential latency
// distribution, gauges wander.
func (f *fleet) render(n int) {
	for i := range f.bodies {
		rev, in := i/benchInstances, i%benchInstances
		b := f.bodies[i][:0]
		cl := fmt.Sprintf(`configuration_name="svc%02d",container_name="queue-proxy",namespace_name="default",pod_name="svc%02d-00001-%d",revision_name="svc%02d-00001",service_name="svc%02d"`,
			rev, rev, in, rev, rev)
		rps := float64(1 + i%7)
		meanMS := float64(20 + 10*(i%13))
		for _, fam := range []struct {
			name string
			tag  bool
		}{{"revision_request", true}, {"revision_app_request", false}} {
			b = fmt.Appendf(b, "# HELP %s_count The number of requests.\n# TYPE %s_count counter\n", fam.name, fam.name)
			counts := make([]float64, len(benchCodes))
			for c, code := range benchCodes {
				share := []float64{0.95, 0.03, 0.02}[c]
				noise := 1 + 0.1*math.Sin(float64(n*31+i*7+c))
				counts[c] = math.Floor(float64(n) * benchInterval.Seconds() * rps * share * noise)
				b = fmt.Appendf(b, "%s_count{%s,response_code=\"%d\",response_code_class=\"%dxx\"%s} %g\n",
					fam.name, cl, code, code/100, tagLabel(fam.tag), counts[c])
			}
			b = fmt.Appendf(b, "# HELP %s_latencies The response time in millisecond.\n# TYPE %s_latencies histogram\n", fam.name, fam.name)
			for c, code := range benchCodes {
				ls := fmt.Sprintf("%s,response_code=\"%d\",response_code_class=\"%dxx\"%s", cl, code, code/100, tagLabel(fam.tag))
				for _, le := range benchBuckets {
					b = fmt.Appendf(b, "%s_latencies_bucket{%s,le=\"%g\"} %g\n", fam.name, ls, le, math.Floor(counts[c]*(1-math.Exp(-le/meanMS))))
				}
				b = fmt.Appendf(b, "%s_latencies_bucket{%s,le=\"+Inf\"} %g\n", fam.name, ls, counts[c])
				b = fmt.Appendf(b, "%s_latencies_sum{%s} %g\n", fam.name, ls, counts[c]*meanMS)
				b = fmt.Appendf(b, "%s_latencies_count{%s} %g\n", fam.name, ls, counts[c])
			}
		}
		b = fmt.Appendf(b, "# HELP revision_queue_depth The current number of items in the serving and waiting queue.\n# TYPE revision_queue_depth gauge\nrevision_queue_depth{%s} %d\n", cl, (n+i)%5)
		pod := fmt.Sprintf("svc%02d-00001-%d", rev, in)
		b = fmt.Appendf(b, "# TYPE container_cpu_usage_seconds_total counter\n")
		for _, c := range []string{"user-container", "queue-proxy"} {
			b = fmt.Appendf(b, "container_cpu_usage_seconds_total{container=%q,namespace=\"default\",pod=%q} %.3f\n", c, pod, float64(n)*0.05*rps)
		}
		b = fmt.Appendf(b, "# TYPE container_memory_working_set_bytes gauge\n")
		for k, c := range []string{"user-container", "queue-proxy"} {
			b = fmt.Appendf(b, "container_memory_working_set_bytes{container=%q,namespace=\"default\",pod=%q} %d\n", c, pod, 30<<20+k<<20+(n*4096+i*8192)%(1<<20))
		}
		f.bodies[i] = b
	}
}

func tagLabel(tag bool) string {
	if tag {
		return `,route_tag="DEFAULT"`
	}
	return ""
}

func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkScrapeRound is one round: 300 targets scraped over HTTP, parsed
// and appended to the TSDB. Target-side rendering is not timed.
func BenchmarkScrapeRound(b *testing.B) {
	f := newFleet(b)
	db := openTest(b, Options{})
	t0 := time.Now().Add(-2 * time.Hour)
	ctx := context.Background()
	round := 0
	scrape := func() {
		res, err := db.ScrapeOnce(ctx, f.targets, t0.Add(time.Duration(round)*benchInterval))
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if !r.Up {
				b.Fatalf("%s: %v", r.URL, r.Err)
			}
		}
		round++
	}
	scrape() // the first round creates the series; measure steady state
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		f.render(round)
		b.StartTimer()
		scrape()
	}
	b.StopTimer()
	samples := float64(len(f.targets) * (f.series + len(reportNames)))
	b.ReportMetric(samples, "samples/round")
	b.ReportMetric(float64(db.HeadStats().NumSeries), "series")
}

// BenchmarkHeadMemory scrapes the fleet for GANTRY_BENCH_ROUNDS rounds
// (default 720: one hour at 5s) with timestamps 5s apart and reports the
// heap in use by the engine (TSDB head, scrape caches), after GC, against a
// baseline taken before Open. Run it with -benchtime=1x.
func BenchmarkHeadMemory(b *testing.B) {
	rounds := 720
	if s := os.Getenv("GANTRY_BENCH_ROUNDS"); s != "" {
		rounds, _ = strconv.Atoi(s)
	}
	for b.Loop() {
		f := newFleet(b)
		base := heapInuse()
		db := openTest(b, Options{})
		t0 := time.Now().Add(-2 * time.Hour)
		start := time.Now()
		var mb float64
		for n := 0; n < rounds; n++ {
			f.render(n)
			if _, err := db.ScrapeOnce(context.Background(), f.targets, t0.Add(time.Duration(n)*benchInterval)); err != nil {
				b.Fatal(err)
			}
			switch n + 1 {
			case 1, 12, 60, 120, 360, 720, rounds:
				mb = float64(heapInuse()-base) / (1 << 20)
				b.Logf("after %4d rounds (%6v of data): heap in use +%.1f MiB, head series %d", n+1,
					time.Duration(n+1)*benchInterval, mb, db.HeadStats().NumSeries)
			}
		}
		b.ReportMetric(mb, "MiB-heap")
		b.ReportMetric(float64(rounds), "rounds")
		b.ReportMetric(time.Since(start).Seconds()/float64(rounds)*1000, "ms/round-incl-render")
	}
}
