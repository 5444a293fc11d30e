package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"
)

var ignoreCount = cmpopts.IgnoreUnexported(Target{})

func mustTable(t testing.TB, entries ...RouteEntry) *Table {
	t.Helper()
	tb, err := NewTable(entries)
	if err != nil {
		t.Fatalf("NewTable: %v", err)
	}
	return tb
}

func entry(host string, targets ...Target) RouteEntry {
	return RouteEntry{Host: host, Namespace: "default", Route: "hello", Targets: targets}
}

func target(rev string, pct int64) Target {
	return Target{Namespace: "default", Revision: rev, Percent: pct}
}

func TestNewTableErrors(t *testing.T) {
	tests := []struct {
		name    string
		entries []RouteEntry
		wantErr string
	}{
		{"duplicate host", []RouteEntry{entry("a.example.com"), entry("a.example.com")}, `host "a.example.com" is claimed twice`},
		{"duplicate host differing in case", []RouteEntry{entry("a.example.com"), entry("A.Example.COM")}, `host "a.example.com" is claimed twice`},
		{"negative percent", []RouteEntry{entry("a.example.com", target("r", -1))}, `negative percent for revision r`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb, err := NewTable(tc.entries)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want it to contain %q", err, tc.wantErr)
			}
			if tb != nil {
				t.Error("a table was returned with the error")
			}
		})
	}
	if tb, err := NewTable(nil); err != nil || tb.Len() != 0 {
		t.Errorf("NewTable(nil) = %v, %v", tb, err)
	}
}

func TestNewTableCopiesTargets(t *testing.T) {
	targets := []Target{target("r1", 100)}
	tb := mustTable(t, entry("a.example.com", targets...))
	targets[0].Revision = "changed"
	e, _ := tb.Lookup("a.example.com")
	if e.Targets[0].Revision != "r1" {
		t.Error("the table aliases the caller's targets")
	}
}

func TestLookup(t *testing.T) {
	tb := mustTable(t,
		entry("hello.default.localhost", target("hello-1", 100)),
		RouteEntry{Host: "Mixed.Case.Example", Namespace: "ns", Route: "mixed"},
		RouteEntry{Host: "[::1]", Namespace: "ns", Route: "v6"},
	)
	tests := []struct {
		host      string
		wantRoute string // "" = not found
	}{
		{"hello.default.localhost", "hello"},
		{"hello.default.localhost:8080", "hello"},
		{"HELLO.Default.LocalHost:8080", "hello"},
		{"hello.default.localhost:", "hello"},
		{"mixed.case.example", "mixed"},
		{"MIXED.CASE.EXAMPLE:80", "mixed"},
		{"[::1]:8080", "v6"},
		{"[::1]", "v6"},
		{"other.default.localhost", ""},
		{"hello.default", ""},
		{"", ""},
		{"hello.default.localhost.evil.com", ""},
	}
	for _, tc := range tests {
		e, ok := tb.Lookup(tc.host)
		got := ""
		if ok {
			got = e.Route
		}
		if got != tc.wantRoute {
			t.Errorf("Lookup(%q) route = %q, want %q", tc.host, got, tc.wantRoute)
		}
	}
	if tb.Len() != 3 {
		t.Errorf("Len = %d, want 3", tb.Len())
	}
}

func TestPick(t *testing.T) {
	tb := mustTable(t, entry("h", target("a", 80), target("b", 20)))
	hr, _ := tb.lookup("h")
	tests := []struct {
		r    float64
		want string
	}{
		{0, "a"}, {0.5, "a"}, {0.7999, "a"}, {0.8, "b"}, {0.9, "b"}, {0.999999999, "b"},
	}
	for _, tc := range tests {
		tg, ok := hr.pick(tc.r)
		if !ok || tg.Revision != tc.want {
			t.Errorf("pick(%v) = %v, %v; want %s", tc.r, tg, ok, tc.want)
		}
	}
}

func TestPickDistribution(t *testing.T) {
	tests := []struct {
		name    string
		targets []Target
		want    map[string]int // out of n evenly spaced draws
	}{
		{"80/20", []Target{target("a", 80), target("b", 20)}, map[string]int{"a": 8000, "b": 2000}},
		{"zero percent targets never picked", []Target{target("z1", 0), target("a", 50), target("z2", 0), target("b", 50), target("z3", 0)},
			map[string]int{"a": 5000, "b": 5000}},
		{"three way", []Target{target("a", 33), target("b", 33), target("c", 34)}, map[string]int{"a": 3300, "b": 3300, "c": 3400}},
		{"single", []Target{target("a", 100)}, map[string]int{"a": 10000}},
		{"weights need not sum to 100", []Target{target("a", 1), target("b", 3)}, map[string]int{"a": 2500, "b": 7500}},
	}
	const n = 10000
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hr, _ := mustTable(t, entry("h", tc.targets...)).lookup("h")
			got := map[string]int{}
			for i := range n {
				tg, ok := hr.pick(float64(i) / n)
				if !ok {
					t.Fatalf("pick(%v) found nothing", float64(i)/n)
				}
				got[tg.Revision]++
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("picks (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPickNothing(t *testing.T) {
	for _, targets := range [][]Target{nil, {target("a", 0)}, {target("a", 0), target("b", 0)}} {
		hr, _ := mustTable(t, entry("h", targets...)).lookup("h")
		for _, r := range []float64{0, 0.5, 0.99} {
			if tg, ok := hr.pick(r); ok {
				t.Errorf("targets %v: pick(%v) = %v, want none", targets, r, tg)
			}
		}
	}
}

// backend records what it received.
type backend struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
}

func newBackend(t *testing.T, name string) *backend {
	return newBackendProto(t, name, false)
}

func newBackendProto(t *testing.T, name string, h2c bool) *backend {
	b := &backend{}
	b.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.reqs = append(b.reqs, r.Clone(context.Background()))
		b.mu.Unlock()
		w.Header().Set("X-Backend", name)
		fmt.Fprintf(w, "%s host=%s tag=%s rev=%s proto=%s", name, r.Host, r.Header.Get("Knative-Serving-Tag"),
			r.Header.Get("Knative-Serving-Revision"), r.Proto)
	}))
	if h2c {
		b.Config.Protocols = new(http.Protocols)
		b.Config.Protocols.SetHTTP1(true)
		b.Config.Protocols.SetUnencryptedHTTP2(true)
	}
	b.Start()
	t.Cleanup(b.Close)
	return b
}

func (b *backend) addr() string { return b.Listener.Addr().String() }

func (b *backend) last(t *testing.T) *http.Request {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.reqs) == 0 {
		t.Fatal("backend got no request")
	}
	return b.reqs[len(b.reqs)-1]
}

func serve(g http.Handler, host string, hdr http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "http://"+host+"/path?q=1", nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, req)
	return rec
}

func TestServeUnknownHost(t *testing.T) {
	g := New(Options{})
	rec := serve(g, "nobody.default.localhost:8080", nil)
	if rec.Code != http.StatusNotFound {
		t.Errorf("code = %d, want 404", rec.Code)
	}
	if want := `no service for host "nobody.default.localhost:8080"`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("body = %q, want it to name the host (%s)", rec.Body, want)
	}
}

func TestServeNoTrafficTargets(t *testing.T) {
	g := New(Options{})
	g.SetTable(mustTable(t, entry("hello.default.localhost", target("hello-1", 0))))
	rec := serve(g, "hello.default.localhost", nil)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "default/hello has no traffic targets") {
		t.Errorf("%d %q, want 503 naming the route", rec.Code, rec.Body)
	}
}

func TestServeNoEndpointTimesOut(t *testing.T) {
	var poked []string
	var mu sync.Mutex
	g := New(Options{OnColdStart: func(ns, rev string) { mu.Lock(); poked = append(poked, ns+"/"+rev); mu.Unlock() }})
	tg := target("hello-1", 100)
	tg.Timeout = 10 * time.Millisecond
	g.SetTable(mustTable(t, entry("hello.default.localhost", tg)))
	rec := serve(g, "hello.default.localhost", nil)
	if rec.Code != http.StatusGatewayTimeout {
		t.Errorf("code = %d (%q), want 504", rec.Code, rec.Body)
	}
	mu.Lock()
	defer mu.Unlock()
	if !cmp.Equal(poked, []string{"default/hello-1"}) {
		t.Errorf("cold-start pokes = %v, want [default/hello-1]", poked)
	}
}

func TestServeDefaultTimeoutApplies(t *testing.T) {
	g := New(Options{DefaultTimeout: 10 * time.Millisecond})
	g.SetTable(mustTable(t, entry("h", target("r", 100)))) // Timeout 0: the default
	if rec := serve(g, "h", nil); rec.Code != http.StatusGatewayTimeout {
		t.Errorf("code = %d, want 504", rec.Code)
	}
}

func TestServeColdStart(t *testing.T) {
	be := newBackend(t, "one")
	waiting := make(chan struct{}, 1)
	g := New(Options{OnColdStart: func(string, string) { waiting <- struct{}{} }})
	g.SetTable(mustTable(t, entry("hello.default.localhost", target("hello-1", 100))))

	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- serve(g, "hello.default.localhost", nil) }()
	<-waiting // the request is held by the activator
	g.SetEndpoints(Endpoints{"default/other": {{HTTP: "127.0.0.1:1"}}})
	g.SetEndpoints(Endpoints{EndpointKey("default", "hello-1"): {{HTTP: be.addr()}}})
	rec := <-done
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Body.String(), "one ") {
		t.Fatalf("%d %q, want 200 from the backend", rec.Code, rec.Body)
	}
	if rec.Header().Get("Gantry-Cold-Start") != "true" || rec.Header().Get("Gantry-Cold-Start-Ms") == "" {
		t.Errorf("cold-start headers missing: %v", rec.Header())
	}
}

func TestServeBufferOverflow(t *testing.T) {
	waiting := make(chan struct{}, 1)
	g := New(Options{MaxBuffered: 1, OnColdStart: func(string, string) { waiting <- struct{}{} }})
	g.SetTable(mustTable(t, entry("h", target("r", 100))))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		req := httptest.NewRequest(http.MethodGet, "http://h/", nil).WithContext(ctx)
		g.ServeHTTP(httptest.NewRecorder(), req)
	}()
	<-waiting
	rec := serve(g, "h", nil)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "too many requests waiting for revision default/r") {
		t.Errorf("%d %q, want 503 (buffer full)", rec.Code, rec.Body)
	}
	cancel()
	<-done
	// The slot is free again: the next request waits (and times out) instead of overflowing.
	tb := mustTable(t, entry("h", Target{Namespace: "default", Revision: "r", Percent: 100, Timeout: time.Millisecond}))
	g.SetTable(tb)
	go func() { <-waiting }()
	if rec := serve(g, "h", nil); rec.Code != http.StatusGatewayTimeout {
		t.Errorf("after the held request left: %d, want 504", rec.Code)
	}
}

func TestServeClientGoneWhileWaiting(t *testing.T) {
	g := New(Options{})
	g.SetTable(mustTable(t, entry("h", target("r", 100))))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest(http.MethodGet, "http://h/", nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, req)
	if rec.Body.Len() != 0 || len(rec.Header()) != 0 {
		t.Errorf("wrote %q %v to a client that went away", rec.Body, rec.Header())
	}
}

func TestServeDeadBackend(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	reg := prometheus.NewRegistry()
	g := New(Options{Registry: reg})
	g.SetTable(mustTable(t, entry("h", target("r", 100))))
	g.SetEndpoints(Endpoints{"default/r": {{HTTP: dead}}})
	rec := serve(g, "h", nil)
	if rec.Code != http.StatusBadGateway || !strings.Contains(rec.Body.String(), "unreachable") {
		t.Errorf("%d %q, want 502", rec.Code, rec.Body)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() != "gantry_gateway_routing_errors_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == "backend_error" && m.GetCounter().GetValue() == 1 {
					found = true
				}
			}
		}
	}
	if !found {
		t.Error("gantry_gateway_routing_errors_total{reason=backend_error} is not 1")
	}
}

func TestServeHeaders(t *testing.T) {
	be := newBackend(t, "one")
	g := New(Options{})
	tagged := target("hello-1", 100)
	tagged.Tag = "canary"
	g.SetTable(mustTable(t,
		entry("hello.default.localhost", target("hello-1", 100)),
		RouteEntry{Host: "canary-hello.default.localhost", Namespace: "default", Route: "hello", Tag: "canary", Targets: []Target{tagged}},
	))
	g.SetEndpoints(Endpoints{"default/hello-1": {{HTTP: be.addr()}}})

	tests := []struct {
		name, host string
		hdr        http.Header
		wantTag    string
	}{
		{"main host", "hello.default.localhost:8080", nil, ""},
		{"main host strips a client tag header", "hello.default.localhost:8080", http.Header{"Knative-Serving-Tag": {"spoofed"}}, ""},
		{"tag host", "canary-hello.default.localhost:8080", nil, "canary"},
		{"tag host overrides a client tag header", "canary-hello.default.localhost", http.Header{"Knative-Serving-Tag": {"spoofed"}}, "canary"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(g, tc.host, tc.hdr)
			if rec.Code != http.StatusOK {
				t.Fatalf("code = %d %q", rec.Code, rec.Body)
			}
			r := be.last(t)
			if r.Host != tc.host {
				t.Errorf("backend saw Host %q, want %q", r.Host, tc.host)
			}
			if got := r.Header.Values("Knative-Serving-Tag"); tc.wantTag == "" && len(got) != 0 || tc.wantTag != "" && !cmp.Equal(got, []string{tc.wantTag}) {
				t.Errorf("Knative-Serving-Tag = %q, want %q", got, tc.wantTag)
			}
			if r.Header.Get("Knative-Serving-Revision") != "hello-1" || r.Header.Get("Knative-Serving-Namespace") != "default" {
				t.Errorf("revision headers = %q/%q", r.Header.Get("Knative-Serving-Namespace"), r.Header.Get("Knative-Serving-Revision"))
			}
			if r.URL.RequestURI() != "/path?q=1" {
				t.Errorf("backend saw %q, want /path?q=1", r.URL.RequestURI())
			}
			if r.Header.Get("X-Forwarded-Host") != tc.host {
				t.Errorf("X-Forwarded-Host = %q", r.Header.Get("X-Forwarded-Host"))
			}
			if rec.Header().Get("X-Backend") != "one" {
				t.Errorf("response headers not proxied: %v", rec.Header())
			}
		})
	}
}

func TestServeRoundRobin(t *testing.T) {
	a, b := newBackend(t, "a"), newBackend(t, "b")
	g := New(Options{})
	g.SetTable(mustTable(t, entry("h", target("r", 100))))
	g.SetEndpoints(Endpoints{"default/r": {{HTTP: a.addr()}, {HTTP: b.addr()}}})
	count := map[string]int{}
	for range 6 {
		count[serve(g, "h", nil).Header().Get("X-Backend")]++
	}
	if !cmp.Equal(count, map[string]int{"a": 3, "b": 3}) {
		t.Errorf("requests per instance = %v, want 3 each", count)
	}
	// Setting the same endpoints again keeps the rotation going.
	g.SetEndpoints(Endpoints{"default/r": {{HTTP: a.addr()}, {HTTP: b.addr()}}})
	first := serve(g, "h", nil).Header().Get("X-Backend")
	second := serve(g, "h", nil).Header().Get("X-Backend")
	if first == second {
		t.Errorf("two requests in a row went to %s", first)
	}
}

func TestServeH2C(t *testing.T) {
	h1 := newBackend(t, "h1")
	h2 := newBackendProto(t, "h2", true)

	g := New(Options{})
	tg := target("grpc-1", 100)
	tg.H2C = true
	g.SetTable(mustTable(t, entry("grpc.default.localhost", tg)))
	g.SetEndpoints(Endpoints{"default/grpc-1": {{HTTP: h1.addr(), H2C: h2.addr()}}})

	rec := serve(g, "grpc.default.localhost", nil)
	if !strings.HasPrefix(rec.Body.String(), "h2 ") || !strings.Contains(rec.Body.String(), "proto=HTTP/2.0") {
		t.Errorf("h2c target answered %q, want the h2c port over HTTP/2", rec.Body)
	}
	rec = serve(g, "grpc.default.localhost", http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}})
	if !strings.HasPrefix(rec.Body.String(), "h1 ") {
		t.Errorf("upgrade request answered %q, want the HTTP/1 port", rec.Body)
	}
}

func TestServeStreams(t *testing.T) {
	release := make(chan struct{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "second\n")
	}))
	defer be.Close()
	defer close(release)

	g := New(Options{})
	g.SetTable(mustTable(t, entry("stream.default.localhost", target("s", 100))))
	g.SetEndpoints(Endpoints{"default/s": {{HTTP: be.Listener.Addr().String()}}})
	front := httptest.NewServer(g)
	defer front.Close()

	req, _ := http.NewRequest(http.MethodGet, front.URL, nil)
	req.Host = "stream.default.localhost"
	resp, err := front.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	// The backend is still waiting on release: this read only returns if the
	// gateway flushed the first chunk.
	line, err := br.ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first chunk = %q, %v", line, err)
	}
	release <- struct{}{}
	line, err = br.ReadString('\n')
	if err != nil || line != "second\n" {
		t.Fatalf("second chunk = %q, %v", line, err)
	}
}

func TestShareWindow(t *testing.T) {
	a := newBackend(t, "a")
	g := New(Options{})
	tagged := target("r1", 100)
	tagged.Tag = "t"
	build := func() *Table {
		return mustTable(t,
			entry("h", target("r1", 100), target("r2", 0)),
			RouteEntry{Host: "t-h", Namespace: "default", Route: "hello", Tag: "t", Targets: []Target{tagged}},
		)
	}
	g.SetTable(build())
	g.SetEndpoints(Endpoints{"default/r1": {{HTTP: a.addr()}}})
	var w ShareWindow
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	w.Sample(g, t0)
	for range 3 {
		serve(g, "h", nil)
	}
	serve(g, "t-h", nil) // tag hosts are not part of the split
	g.SetTable(build())  // counts survive a table swap
	serve(g, "h", nil)
	w.Sample(g, t0.Add(10*time.Second))
	got, window := w.Requests("default", "hello")
	if diff := cmp.Diff(map[string]uint64{"r1": 4, "r2": 0}, got); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if window != 10*time.Second {
		t.Errorf("window = %v, want 10s", window)
	}
	if got, _ := w.Requests("default", "hell"); len(got) != 0 {
		t.Errorf("a route name prefix matched: %v", got)
	}
}

func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{10, 10000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			entries := make([]RouteEntry, n)
			hosts := make([]string, n)
			for i := range entries {
				entries[i] = RouteEntry{Host: fmt.Sprintf("svc-%d.ns-%d.localhost", i, i%7), Namespace: "ns", Route: fmt.Sprint(i),
					Targets: []Target{{Namespace: "ns", Revision: "r1", Percent: 80}, {Namespace: "ns", Revision: "r2", Percent: 20}}}
				hosts[i] = entries[i].Host + ":8080"
			}
			tb := mustTable(b, entries...)
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				hr, ok := tb.lookup(hosts[i%n])
				if !ok {
					b.Fatal("miss")
				}
				if _, ok := hr.pick(0.5); !ok {
					b.Fatal("no pick")
				}
				i++
			}
		})
	}
}

// Consecutive picks split within a request or two of the percents, in any
// window, even a short one; random draws would stray by ±sqrt(n).
func TestPickNextSplitsEvenly(t *testing.T) {
	for _, split := range [][2]int64{{30, 70}, {10, 90}, {1, 99}, {50, 50}} {
		hr, _ := mustTable(t, entry("h", target("a", split[0]), target("b", split[1]))).lookup("h")
		const window = 100
		for start := 0; start < 5000; start += window {
			a := 0
			for range window {
				tg, ok := hr.pickNext()
				if !ok {
					t.Fatal("pickNext found nothing")
				}
				if tg.Revision == "a" {
					a++
				}
			}
			if d := a - int(split[0]); d < -2 || d > 2 {
				t.Fatalf("%d/%d: picks %d..%d gave a %d of %d", split[0], split[1], start, start+window, a, window)
			}
		}
	}
	hr, _ := mustTable(t, entry("h", target("only", 100))).lookup("h")
	if tg, ok := hr.pickNext(); !ok || tg.Revision != "only" {
		t.Errorf("single target: pickNext = %v, %v", tg, ok)
	}
}
