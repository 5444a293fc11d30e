package queueproxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/internal/h1"
)

// FuzzHeaders feeds arbitrary probe, user-agent, trace and connection
// headers to the header handling: it must never panic, probes must get
// 200/400/503 and never touch the stats or the metrics, and trace ids
// must come out well-formed or not at all.
func FuzzHeaders(f *testing.F) {
	f.Add("queue", "", "kube-probe/1.31", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "keep-alive")
	f.Add("probe", "hash", "", "", "Upgrade, X-Foo")
	f.Add("bogus", "", "Knative-Activator-Probe", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "")
	f.Add("", "", "curl/8", "garbage", ",,  ,te")
	f.Add("\xff", "\x00", "kube-probe/", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "close")
	env, err := LoadEnv(testEnv(1))
	if err != nil {
		f.Fatal(err)
	}
	p := NewProber(env.ReadinessProbe, nil)
	p.set(true)
	deps := handlerDeps{env: env, stats: NewRequestStats(time.Now()), metrics: NewMetrics(env, MetricsOptions{}),
		drainer: NewDrainer(time.Second), prober: p, tracker: newHijackTracker()}
	h := buildHandler(deps, http.DefaultTransport)
	f.Fuzz(func(t *testing.T, probe, hash, ua, traceparent, conn string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("K-Network-Probe", probe)
		r.Header.Set("K-Network-Hash", hash)
		r.Header.Set("User-Agent", ua)
		r.Header.Set("Traceparent", traceparent)
		r.Header.Set("Connection", conn)

		if id := traceIDOf(r.Header); id != "" {
			if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" || strings.Trim(id, "0") == "" {
				t.Fatalf("trace id %q from %q", id, traceparent)
			}
		}
		for _, k := range []string{"Upgrade", "Te", "X-Foo", conn} {
			h1.ListedIn([]string{conn}, k) // must not panic
		}
		if classifyProbe(r) == notProbe {
			return // would be proxied; covered by the socket tests
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case 200, 503:
		case 400:
			if probe != "probe" && w.Body.String() != "unexpected probe header value: "+probe+"\n" {
				t.Fatalf("400 body %q for %q", w.Body.String(), probe)
			}
		default:
			t.Fatalf("probe answered %d", w.Code)
		}
		if probe == "probe" && hash != "" && w.Header().Get("K-Network-Hash") != hash {
			t.Fatalf("hash not echoed")
		}
		if c := deps.stats.Concurrency(); c != 0 {
			t.Fatalf("probe counted in stats: %d", c)
		}
	})
}
