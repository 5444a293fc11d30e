package kubecluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/dashboards"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// TestResourcesInPods: a real Prometheus, with the jobs users add
// (deploy/prometheus/scrape-configs.yaml), scrapes the pods' queue-proxies
// and the kubelet's cAdvisor; the dashboards' queries
// show request rate, latency and CPU per request for the pod, and CPU that
// both sources report (the queue-proxy's own) is counted once.
func TestResourcesInPods(t *testing.T) {
	k := connect(t)
	ns := k.namespace(t)
	k.warmService(t, ns, "costly", "")
	s := k.ready(t, ns, "costly", 3*time.Minute)
	host, rev := hostOf(t, s), s.Status.LatestReadyRevisionName
	k.routable(t, host)
	promURL := k.prometheus(t)
	// The pages of gantry up, for the cluster: `gantry controller ui`
	// mirrors its objects and reads the same Prometheus. Started first, so
	// that its build is not taken out of the load.
	uiAddr := k.startUI(t, promURL)

	// 20 requests/s, each burning 5 ms of CPU in the app, for 45 s before
	// the first query and on until the last: a user reads the pages while
	// traffic flows. cAdvisor stamps its samples at each housekeeping
	// (10-15 s apart): the CPU queries never take less than a 1m window
	// (dashboards.Query.MinWindow), though the pages ask for 30s, or the
	// app's CPU drops out of the sum.
	loadErr := make(chan error, 1)
	done := make(chan struct{})
	loadStopped := make(chan struct{})
	go func() {
		defer close(loadStopped)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if code, body, err := k.get(host, "/?cpu=5"); err != nil || code != 200 {
				loadErr <- fmt.Errorf("load: %d %q %v", code, body, err)
				return
			}
		}
	}()
	stopLoad := func() {
		select {
		case <-done:
		default:
			close(done)
		}
		<-loadStopped
		select {
		case err := <-loadErr:
			t.Error(err)
		default:
		}
	}
	defer stopLoad()
	select {
	case <-time.After(45 * time.Second):
	case <-loadStopped:
		stopLoad()
		t.FailNow()
	}

	opts := dashboards.RenderOptions{Selector: dashboards.Selector{Namespace: ns, Revision: rev}, Window: "1m"}
	value := func(q dashboards.Query) (float64, int) {
		t.Helper()
		expr, err := q.Render(opts)
		if err != nil {
			t.Fatalf("render %s: %v", q.ID, err)
		}
		return promSum(t, promURL, expr)
	}
	rate, n := value(dashboards.RequestVolume)
	if n == 0 || rate < 8 || rate > 25 {
		t.Errorf("request volume %.1f/s (%d series), want about 15-20 (20/s for at least 45 s of the minute)", rate, n)
	}
	p95, _ := dashboards.QueryByID("latency_p95_by_revision")
	if lat, n := value(p95); n != 1 || lat < 5 || lat > 1000 {
		t.Errorf("p95 latency %.1f ms (%d series), want one series of at least the 5 ms of CPU each request burns", lat, n)
	}
	if cpu, n := value(dashboards.CPUMillisecondsPerRequest); n != 1 || cpu < 4 || cpu > 50 {
		t.Errorf("CPU per request %.2f ms (%d series), want one series a little over the app's 5 ms", cpu, n)
	}

	// Both sources report the queue-proxy; the dashboard counts it once.
	qp := func(job string) float64 {
		v, n := promSum(t, promURL, fmt.Sprintf(`sum(rate(container_cpu_usage_seconds_total{job=%q, namespace=%q, container="queue-proxy"}[1m]))`, job, ns))
		if n == 0 {
			t.Errorf("no queue-proxy CPU from the %s job", job)
		}
		return v
	}
	fromCAdvisor, fromQueueProxy := qp("kubernetes-cadvisor"), qp("gantry-queue-proxy")
	if app, n := promSum(t, promURL, fmt.Sprintf(`sum(rate(container_cpu_usage_seconds_total{job="kubernetes-cadvisor", namespace=%q, container="user-container"}[1m]))`, ns)); n == 0 || app < 0.05 {
		t.Errorf("cAdvisor's user-container CPU %.3f (%d series), want the app's ~0.1 CPU", app, n)
	}
	byContainer, _ := promByLabel(t, promURL, mustRender(t, dashboards.CPUByRevision, opts), "container")
	got := byContainer["queue-proxy"]
	if most := max(fromCAdvisor, fromQueueProxy); got > most*1.01 || got < most*0.5 {
		t.Errorf("dashboard queue-proxy CPU %.4f, sources %.4f (cAdvisor) and %.4f (own collector): counted twice or lost", got, fromCAdvisor, fromQueueProxy)
	}
	t.Logf("CPU by container %v; queue-proxy from cAdvisor %.4f, own %.4f", byContainer, fromCAdvisor, fromQueueProxy)

	var row map[string]any
	if !poll(30*time.Second, func() bool {
		var list struct{ Services []map[string]any }
		if err := getJSON("http://"+uiAddr+"/api/ui/services?range=5m&q=costly", &list); err != nil {
			return false
		}
		for _, r := range list.Services {
			if r["namespace"] == ns && r["name"] == "costly" && r["ready"] == "True" {
				row = r
				return true
			}
		}
		return false
	}) {
		t.Fatalf("the cluster's pages never listed %s/costly as ready", ns)
	}
	metricValue := func(name string) float64 {
		m, _ := row[name].(map[string]any)
		v, ok := m["value"].(float64)
		if !ok {
			t.Errorf("the services page has no %s for %s/costly: %v", name, ns, row[name])
		}
		return v
	}
	if v := metricValue("requestRate"); v < 2 {
		t.Errorf("the services page shows %.2f requests/s, want the load's", v)
	}
	if v := metricValue("latencyP95Ms"); v < 5 {
		t.Errorf("the services page shows p95 %.1f ms, want at least the 5 ms each request burns", v)
	}
	if v := metricValue("cpuMsPerRequest"); v < 4 || v > 50 {
		t.Errorf("the services page shows %.2f CPU-ms per request, want a little over 5", v)
	}
	resp, err := http.Get("http://" + uiAddr + "/services/" + ns + "/costly")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), rev) {
		t.Errorf("service page: %d, mentions %s: %v", resp.StatusCode, rev, strings.Contains(string(page), rev))
	}
}

func getJSON(u string, out any) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// startUI builds gantry and runs `gantry controller ui` against the cluster
// until the test ends.
func (k *cluster) startUI(t testing.TB, promURL string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gantry")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/gantry").CombinedOutput(); err != nil {
		t.Fatalf("build gantry: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var logs strings.Builder
	cmd := exec.Command(bin, "controller", "ui", "--kubeconfig", filepath.Join(k.dir, "kubeconfig"),
		"--prometheus-url", promURL, "--ui-addr", addr)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if t.Failed() {
			t.Logf("gantry controller ui:\n%s", logs.String())
		}
	})
	return addr
}

func mustRender(t testing.TB, q dashboards.Query, opts dashboards.RenderOptions) string {
	t.Helper()
	e, err := q.Render(opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// prometheus starts Debian's Prometheus on 127.0.0.1 with the shipped
// scrape configs, told where the cluster is (its kubeconfig, and the
// kubelet's self-signed certificate), scraping every 2 s.
func (k *cluster) prometheus(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("GANTRY_REQUIRE_TOOLS") == "1" {
			t.Fatal("prometheus not found (Debian package prometheus; ./test.sh installs it)")
		}
		t.Skip("prometheus not installed; run ./test.sh")
	}
	raw, err := os.ReadFile("../../deploy/prometheus/scrape-configs.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		ScrapeConfigs []map[string]any `json:"scrape_configs"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	// Debian's Prometheus is built without Kubernetes service discovery, so
	// each job's kubernetes_sd_configs becomes the static targets that
	// discovery would find now: the revision pods' metrics port for role
	// pod, the kubelet for role node. The control plane's job is dropped.
	var jobs []map[string]any
	for _, sc := range cfg.ScrapeConfigs {
		sds, _ := sc["kubernetes_sd_configs"].([]any)
		if len(sds) != 1 {
			t.Fatalf("job %v: want one kubernetes_sd_configs entry", sc["job_name"])
		}
		var targets []string
		switch role := sds[0].(map[string]any)["role"]; role {
		case "pod":
			targets = k.revisionPodTargets(t, "http-usermetric")
		case "node":
			targets = []string{k.kubeletAddr(t)}
			// The test kubelet serves a self-signed certificate and lets
			// anonymous readers in.
			sc["tls_config"] = map[string]any{"insecure_skip_verify": true}
			delete(sc, "authorization")
		default:
			continue
		}
		delete(sc, "kubernetes_sd_configs")
		delete(sc, "relabel_configs")
		sc["static_configs"] = []any{map[string]any{"targets": targets}}
		jobs = append(jobs, sc)
	}
	cfg.ScrapeConfigs = jobs
	doc, err := yaml.Marshal(map[string]any{
		"global":         map[string]any{"scrape_interval": "2s", "evaluation_interval": "2s"},
		"scrape_configs": cfg.ScrapeConfigs,
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), doc, 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--config.file", filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path", filepath.Join(dir, "data"),
		"--web.listen-address", addr, "--log.level", "warn")
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			if resp, err := http.Get("http://" + addr + "/api/v1/targets"); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				t.Logf("prometheus targets: %s", b)
			}
		}
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Logf("prometheus log:\n%s", b)
		}
	})
	base := "http://" + addr
	if !poll(30*time.Second, func() bool {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}) {
		t.Fatal("prometheus not ready")
	}
	return base
}

// revisionPodTargets lists host:port of the named container port of every
// running revision pod, as the queue-proxy job's discovery would.
func (k *cluster) revisionPodTargets(t testing.TB, port string) []string {
	t.Helper()
	var pods corev1.PodList
	if err := k.c.List(context.Background(), &pods, client.HasLabels{api.LabelRevision}); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range pods.Items {
		if p.Status.PodIP == "" || p.DeletionTimestamp != nil {
			continue
		}
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == port {
					out = append(out, net.JoinHostPort(p.Status.PodIP, strconv.Itoa(int(cp.ContainerPort))))
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no running revision pod has a %s port", port)
	}
	return out
}

// kubeletAddr is the node's kubelet endpoint, as role node finds it.
func (k *cluster) kubeletAddr(t testing.TB) string {
	t.Helper()
	var nodes corev1.NodeList
	if err := k.c.List(context.Background(), &nodes); err != nil || len(nodes.Items) != 1 {
		t.Fatalf("nodes: %v (%d)", err, len(nodes.Items))
	}
	n := nodes.Items[0]
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return net.JoinHostPort(a.Address, strconv.Itoa(int(n.Status.DaemonEndpoints.KubeletEndpoint.Port)))
		}
	}
	t.Fatalf("node %s has no InternalIP", n.Name)
	return ""
}

// promVector runs an instant query and returns its samples.
func promVector(t testing.TB, base, expr string) []promSample {
	t.Helper()
	resp, err := http.PostForm(base+"/api/v1/query", url.Values{"query": {expr}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r struct {
		Status, Error string
		Data          struct{ Result []promSample }
	}
	if err := json.Unmarshal(b, &r); err != nil || r.Status != "success" {
		t.Fatalf("query %s: %v %s", expr, err, b)
	}
	return r.Data.Result
}

type promSample struct {
	Metric map[string]string
	Value  [2]any
}

func (s promSample) float() float64 {
	str, _ := s.Value[1].(string)
	v, _ := strconv.ParseFloat(str, 64)
	return v
}

// promSum adds up a query's samples and counts them.
func promSum(t testing.TB, base, expr string) (float64, int) {
	t.Helper()
	var sum float64
	res := promVector(t, base, expr)
	for _, s := range res {
		sum += s.float()
	}
	return sum, len(res)
}

// promByLabel maps a query's samples by one label.
func promByLabel(t testing.TB, base, expr, label string) (map[string]float64, int) {
	t.Helper()
	out := map[string]float64{}
	res := promVector(t, base, expr)
	for _, s := range res {
		out[s.Metric[label]] += s.float()
	}
	return out, len(res)
}
