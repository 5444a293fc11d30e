package ui

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/dashboards"
	"github.com/gantry-dev/gantry/store"
)

// benchServices is the size the issue asks the services page to handle.
const benchServices = 200

// benchFixture is a store with benchServices services of two revisions each
// and a querier with every overview series of each revision.
func benchFixture(b *testing.B) http.Handler {
	st, err := store.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	q := newFakeQuerier()
	f := &fixture{st: st}
	for i := range benchServices {
		ns, name := fmt.Sprintf("team-%02d", i%10), fmt.Sprintf("svc-%03d", i)
		putService(b, f, ns, name, name+"-00001", name+"-00002")
		for j, r := range []string{name + "-00001", name + "-00002"} {
			l := rev(ns, name, r)
			for k, qq := range overviewQueries {
				q.set(b, qq, dashboards.Selector{}, defaultRange.Window, fakeSeries{labels: l, value: float64(1 + i + j + k)})
			}
		}
	}
	return New(Options{Store: st, Config: func() *api.Config { return api.DefaultConfig("localhost") }, Querier: q})
}

func benchGet(b *testing.B, h http.Handler, path string) {
	b.ReportAllocs()
	var size int
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(size), "bytes/page")
}

// BenchmarkServicesPage renders the services page (HTML, 13 columns with 9
// sparklines each) for 200 services of two revisions each: the 9 range
// queries (answered by a fake querier), the aggregation by service and the
// template.
func BenchmarkServicesPage(b *testing.B) { benchGet(b, benchFixture(b), "/?sort=rate&dir=desc") }

// BenchmarkServicesAPI is the same data as JSON.
func BenchmarkServicesAPI(b *testing.B) {
	benchGet(b, benchFixture(b), "/api/ui/services?sort=p99&dir=desc")
}
