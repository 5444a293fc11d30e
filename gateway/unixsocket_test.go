package gateway

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/internal/quietunix"
)

// An endpoint with a Unix socket (a queue-proxy on this machine) gets the
// fast path's requests, bodies included, over that socket; its TCP port
// keeps what the fast path does not take.
func TestFastPathOverUnixSocket(t *testing.T) {
	named := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Backend", name)
			io.WriteString(w, r.Method+" "+r.Header.Get("Knative-Serving-Revision")+" "+string(b))
		})
	}
	tcp := httptest.NewServer(named("tcp"))
	t.Cleanup(tcp.Close)
	sock := filepath.Join(t.TempDir(), "qp.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	unix := httptest.NewUnstartedServer(named("unix"))
	unix.Listener.Close()
	unix.Listener = ln
	unix.Start()
	t.Cleanup(unix.Close)

	g := New(Options{})
	g.proxy.Transport = noReverseProxy{t}
	g.SetTable(mustTable(t, entry("u.default.localhost", target("u", 100))))
	g.SetEndpoints(Endpoints{"default/u": {{HTTP: tcp.Listener.Addr().String(), Unix: sock}}})
	front := httptest.NewServer(g)
	t.Cleanup(front.Close)

	for _, tc := range []struct{ method, body string }{{"GET", ""}, {"POST", "hello"}, {"PUT", strings.Repeat("x", 70000)}, {"GET", ""}} {
		req, _ := http.NewRequest(tc.method, front.URL+"/", strings.NewReader(tc.body))
		req.Host = "u.default.localhost"
		if tc.body == "" {
			req.Body = nil
		}
		resp, err := front.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("X-Backend") != "unix" || string(b) != tc.method+" u "+tc.body {
			t.Fatalf("%s: %d from %q: %.40q", tc.method, resp.StatusCode, resp.Header.Get("X-Backend"), b)
		}
	}

	// Kept out of the runtime's poller, so the queue-proxy's reads do not
	// wake the gateway (see quietunix).
	if ac := g.fast.pool(sock).Get(); ac == nil {
		t.Error("no pooled connection to the socket")
	} else if _, ok := ac.Conn.(*quietunix.Conn); !ok {
		t.Errorf("the pooled connection is a %T, want a *quietunix.Conn", ac.Conn)
	} else if _, ok := ac.Conn.(syscall.Conn); !ok {
		// h1's send-then-wait needs it: without, every request pays a
		// read that fails with EAGAIN before it parks for the answer.
		t.Errorf("the pooled connection gives no RawConn: no send-then-wait")
	}

	// A socket nobody listens on is the backend's failure: a 502, no
	// silent fall back to another address.
	unix.Close()
	req, _ := http.NewRequest("GET", front.URL+"/", nil)
	req.Host = "u.default.localhost"
	resp, err := front.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("dead socket: %d, want 502", resp.StatusCode)
	}
}

// An instance that leaves the endpoints takes its pool with it: the map
// does not grow with restarts (each has a socket path of its own), and the
// idle connections to it are closed.
func TestPoolsOfGoneInstancesAreClosed(t *testing.T) {
	closed := make(chan struct{}, 16)
	old := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "old") }))
	old.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed <- struct{}{}
		}
	}
	old.Start()
	t.Cleanup(old.Close)
	next := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "next") }))
	t.Cleanup(next.Close)

	g := New(Options{})
	g.proxy.Transport = noReverseProxy{t}
	g.SetTable(mustTable(t, entry("u.default.localhost", target("u", 100))))
	front := httptest.NewServer(g)
	t.Cleanup(front.Close)
	get := func(want string) {
		t.Helper()
		req, _ := http.NewRequest("GET", front.URL+"/", nil)
		req.Host = "u.default.localhost"
		resp, err := front.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != want {
			t.Fatalf("GET: %d %q, want 200 %q", resp.StatusCode, b, want)
		}
	}
	pools := func() (n int) {
		g.fast.pools.Range(func(_, _ any) bool { n++; return true })
		return n
	}

	g.SetEndpoints(Endpoints{"default/u": {{HTTP: old.Listener.Addr().String()}}})
	get("old")
	get("old")
	if n := pools(); n != 1 {
		t.Fatalf("%d pools after two requests to one instance, want 1", n)
	}
	// The same instance listed again (another revision changed) keeps its pool.
	g.SetEndpoints(Endpoints{"default/u": {{HTTP: old.Listener.Addr().String()}}, "default/v": nil})
	if n := pools(); n != 1 {
		t.Fatalf("%d pools with the instance still listed, want 1", n)
	}
	select {
	case <-closed:
		t.Fatal("the pooled connection to a listed instance was closed")
	default:
	}

	g.SetEndpoints(Endpoints{"default/u": {{HTTP: next.Listener.Addr().String()}}})
	get("next")
	if n := pools(); n != 1 {
		t.Errorf("%d pools after the instance was replaced, want 1 (the gone one's dropped)", n)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Error("the idle connection to the gone instance was never closed")
	}

	// A request that picked the gone instance just before the change is
	// still served, on a connection of its own that is closed after it,
	// and leaves no pool behind.
	req := httptest.NewRequest("GET", "/", nil)
	rec := httptest.NewRecorder()
	if err := g.fast.serve(rec, req, old.Listener.Addr().String(), "u.default.localhost", func(int) {}); err != nil || rec.Body.String() != "old" {
		t.Fatalf("late request to the gone instance: %v %q", err, rec.Body.String())
	}
	if n := pools(); n != 1 {
		t.Errorf("%d pools after a late request to the gone instance, want 1", n)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Error("the late request's connection to the gone instance was not closed")
	}
}
