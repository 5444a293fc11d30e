package h1

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/internal/quietunix"
)

// A request larger than both socket buffers: the write from the read
// callback stops at EAGAIN and an ordinary write finishes it; the app gets
// every byte and the answer is then readable.
func TestSendAndWaitFullSocket(t *testing.T) {
	t.Run("net.UnixConn", func(t *testing.T) { testSendAndWaitFullSocket(t, func(c net.Conn) net.Conn { return c }) })
	// The gateway's connections to a queue-proxy's socket.
	t.Run("quietunix", func(t *testing.T) {
		testSendAndWaitFullSocket(t, func(c net.Conn) net.Conn {
			q := quietunix.Wrap(c)
			if _, ok := q.(*quietunix.Conn); !ok {
				t.Skip("quietunix leaves sockets alone on this system")
			}
			return q
		})
	})
}

func testSendAndWaitFullSocket(t *testing.T, wrap func(net.Conn) net.Conn) {
	// A Unix socket: its buffers fill without TCP's window games.
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "app.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := wrap(nc)
	defer c.Close()
	app, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()

	ac := NewClientConn(c)
	if ac.sw.raw == nil {
		t.Fatal("no RawConn for a socket")
	}
	// A small request goes out from the callback, which then parks for
	// the answer.
	small := "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	resp := "HTTP/1.1 204 No Content\r\n\r\n"
	ac.Out = append(ac.Out[:0], small...)
	go func() {
		io.ReadFull(app, make([]byte, len(small)))
		time.Sleep(20 * time.Millisecond) // answered after the wait began
		app.Write([]byte(resp))
	}()
	if err := ac.SendAndWait(); err != nil {
		t.Fatalf("SendAndWait, small: %v", err)
	}
	if ac.sw.sent != len(small) {
		t.Fatalf("the callback wrote %d of %d bytes", ac.sw.sent, len(small))
	}
	if n, err := PeekHead(ac.BR); err != nil || n != len(resp) {
		t.Fatalf("small's response head: %d, %v", n, err)
	}
	ac.BR.Discard(len(resp))

	ac.Out = bytes.Repeat([]byte("r"), 4<<20)
	got := make(chan int, 1)
	go func() {
		time.Sleep(100 * time.Millisecond) // the sender fills the buffers first
		n, _ := io.ReadFull(app, make([]byte, len(ac.Out)))
		got <- n
		app.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
	}()
	if err := ac.SendAndWait(); err != nil {
		t.Fatalf("SendAndWait: %v", err)
	}
	if n := <-got; n != len(ac.Out) {
		t.Fatalf("app got %d bytes, want %d", n, len(ac.Out))
	}
	if ac.sw.sent >= len(ac.Out) {
		t.Errorf("the callback wrote everything (%d bytes): the full-socket path was not taken", ac.sw.sent)
	}
	if n, err := PeekHead(ac.BR); err != nil || n == 0 {
		t.Fatalf("response head: %d, %v", n, err)
	}
}

// X-Forwarded-For keeps the earlier hops and adds the peer's IP when it
// has one; a Unix socket peer adds nothing.
func TestForwardedFor(t *testing.T) {
	for _, tc := range []struct {
		remote string
		xff    []string
		want   string // "" : no header
	}{
		{"10.0.0.2:5", nil, "10.0.0.2"},
		{"10.0.0.2:5", []string{"203.0.113.7"}, "203.0.113.7, 10.0.0.2"},
		{"@", []string{"203.0.113.7"}, "203.0.113.7"},
		{"@", []string{"203.0.113.7", "198.51.100.1"}, "203.0.113.7, 198.51.100.1"},
		{"@", nil, ""},
	} {
		r := httptest.NewRequest("GET", "http://h/", nil)
		r.RemoteAddr = tc.remote
		r.Header = http.Header{}
		if tc.xff != nil {
			r.Header["X-Forwarded-For"] = tc.xff
		}
		head := string(AppendRequestHead(nil, r, "", true))
		got, found := "", strings.Count(head, "X-Forwarded-For:")
		if i := strings.Index(head, "X-Forwarded-For: "); i >= 0 {
			got = head[i+len("X-Forwarded-For: "):]
			got = got[:strings.Index(got, "\r\n")]
		}
		if got != tc.want || found > 1 {
			t.Errorf("remote %q xff %q: %q (%d headers), want %q", tc.remote, tc.xff, got, found, tc.want)
		}
	}
}

// A connection put back after its pool was closed (a request that ended
// after its instance left) is closed, not kept.
func TestPoolPutAfterClose(t *testing.T) {
	p := NewPool(4)
	a, b := net.Pipe()
	defer b.Close()
	p.Close()
	p.Put(NewClientConn(a))
	if ac := p.Get(); ac != nil {
		t.Fatal("a closed pool handed out a connection")
	}
	b.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := b.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the connection put back is still open: read %v, want EOF", err)
	}
}

// PeerClosed tells a pooled connection the backend closed (or wrote on
// unasked) from a live one, over TCP and over a quietunix socket, without
// taking anything from it.
func TestPeerClosed(t *testing.T) {
	pair := map[string]func(t *testing.T) (client, server net.Conn){
		"tcp": func(t *testing.T) (net.Conn, net.Conn) { return connectedPair(t, "tcp", "127.0.0.1:0") },
		"quietunix": func(t *testing.T) (net.Conn, net.Conn) {
			c, s := connectedPair(t, "unix", filepath.Join(t.TempDir(), "s"))
			return quietunix.Wrap(c), s
		},
	}
	for name, mk := range pair {
		t.Run(name, func(t *testing.T) {
			eventually := func(ac *ClientConn) bool {
				for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
					if ac.PeerClosed() {
						return true
					}
				}
				return false
			}
			c, s := mk(t)
			ac := NewClientConn(c)
			if ac.PeerClosed() {
				t.Fatal("a live connection reported closed")
			}
			s.Close()
			if !eventually(ac) {
				t.Fatal("a connection the peer closed reported live")
			}
			c.Close()

			c, s = mk(t)
			defer s.Close()
			ac = NewClientConn(c)
			defer c.Close()
			s.Write([]byte("H"))
			if !eventually(ac) {
				t.Fatal("a connection with bytes nobody asked for reported usable")
			}
			// The peek took nothing: the byte is still there.
			c.SetReadDeadline(time.Now().Add(time.Second))
			if b, err := ac.BR.ReadByte(); err != nil || b != 'H' {
				t.Fatalf("after the peek read %q, %v", b, err)
			}

			// One aborted (its client went away) is no use either.
			c2, s2 := mk(t)
			defer s2.Close()
			defer c2.Close()
			ac = NewClientConn(c2)
			ac.Abort()
			if !ac.PeerClosed() {
				t.Fatal("an aborted connection reported usable")
			}
		})
	}
}

// The pool hands out the connection put back last, and a connection's idle
// time starts when it is put back, not when its request went out (a slow
// answer does not make a connection stale).
func TestPoolLastInFirstOut(t *testing.T) {
	p := NewPool(4)
	defer p.Close()
	var conns []*ClientConn
	for range 3 {
		a, b := net.Pipe()
		defer b.Close()
		ac := NewClientConn(a)
		ac.lastUsed = nanotime() - int64(5*time.Second) // sent 5 s ago
		conns = append(conns, ac)
		p.Put(ac)
	}
	if idle := conns[0].IdleFor(); idle > time.Second {
		t.Errorf("idle for %v right after Put", idle)
	}
	for i := 2; i >= 0; i-- {
		if ac := p.Get(); ac != conns[i] {
			t.Fatalf("Get %d: not the connection put back last", 2-i)
		}
	}
	if p.Get() != nil {
		t.Fatal("an empty pool handed out a connection")
	}
}

func connectedPair(t *testing.T, network, addr string) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial(network, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

// UsableOnce: a connection just put back is taken without a peek; one idle
// a while is peeked at (and refused when the backend closed it); one idle
// past StaleAfter is refused outright.
func TestUsableOnce(t *testing.T) {
	c, s := connectedPair(t, "tcp", "127.0.0.1:0")
	defer c.Close()
	ac := NewClientConn(c)
	if !ac.UsableOnce() {
		t.Fatal("a live connection just made was refused")
	}
	s.Close()
	time.Sleep(50 * time.Millisecond) // the FIN arrives
	ac.lastUsed = nanotime()
	if !ac.UsableOnce() {
		t.Error("a connection back for under a millisecond was peeked at")
	}
	ac.lastUsed = nanotime() - int64(10*time.Millisecond)
	if ac.UsableOnce() {
		t.Error("a connection the backend closed, idle 10 ms, was taken")
	}

	c2, s2 := connectedPair(t, "tcp", "127.0.0.1:0")
	defer c2.Close()
	defer s2.Close()
	ac = NewClientConn(c2)
	ac.lastUsed = nanotime() - int64(10*time.Millisecond)
	if !ac.UsableOnce() {
		t.Error("a live connection idle 10 ms was refused")
	}
	ac.lastUsed = nanotime() - int64(StaleAfter)
	if ac.UsableOnce() {
		t.Error("a connection idle for StaleAfter was taken")
	}
}
