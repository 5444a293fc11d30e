package metrics

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

func TestScrapeThenQueryRate(t *testing.T) {
	db := openTest(t, Options{})
	app := newAppTarget(t)
	targets := []Target{{URL: app.hostPort(), Labels: map[string]string{
		"job": "queue-proxy", "namespace_name": "target-ns", "pod": "hello-00001-abc", "__meta_ignored": "x"}}}
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	for i := range 15 {
		app.requests.WithLabelValues("2xx").Add(10) // 2 requests/s at 5s spacing
		app.latency.WithLabelValues("2xx").Observe(7)
		res, err := db.ScrapeOnce(context.Background(), targets, t0.Add(time.Duration(i)*5*time.Second))
		if err != nil || !res[0].Up {
			t.Fatalf("round %d: %+v, %v", i, res, err)
		}
	}
	end := t0.Add(70 * time.Second)

	vec := mustQuery(t, db, `rate(revision_request_count[1m])`, end)
	if len(vec) != 1 || vec[0].Value != 2 {
		t.Fatalf("rate: got %v, want one series at 2/s", vec)
	}
	m := vec[0].Metric
	want := model.Metric{"job": "queue-proxy", "instance": model.LabelValue(app.hostPort()), "pod": "hello-00001-abc",
		"namespace_name": "scraped-ns", "response_code_class": "2xx"}
	if !m.Equal(want) {
		t.Errorf("labels: got %v, want %v (target labels added, scraped labels win, __ labels dropped)", m, want)
	}

	vec = mustQuery(t, db, `histogram_quantile(0.5, sum by (le) (rate(revision_request_latencies_bucket[1m])))`, end)
	if len(vec) != 1 || vec[0].Value <= 5 || vec[0].Value > 10 {
		t.Errorf("p50 latency: got %v, want within the (5, 10] bucket", vec)
	}
	for expr, want := range map[string]float64{
		`up{job="queue-proxy"}`:                         1,
		`count(scrape_duration_seconds >= 0)`:           1,
		`scrape_samples_scraped > 0`:                    -1,
		`scrape_series_added`:                           0, // nothing new in the last round
		`count_over_time(up[1m])`:                       12,
		`revision_request_count{pod="hello-00001-abc"}`: 150,
	} {
		vec := mustQuery(t, db, expr, end)
		if len(vec) != 1 || (want >= 0 && float64(vec[0].Value) != want) {
			t.Errorf("%s: got %v, want one sample = %v", expr, vec, want)
		}
	}

	rng, err := db.QueryRange(context.Background(), `rate(revision_request_count[10s])`, end.Add(-10*time.Second), end, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	mat := rng.(model.Matrix)
	if len(mat) != 1 || len(mat[0].Values) != 3 {
		t.Fatalf("range: got %v, want one series with 3 points", mat)
	}
	for _, p := range mat[0].Values {
		if p.Value != 2 {
			t.Errorf("range point %v: want 2/s", p)
		}
	}
}

func TestScrapeOpenMetricsAndExplicitTimestamps(t *testing.T) {
	db := openTest(t, Options{})
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	explicit := t0.Add(-time.Minute).UnixMilli()
	srv := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept"), "text/plain;version=0.0.4") {
			t.Errorf("Accept %q does not ask for the text format", r.Header.Get("Accept"))
		}
		w.Header().Set("Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8")
		fmt.Fprintf(w, "# TYPE jobs counter\njobs_total{kind=\"a\"} 3\n# TYPE last gauge\nlast 7 %d.000\n# EOF\n", explicit/1000)
	})
	res, err := db.ScrapeOnce(context.Background(), []Target{{URL: srv.URL + "/custom"}}, t0)
	if err != nil || !res[0].Up || res[0].Samples != 2 {
		t.Fatalf("%+v %v", res, err)
	}
	if v := mustQuery(t, db, `jobs_total{job="gantry"}`, t0); len(v) != 1 || v[0].Value != 3 {
		t.Errorf("jobs_total: %v", v)
	}
	if v := mustQuery(t, db, `timestamp(last)`, t0); len(v) != 1 || int64(v[0].Value) != explicit/1000 {
		t.Errorf("timestamp(last): %v, want %d", v, explicit/1000)
	}
}

func TestBrokenTargetsDoNotStopOthers(t *testing.T) {
	db := openTest(t, Options{ScrapeTimeout: 300 * time.Millisecond})
	good := newAppTarget(t)
	good.requests.WithLabelValues("2xx").Inc()
	flaky := newAppTarget(t)
	flaky.requests.WithLabelValues("5xx").Inc()
	broken := false
	flakySrv := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		if broken {
			_, _ = w.Write([]byte("this is {not metrics\n"))
			return
		}
		flaky.srv.Config.Handler.ServeHTTP(w, r)
	})
	status500 := handlerServer(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) })
	hang := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := ln.Addr().String()
	ln.Close()

	targets := []Target{
		{URL: good.hostPort(), Labels: map[string]string{"job": "good"}},
		{URL: flakySrv.URL, Labels: map[string]string{"job": "flaky"}},
		{URL: status500.URL, Labels: map[string]string{"job": "status500"}},
		{URL: hang.URL, Labels: map[string]string{"job": "hang"}},
		{URL: closedAddr, Labels: map[string]string{"job": "closed"}},
		{URL: "http://", Labels: map[string]string{"job": "invalid"}},
	}
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	start := time.Now()
	res, err := db.ScrapeOnce(context.Background(), targets, t0)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("round took %v: the hanging target was not timed out", d)
	}
	wantUp := map[string]bool{"good": true, "flaky": true}
	for i, r := range res {
		if r.Up != wantUp[targets[i].Labels["job"]] {
			t.Errorf("%s: up=%v err=%v", targets[i].Labels["job"], r.Up, r.Err)
		}
	}
	up := map[string]model.SampleValue{}
	for _, s := range mustQuery(t, db, `up`, t0) {
		up[string(s.Metric["job"])] = s.Value
	}
	wantUpSeries := map[string]model.SampleValue{"good": 1, "flaky": 1, "status500": 0, "hang": 0, "closed": 0}
	if fmt.Sprint(up) != fmt.Sprint(wantUpSeries) {
		t.Errorf("up: got %v, want %v", up, wantUpSeries)
	}
	if v := mustQuery(t, db, `revision_request_count{job="flaky"}`, t0); len(v) != 1 {
		t.Fatalf("flaky's series after a good scrape: %v", v)
	}

	// The flaky target now answers garbage and the hanging one is removed:
	// the good one is still scraped, and the series of both end (stale).
	broken = true
	t1 := t0.Add(5 * time.Second)
	if _, err := db.ScrapeOnce(context.Background(), append(targets[:3:3], targets[4:]...), t1); err != nil {
		t.Fatal(err)
	}
	if v := mustQuery(t, db, `revision_request_count{job="good"}`, t1); len(v) != 1 || v[0].Value != 1 {
		t.Errorf("good target: %v", v)
	}
	if v := mustQuery(t, db, `revision_request_count{job="flaky"}`, t1); len(v) != 0 {
		t.Errorf("series of a target now failing: %v, want none (stale)", v)
	}
	if v := mustQuery(t, db, `up{job="flaky"}`, t1); len(v) != 1 || v[0].Value != 0 {
		t.Errorf("up of the failing target: %v, want 0", v)
	}
	if v := mustQuery(t, db, `up{job="hang"}`, t1); len(v) != 0 {
		t.Errorf("up of a removed target: %v, want none (stale)", v)
	}
}

func TestRunScraper(t *testing.T) {
	db := openTest(t, Options{})
	app := newAppTarget(t)
	app.requests.WithLabelValues("2xx").Add(3)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		db.RunScraper(ctx, func() []Target { return []Target{{URL: app.srv.URL + "/metrics"}} }, 20*time.Millisecond)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if v := mustQuery(t, db, `count_over_time(up[1m])`, time.Now()); len(v) == 1 && v[0].Value >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("RunScraper did not scrape three times in 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
}
