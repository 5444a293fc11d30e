package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// engineCPU is the container's CPU seconds as the engine's stats API says.
func (d *dockerEnv) engineCPU(t testing.TB, id string) float64 {
	t.Helper()
	res, err := d.cli.ContainerStats(context.Background(), id, client.ContainerStatsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var st container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return float64(st.CPUStats.CPUUsage.TotalUsage) / 1e9
}

type instanceJSON struct {
	Items []struct {
		Name  string `json:"name"`
		Ports struct {
			HTTP, Metrics int
		} `json:"ports"`
	} `json:"items"`
}

// TestDockerCPUAccounting: the per-request CPU gantry reports for a
// container (the queue-proxy's container_cpu_usage_seconds_total, read from
// the container's cgroup) agrees within 10% with the engine's own counter
// and with the CPU the requests burned.
func TestDockerCPUAccounting(t *testing.T) {
	d := requireDocker(t)
	img := d.registry + "/gantry-e2e/cpu:v1"
	d.buildImage(t, img, "1")
	d.push(t, img, "", "")
	s := startStack(t, "", "--runtime", "docker")
	s.mustGantry(svcYAML("cpu", img, "", "", ""), "apply", "-f", "-")
	s.waitServing("cpu.default.localhost", "Hello")
	var insts instanceJSON
	if err := s.getJSON("/api/v1/revisions/default/cpu-00001/instances", &insts); err != nil || len(insts.Items) != 1 {
		t.Fatalf("instances %+v %v", insts, err)
	}
	metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", insts.Items[0].Ports.Metrics)
	cs := d.containers(t, s.stateDir)
	label := `container="user-container"`
	rep0, eng0 := scrapeValue(t, metrics, "container_cpu_usage_seconds_total{", label), d.engineCPU(t, cs[0].ID)
	const n, burn = 40, 25 * time.Millisecond
	for i := 0; i < n; i++ {
		if code, _, err := s.request("cpu.default.localhost", "/cpu?ms="+strconv.Itoa(int(burn.Milliseconds()))); err != nil || code != 200 {
			t.Fatalf("request: %d %v", code, err)
		}
	}
	rep1, eng1 := scrapeValue(t, metrics, "container_cpu_usage_seconds_total{", label), d.engineCPU(t, cs[0].ID)
	reported, engine, burned := (rep1-rep0)/n*1000, (eng1-eng0)/n*1000, burn.Seconds()*1000
	t.Logf("CPU ms per request: reported %.2f, engine stats %.2f, burned %.2f", reported, engine, burned)
	if math.Abs(reported-engine) > 0.1*engine {
		t.Errorf("reported %.2f ms/request vs the engine's %.2f: more than 10%% apart", reported, engine)
	}
	if reported < 0.9*burned || reported > 1.5*burned {
		t.Errorf("reported %.2f ms/request, the requests burned %.2f", reported, burned)
	}
}

// BenchmarkDockerColdStart: time to first byte of a request to a revision
// scaled to zero whose instance is a container, p50/p95 of 20, beside the
// floor: `docker run` of the same image to its first byte.
// Run: bench/docker.sh (or go test -run x -bench DockerColdStart -benchtime 1x ./e2e).
func BenchmarkDockerColdStart(b *testing.B) {
	d := requireDocker(b)
	img := d.registry + "/gantry-e2e/cold:v1"
	d.buildImage(b, img, "1")
	d.push(b, img, "", "")
	for i := 0; i < b.N; i++ {
		floor := d.dockerRunFloor(b, img, 20)
		b.ReportMetric(ms(pct(floor, 50)), "docker-run-p50-ms")
		b.ReportMetric(ms(pct(floor, 95)), "docker-run-p95-ms")
		b.Logf("docker run to first byte (ms, sorted): %s", msList(floor))
		s := startStack(b, "", "--runtime", "docker")
		durs := coldStartsOf(b, s, img, 20)
		b.ReportMetric(ms(pct(durs, 50)), "p50-ms")
		b.ReportMetric(ms(pct(durs, 95)), "p95-ms")
		b.Logf("gantry cold starts (ms, sorted): %s", msList(durs))
		s.stop()
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func pct(sorted []time.Duration, p int) time.Duration {
	return sorted[(len(sorted)*p+99)/100-1]
}

// coldStartsOf times n requests to a revision of image scaled to zero.
func coldStartsOf(b *testing.B, s *stack, image string, n int) []time.Duration {
	s.mustGantry(fastScaleConfig+"---\n"+svcYAML("cold", image, "", "", `autoscaling.knative.dev/window: "6s"`), "apply", "-f", "-")
	s.waitServing("cold.default.localhost", "Hello")
	var durs []time.Duration
	for len(durs) < n {
		deadline := time.Now().Add(90 * time.Second)
		for s.actual("cold-00001") != 0 {
			if time.Now().After(deadline) {
				b.Fatalf("cold-00001 did not scale to zero")
			}
			time.Sleep(100 * time.Millisecond)
		}
		req, _ := http.NewRequest(http.MethodGet, "http://"+s.gateway+"/", nil)
		req.Host = "cold.default.localhost"
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		dur := time.Since(start)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Gantry-Cold-Start") != "true" {
			b.Fatalf("cold request: %s cold-start=%q", resp.Status, resp.Header.Get("Gantry-Cold-Start"))
		}
		durs = append(durs, dur)
	}
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	return durs
}

// dockerRunFloor times create + start of image with its port published on
// 127.0.0.1, to the first byte of an HTTP answer, n times.
func (d *dockerEnv) dockerRunFloor(b *testing.B, image string, n int) []time.Duration {
	ctx := context.Background()
	port := network.MustParsePort("8080/tcp")
	var durs []time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		c, err := d.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
			Config:     &container.Config{Image: image, ExposedPorts: network.PortSet{port: {}}, Labels: map[string]string{"dev.gantry.bench": "floor"}},
			HostConfig: &container.HostConfig{PortBindings: network.PortMap{port: {{HostIP: netip.MustParseAddr("127.0.0.1")}}}}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := d.cli.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
			b.Fatal(err)
		}
		ins, err := d.cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil {
			b.Fatal(err)
		}
		ip := ins.Container.NetworkSettings.Networks["bridge"].IPAddress.String()
		for {
			resp, err := http.Get("http://" + ip + ":8080/")
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				break
			}
			if time.Since(start) > 30*time.Second {
				b.Fatalf("docker run: no answer: %v", err)
			}
			time.Sleep(2 * time.Millisecond)
		}
		durs = append(durs, time.Since(start))
		d.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true})
	}
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	return durs
}

// BenchmarkDockerHop: latency (one connection, sequential) and machine CPU
// per 1,000 requests through one queue-proxy to the same static app, run as
// a host process, as a container reached at its bridge IP, and as a
// container behind a 127.0.0.1-published port.
func BenchmarkDockerHop(b *testing.B) {
	d := requireDocker(b)
	img := d.registry + "/gantry-e2e/hop:v1"
	d.buildImage(b, img, "1")
	d.push(b, img, "", "")
	bin := testImageBinary(b, "1")
	n := 3000
	if v, err := strconv.Atoi(os.Getenv("HOP_REQUESTS")); err == nil && v > 0 {
		n = v
	}
	for i := 0; i < b.N; i++ {
		for _, mode := range []struct {
			name string
			args []string
			yaml string
		}{
			{"process", []string{"--runtime", "process"}, svcYAML("hop", img, "command: ["+strconv.Quote(bin)+"]", "", "autoscaling.knative.dev/min-scale: '1'")},
			{"docker-bridge", []string{"--runtime", "docker"}, svcYAML("hop", img, "", "", "autoscaling.knative.dev/min-scale: '1'")},
			{"docker-publish", []string{"--runtime", "docker", "--docker-publish"}, svcYAML("hop", img, "", "", "autoscaling.knative.dev/min-scale: '1'")},
		} {
			s := startStack(b, "", mode.args...)
			s.mustGantry(mode.yaml, "apply", "-f", "-")
			s.waitServing("hop.default.localhost", "Hello")
			var insts instanceJSON
			if err := s.getJSON("/api/v1/revisions/default/hop-00001/instances", &insts); err != nil || len(insts.Items) != 1 {
				b.Fatalf("instances %+v %v", insts, err)
			}
			url := fmt.Sprintf("http://127.0.0.1:%d/", insts.Items[0].Ports.HTTP)
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			get := func() {
				resp, err := c.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			for j := 0; j < 200; j++ {
				get()
			}
			cpu0 := machineCPU(b)
			lat := make([]time.Duration, 0, n)
			for j := 0; j < n; j++ {
				st := time.Now()
				get()
				lat = append(lat, time.Since(st))
			}
			cpu := (machineCPU(b) - cpu0) / float64(n) * 1000
			sort.Slice(lat, func(a, c int) bool { return lat[a] < lat[c] })
			b.ReportMetric(float64(pct(lat, 50).Microseconds()), mode.name+"-p50-us")
			b.ReportMetric(float64(pct(lat, 99).Microseconds()), mode.name+"-p99-us")
			b.ReportMetric(cpu, mode.name+"-cpu-s/1000req")
			b.Logf("%s: p50 %v p99 %v, machine CPU %.4f s per 1000 requests", mode.name, pct(lat, 50), pct(lat, 99), cpu)
			s.stop()
		}
	}
}

// machineCPU is the CPU seconds every process has used (all cores, from
// /proc/stat), so that the engine's and its proxies' work count too.
func machineCPU(b *testing.B) float64 {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(strings.SplitN(string(raw), "\n", 2)[0])
	var busy float64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		x, _ := strconv.ParseFloat(v, 64)
		busy += x
	}
	return busy / 100
}
