package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const fastScaleConfig = `apiVersion: v1
kind: ConfigMap
metadata:
  name: config-autoscaler
data:
  scale-to-zero-grace-period: "1s"
`

func autoYAML(name string) string {
	return fmt.Sprintf(`apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: %s
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/window: "6s"
        autoscaling.knative.dev/target: "2"
        autoscaling.knative.dev/max-scale: "3"
    spec:
      containers:
        - image: gantry/sample-app
`, name)
}

type revisionScale struct {
	Status struct {
		ActualReplicas  *int32 `json:"actualReplicas"`
		DesiredReplicas *int32 `json:"desiredReplicas"`
	} `json:"status"`
}

func (s *stack) actual(rev string) int {
	var r revisionScale
	if err := s.getJSON("/api/v1/revisions/default/"+rev, &r); err != nil || r.Status.ActualReplicas == nil {
		return -1
	}
	return int(*r.Status.ActualReplicas)
}

// TestAutoscaleUpToZeroAndBack is issue 4's end-to-end acceptance: load
// scales a revision up, no load scales it to zero, and the next request is
// answered after a cold start; no request fails on the way.
func TestAutoscaleUpToZeroAndBack(t *testing.T) {
	s := startStack(t, "")
	s.mustGantry(fastScaleConfig+"---\n"+autoYAML("auto"), "apply", "-f", "-")
	host := "auto.default.localhost"
	s.waitServing(host, "Hello World!")

	// Bounded load: 8 workers for 8 seconds, 150 ms requests, against target 2.
	var ok, failed atomic.Int64
	var lastErr atomic.Value
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	maxActual := 0
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 20 * time.Second}
			for ctx.Err() == nil {
				req, _ := http.NewRequest(http.MethodGet, "http://"+s.gateway+"/?sleep=150", nil)
				req.Host = host
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					lastErr.Store(err.Error())
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					lastErr.Store(resp.Status)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	for ctx.Err() == nil {
		if n := s.actual("auto-00001"); n > maxActual {
			maxActual = n
		}
		time.Sleep(250 * time.Millisecond)
	}
	wg.Wait()
	if maxActual < 2 {
		t.Errorf("the revision reached %d ready instances under load, want at least 2", maxActual)
	}
	if failed.Load() > 0 {
		t.Errorf("%d of %d requests failed under load; last: %v", failed.Load(), failed.Load()+ok.Load(), lastErr.Load())
	}

	// No traffic: down to zero (6s window, then the 1s grace period).
	waitFor(t, 40*time.Second, "scale to zero", func() bool { return s.actual("auto-00001") == 0 })
	// Its processes drain and exit.
	waitFor(t, 15*time.Second, "the instances' processes to exit", func() bool { return len(s.children()) == 0 })

	// The next request is held by the activator and answered after a cold start.
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.gateway+"/", nil)
	req.Host = host
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("request after scale to zero: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Gantry-Cold-Start") != "true" {
		t.Fatalf("after scale to zero: %d %q cold-start=%q, want 200 with Gantry-Cold-Start: true", resp.StatusCode, body, resp.Header.Get("Gantry-Cold-Start"))
	}
	// The cold start is a histogram sample, and the autoscaler reports with Knative's names.
	metrics := s.controlPlaneMetrics(t)
	for _, want := range []string{`activator_cold_start_seconds_count{namespace_name="default",revision_name="auto-00001"}`,
		`autoscaler_desired_pods{configuration_name="auto",namespace_name="default",revision_name="auto-00001",service_name="auto"}`} {
		if !containsLine(metrics, want) {
			t.Errorf("control-plane metrics lack %s", want)
		}
	}
}

func (s *stack) controlPlaneMetrics(t *testing.T) string {
	t.Helper()
	resp, err := http.Get("http://" + s.ui + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func containsLine(text, prefix string) bool {
	for _, l := range splitLines(text) {
		if len(l) >= len(prefix) && l[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// BenchmarkColdStart measures the time to the first byte of a request to a
// revision scaled to zero, over 20 cold starts, and reports median and p95.
// Run: go test -run x -bench ColdStart -benchtime 1x ./e2e
func BenchmarkColdStart(b *testing.B) {
	for i := 0; i < b.N; i++ {
		coldStarts(b, 20)
	}
}

func coldStarts(b *testing.B, n int) {
	s := startStack(b, "")
	durs := coldStartsOf(b, s, "gantry/sample-app", n)
	b.ReportMetric(float64(pct(durs, 50).Milliseconds()), "p50-ms")
	b.ReportMetric(float64(pct(durs, 95).Milliseconds()), "p95-ms")
	b.Logf("cold starts (ms, sorted): %s", msList(durs))
}

func msList(ds []time.Duration) string {
	out := ""
	for i, d := range ds {
		if i > 0 {
			out += " "
		}
		out += strconv.FormatInt(d.Milliseconds(), 10)
	}
	return out
}

// TestColdBurstRespectsContainerConcurrency: a burst of requests to a
// revision at zero with containerConcurrency 1 waits in the activator and is
// released no faster than the instances accept; none is refused.
func TestColdBurstRespectsContainerConcurrency(t *testing.T) {
	s := startStack(t, "")
	s.mustGantry(fastScaleConfig+`---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: single
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/window: "6s"
        autoscaling.knative.dev/max-scale: "2"
    spec:
      containerConcurrency: 1
      containers:
        - image: gantry/sample-app
`, "apply", "-f", "-")
	s.waitServing("single.default.localhost", "Hello World!")
	waitFor(t, 40*time.Second, "scale to zero", func() bool { return s.actual("single-00001") == 0 })
	waitFor(t, 15*time.Second, "the instance to exit", func() bool { return len(s.children()) == 0 })

	codes := s.burst("single.default.localhost", "/?sleep=100", 25)
	for i, c := range codes {
		if c != 200 {
			t.Errorf("request %d answered %d, want 200 (codes %v)", i, c, codes)
			break
		}
	}
}

// TestActivatorInPathWithNegativeBurstCapacity: with containerConcurrency 1
// and one instance, the default target-burst-capacity keeps the activator in
// the path, so a burst beyond the queue-proxy's queue (1 + 10) waits in the
// gateway instead of being refused.
func TestActivatorInPathWithNegativeBurstCapacity(t *testing.T) {
	s := startStack(t, "")
	s.mustGantry(`apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: narrow
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/min-scale: "1"
        autoscaling.knative.dev/max-scale: "1"
    spec:
      containerConcurrency: 1
      containers:
        - image: gantry/sample-app
`, "apply", "-f", "-")
	s.waitServing("narrow.default.localhost", "Hello World!")
	time.Sleep(3 * time.Second) // a decision with the instance ready
	codes := s.burst("narrow.default.localhost", "/?sleep=50", 16)
	for i, c := range codes {
		if c != 200 {
			t.Fatalf("request %d answered %d, want 200 (codes %v)", i, c, codes)
		}
	}
}

// burst sends n concurrent requests and returns their status codes (-1: error).
func (s *stack) burst(host, path string, n int) []int {
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, "http://"+s.gateway+path, nil)
			req.Host = host
			resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
			if err != nil {
				codes[i] = -1
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	return codes
}
