package queueproxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gantry-dev/gantry/internal/quietunix"
)

func unixClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}}
}

// The gateway on the same machine reaches the HTTP proxy over a Unix
// socket: the same handler and limits, a socket only this user can open,
// a stale one from a killed queue-proxy replaced, and removed at stop.
func TestUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "qp.sock")
	stale, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close() // what kill -9 leaves behind: the file, nobody listening

	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-XFF", strings.Join(r.Header.Values("X-Forwarded-For"), "|"))
		if r.URL.Query().Get("status") == "201" {
			w.WriteHeader(201)
		}
		io.WriteString(w, "Hello test!")
	}))
	t.Cleanup(app.Close)
	q := startQP(t, testEnv(app.Listener.Addr().(*net.TCPAddr).Port), "--unix-socket="+sock)
	waitReady(t, q)
	if q.Unix != sock {
		t.Fatalf("ports file unix = %q, want %q", q.Unix, sock)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket file: %v %v", fi.Mode(), err)
	}
	c := unixClient(sock)
	for i := 0; i < 3; i++ { // keep-alive: the same connection serves again
		req, _ := http.NewRequest("GET", "http://hello.example/?status=201", nil)
		req.Header.Set("X-Forwarded-For", "203.0.113.7") // what the gateway writes
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		// The gateway's X-Forwarded-For reaches the app as it was sent.
		if got := resp.Header.Get("X-Seen-XFF"); got != "203.0.113.7" {
			t.Errorf("the app saw X-Forwarded-For %q, want 203.0.113.7", got)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 || !strings.Contains(string(b), "Hello test!") {
			t.Fatalf("over the socket: %d %q", resp.StatusCode, b)
		}
	}
	// The TCP port still serves.
	if code, _ := get(t, nil, q.url(q.HTTP, "/")); code != 200 {
		t.Fatalf("tcp: %d", code)
	}
	c.CloseIdleConnections()
	q.stop(t)
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left after stop: %v", err)
	}
}

// A file that is not a socket is never removed: the queue-proxy serves on
// TCP alone and says so.
func TestUnixSocketPathTaken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	q := startQP(t, testEnv(startApp(t)), "--unix-socket="+path)
	waitReady(t, q)
	if q.Unix != "" {
		t.Errorf("ports file unix = %q for a path that is a regular file", q.Unix)
	}
	if code, _ := get(t, nil, q.url(q.HTTP, "/")); code != 200 {
		t.Fatalf("tcp: %d", code)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "keep me" {
		t.Errorf("the file in the way was touched: %q %v", b, err)
	}
	if !strings.Contains(logs.String(), "no Unix socket") {
		t.Error("no warning logged")
	}
}

// The socket's connections are kept out of the runtime's poller, so the
// gateway's reads do not wake the queue-proxy (see quietunix).
func TestUnixSocketConnsAreQuiet(t *testing.T) {
	ln, err := listenUnix(filepath.Join(t.TempDir(), "qp.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*quietunix.Conn); !ok {
		t.Fatalf("accepted a %T, want a *quietunix.Conn", c)
	}
	// The engine sends an answer's last bytes from inside the wait for
	// the next request (send-then-wait), which needs the socket's RawConn.
	if _, ok := c.(syscall.Conn); !ok {
		t.Fatal("the accepted connection gives no RawConn: no send-then-wait")
	}
}
