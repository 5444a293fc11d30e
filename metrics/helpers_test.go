package metrics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"
)

func openTest(t testing.TB, o Options) *DB {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	db, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

// appTarget is an httptest server exposing client_golang metrics, like a
// queue-proxy: a request counter and a latency histogram with Knative's
// names and a const namespace label.
type appTarget struct {
	srv      *httptest.Server
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newAppTarget(t testing.TB) *appTarget {
	t.Helper()
	reg := prometheus.NewRegistry()
	a := &appTarget{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "revision_request_count", Help: "Requests.",
			ConstLabels: prometheus.Labels{"namespace_name": "scraped-ns"}}, []string{"response_code_class"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "revision_request_latencies", Help: "Latency in ms.",
			Buckets: []float64{5, 10, 50, 100}}, []string{"response_code_class"}),
	}
	reg.MustRegister(a.requests, a.latency)
	a.srv = httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *appTarget) hostPort() string { return a.srv.Listener.Addr().String() }

// mustQuery runs an instant query and returns its vector.
func mustQuery(t testing.TB, q Querier, expr string, ts time.Time) model.Vector {
	t.Helper()
	v, err := q.Query(context.Background(), expr, ts)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	vec, ok := v.(model.Vector)
	if !ok {
		t.Fatalf("%s: got %T, want a vector", expr, v)
	}
	return vec
}

func handlerServer(t testing.TB, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}
