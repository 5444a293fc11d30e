package queueproxy

import (
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRequestStatsTimeWeighted(t *testing.T) {
	t0 := time.Unix(1000, 0)
	rs := NewRequestStats(t0)
	r := NewStatsReporter(rs, "pod-a", time.Second, func() time.Time { return t0 })
	// Two requests for the first half second, one (proxied) for the whole second.
	a := rs.In(t0, false)
	b := rs.In(t0, false)
	c := rs.In(t0, true)
	rs.Out(t0.Add(500*time.Millisecond), a, false)
	rs.Out(t0.Add(500*time.Millisecond), b, false)
	st := r.Tick(t0.Add(time.Second))
	if math.Abs(st.AverageConcurrentRequests-2) > 1e-9 { // 3·0.5 + 1·0.5
		t.Errorf("average concurrency %v, want 2", st.AverageConcurrentRequests)
	}
	if math.Abs(st.AverageProxiedConcurrentRequests-1) > 1e-9 {
		t.Errorf("proxied concurrency %v, want 1", st.AverageProxiedConcurrentRequests)
	}
	if st.RequestCount != 3 || st.ProxiedRequestCount != 1 {
		t.Errorf("rates %v/%v, want 3/1", st.RequestCount, st.ProxiedRequestCount)
	}
	// The proxied request is still open: it carries into the next window,
	// which is two seconds long, so counts are halved.
	st = r.Tick(t0.Add(3 * time.Second))
	if st.AverageConcurrentRequests != 1 || st.RequestCount != 0 {
		t.Errorf("second window %+v", st)
	}
	rs.Out(t0.Add(3*time.Second), c, true)
	if st.ProcessUptime != 3 || st.PodName != "pod-a" || st.Timestamp != 1003 {
		t.Errorf("metadata %+v", st)
	}
}

func TestStatRoundTrip(t *testing.T) {
	in := Stat{PodName: "p", AverageConcurrentRequests: 1.5, AverageProxiedConcurrentRequests: 0.25,
		RequestCount: 10, ProxiedRequestCount: 2, ProcessUptime: 99.5, Timestamp: 1700000000}
	out, err := DecodeStat(EncodeStat(nil, &in))
	if err != nil || out != in {
		t.Fatalf("got %+v, %v", out, err)
	}
	// Unknown fields are skipped; truncated input is an error.
	b := EncodeStat(nil, &in)
	b = append(b, 0x40|0, 1) // field 8, varint 1
	if out, err := DecodeStat(b); err != nil || out != in {
		t.Fatalf("with unknown field: %+v, %v", out, err)
	}
	if _, err := DecodeStat(b[:6]); err == nil {
		t.Fatal("truncated input decoded")
	}
}

// The stats port through real sockets: traffic shows up in both encodings,
// and activator-proxied requests are counted apart.
func TestStatsPort(t *testing.T) {
	q := startQP(t, testEnv(startApp(t)), "--stats-period=200ms")
	waitReady(t, q)
	for i := range 10 {
		hdr := []string{}
		if i%2 == 0 {
			hdr = []string{"K-Proxy-Request", "activator"}
		}
		if code, _ := get(t, nil, q.url(q.HTTP, "/?sleep=20"), hdr...); code != 200 {
			t.Fatalf("code %d", code)
		}
	}
	// Sum the rates over the windows that saw the traffic.
	deadline := time.Now().Add(3 * time.Second)
	var total, proxied float64
	var last int64
	for time.Now().Before(deadline) && total*0.2 < 9.5 {
		req, _ := http.NewRequest("GET", q.url(q.Stats, "/metrics"), nil)
		req.Header.Set("Accept", "application/protobuf")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "application/protobuf" {
			t.Fatalf("content type %q", ct)
		}
		st, err := DecodeStat(b)
		if err != nil {
			t.Fatal(err)
		}
		if st.PodName != "pod-1" {
			t.Fatalf("pod %q", st.PodName)
		}
		if ts := int64(st.ProcessUptime * 1000); ts != last {
			last = ts
			total += st.RequestCount
			proxied += st.ProxiedRequestCount
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Each window is ~200ms, so per-second rates times 0.2 are counts.
	if got := total * 0.2; math.Abs(got-10) > 1.5 {
		t.Errorf("requests seen by stats ≈ %.1f, want 10", got)
	}
	if got := proxied * 0.2; math.Abs(got-5) > 1 {
		t.Errorf("proxied requests ≈ %.1f, want 5", got)
	}
	_, text := get(t, nil, q.url(q.Stats, "/metrics"))
	for _, want := range []string{"queue_requests_per_second{", "queue_proxied_operations_per_second{",
		"queue_average_concurrent_requests{", "queue_average_proxied_concurrent_requests{", "process_uptime{",
		`destination_namespace="ns"`, `destination_configuration="cfg"`, `destination_revision="rev-1"`, `destination_pod="pod-1"`} {
		if !strings.Contains(text, want) {
			t.Errorf("text stats lack %s:\n%s", want, text)
		}
	}
}
