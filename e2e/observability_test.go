package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/dashboards"
)

// prometheusBinary finds Debian's prometheus, failing when tools are required.
func prometheusBinary(t *testing.T) string {
	p, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("GANTRY_REQUIRE_TOOLS") == "1" {
			t.Fatalf("prometheus not found (Debian package prometheus; ./test.sh installs it)")
		}
		t.Skip("prometheus not installed; run ./test.sh")
	}
	return p
}

// promResult is the part of Prometheus's query API answer the test reads.
type promResult struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	} `json:"data"`
}

// instant runs an instant query against a Prometheus-compatible API at base.
func instant(base, expr string, at time.Time) (promResult, error) {
	var r promResult
	resp, err := http.PostForm(base+"/api/v1/query", url.Values{"query": {expr}, "time": {fmt.Sprint(at.Unix())}})
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: %s", err, b)
	}
	if r.Status != "success" {
		return r, fmt.Errorf("query %s: %s", expr, r.Error)
	}
	return r, nil
}

// total sums a vector's values (NaN samples are skipped) and counts them.
func (r promResult) total() (float64, int) {
	sum, n := 0.0, 0
	for _, s := range r.Data.Result {
		str, _ := s.Value[1].(string)
		var v float64
		if _, err := fmt.Sscan(str, &v); err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		sum += v
		n++
	}
	return sum, n
}

// TestObservabilityPipeline is issue 6's end-to-end acceptance: a real
// Prometheus scrapes `gantry up --demo` through its service discovery with
// the generated rules; every dashboard query returns data from it and from
// the embedded engine, the two agree, and the 5xx alert fires in both.
func TestObservabilityPipeline(t *testing.T) {
	promBin := prometheusBinary(t)
	s := startStack(t, "", "--demo", "--scrape-interval", "1s", "--rule-interval", "1s", "--alert-for", "-1s")
	s.mustGantry(`apiVersion: v1
kind: ConfigMap
metadata:
  name: config-autoscaler
data:
  scale-to-zero-grace-period: "1s"
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: flaky
spec:
  template:
    spec:
      containerConcurrency: 10
      containers:
        - image: gantry/sample-app
          env: [{name: ERROR_RATE, value: "0.3"}]
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: cold
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/window: "6s"
    spec:
      containers:
        - image: gantry/sample-app
`, "apply", "-f", "-")
	s.waitServing("hello.default.localhost", "Hello")
	waitFor(t, 30*time.Second, "flaky to serve", func() bool {
		code, _, err := s.request("flaky.default.localhost", "/")
		return err == nil && (code == 200 || code == 500)
	})

	// The real Prometheus, with the rules `gantry alerts` writes.
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yml")
	if out, err := exec.Command(gantryBin, "alerts", "--out", rules, "--for", "0s").CombinedOutput(); err != nil {
		t.Fatalf("gantry alerts: %v\n%s", err, out)
	}
	promAddr := freeAddr(t)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: gantry
    http_sd_configs:
      - url: http://%s/api/v1/sd
        refresh_interval: 1s
`, rules, s.ui)
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	prom := exec.Command(promBin, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr)
	promLog := &strings.Builder{}
	var promLogMu sync.Mutex
	prom.Stdout = writerFunc(func(p []byte) { promLogMu.Lock(); promLog.Write(p); promLogMu.Unlock() })
	prom.Stderr = prom.Stdout
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	promDone := make(chan struct{})
	go func() { prom.Wait(); close(promDone) }()
	t.Cleanup(func() {
		prom.Process.Signal(os.Interrupt)
		select {
		case <-promDone:
		case <-time.After(15 * time.Second):
			prom.Process.Kill()
		}
		if t.Failed() {
			promLogMu.Lock()
			t.Logf("prometheus log:\n%s", promLog.String())
			promLogMu.Unlock()
		}
	})

	// Wait until Prometheus scrapes the stack: the windows compared below must
	// cover only a time both engines were scraping.
	promReady := time.Now()
	waitFor(t, 30*time.Second, "prometheus to scrape the stack", func() bool {
		r, err := instant("http://"+promAddr, `sum(up)`, time.Now())
		if err != nil {
			return false
		}
		v, n := r.total()
		return n > 0 && v >= 3
	})
	promReady = time.Now()
	const window = 20 * time.Second

	// Bounded load on flaky and hello for the rest of the test.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for _, host := range []string{"flaky.default.localhost", "hello.default.localhost"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.gateway+"/?sleep=20&cpu=2", nil)
				req.Host = host
				if resp, err := client.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	// A routing error, and one cold start once `cold` is at zero.
	s.request("nobody.default.localhost", "/")
	waitFor(t, 45*time.Second, "cold to scale to zero", func() bool { return s.actual("cold-00001") == 0 })
	// The query window must start after Prometheus began scraping and hold the cold start.
	time.Sleep(window - time.Since(promReady))
	if code, _, err := s.request("cold.default.localhost", "/"); err != nil || code != 200 {
		t.Fatalf("cold start request: %d %v", code, err)
	}
	time.Sleep(6 * time.Second)

	embedded := "http://" + s.ui
	real := "http://" + promAddr
	at := time.Now().Add(-2 * time.Second)
	// Instant gauges of small counts may differ by one between two scrapes.
	gauges := map[string]bool{"queue_depth_by_revision": true, "pods_by_revision": true, "panic_mode": true}
	for _, q := range dashboards.Queries() {
		expr, err := q.Render(dashboards.RenderOptions{Window: "20s"})
		if err != nil {
			t.Fatalf("render %s: %v", q.ID, err)
		}
		var eSum, rSum float64
		var eN, rN int
		ok := false
		// Scrapes of the two engines are not aligned: retry a few times.
		for attempt := 0; attempt < 5 && !ok; attempt++ {
			er, err1 := instant(embedded, expr, at)
			rr, err2 := instant(real, expr, at)
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: embedded err %v, prometheus err %v", q.ID, err1, err2)
			}
			eSum, eN = er.total()
			rSum, rN = rr.total()
			ok = eN > 0 && rN > 0 && agree(eSum, rSum, gauges[q.ID])
			if !ok {
				time.Sleep(time.Second)
				at = time.Now().Add(-2 * time.Second)
			}
		}
		if eN == 0 || rN == 0 {
			t.Errorf("%s (%s): no data (embedded %d series, prometheus %d series)\n  %s", q.ID, q.Title, eN, rN, expr)
			continue
		}
		if !ok {
			t.Errorf("%s (%s): embedded %.4g vs prometheus %.4g disagree\n  %s", q.ID, q.Title, eSum, rSum, expr)
		}
	}

	// The 5xx alert fires for flaky in both engines.
	firing := func(base string) bool {
		resp, err := http.Get(base + "/api/v1/alerts")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Alerts []struct {
					Labels map[string]string `json:"labels"`
					State  string            `json:"state"`
				} `json:"alerts"`
			} `json:"data"`
		}
		json.NewDecoder(resp.Body).Decode(&r)
		for _, a := range r.Data.Alerts {
			if a.Labels["alertname"] == "GantryRevisionHigh5xxRatio" && a.Labels["service_name"] == "flaky" && a.State == "firing" {
				return true
			}
		}
		return false
	}
	waitFor(t, 30*time.Second, "the 5xx alert to fire in the embedded engine", func() bool { return firing(embedded) })
	waitFor(t, 30*time.Second, "the 5xx alert to fire in Prometheus", func() bool { return firing(real) })

	// `gantry up --prometheus-url` reads the same numbers from that Prometheus:
	// a second stack with a service of the same name shows flaky's traffic.
	s2 := startStack(t, "", "--prometheus-url", real)
	s2.mustGantry(strings.Replace(helloYAML("x"), "name: hello", "name: flaky", 1), "apply", "-f", "-")
	waitFor(t, 20*time.Second, "the second stack's UI to show flaky's request rate from Prometheus", func() bool {
		var page struct {
			Services []struct {
				Name        string `json:"name"`
				RequestRate struct {
					Value *float64 `json:"value"`
				} `json:"requestRate"`
			} `json:"services"`
		}
		if err := s2.getJSON("/api/ui/services?range=15m", &page); err != nil {
			return false
		}
		for _, svc := range page.Services {
			if svc.Name == "flaky" && svc.RequestRate.Value != nil && *svc.RequestRate.Value > 0 {
				return true
			}
		}
		return false
	})
}

// agree reports whether two engines' values agree: within 35% or 0.05 absolute
// (their scrapes are up to a second apart), or within one for small gauges.
func agree(a, b float64, gauge bool) bool {
	d := math.Abs(a - b)
	return d <= 0.05 || d <= 0.35*math.Max(math.Abs(a), math.Abs(b)) || (gauge && d <= 1)
}

type writerFunc func(p []byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }
