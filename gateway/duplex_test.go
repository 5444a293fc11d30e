package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/internal/h1"
	"github.com/gantry-dev/gantry/internal/testapp"
)

// engineFront serves g with the engine's server, as `gantry up` does (a
// chunked body hands the connection to net/http).
func engineFront(t *testing.T, g *Gateway) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := h1.NewServer(g, &http.Server{Handler: g}, slog.New(slog.DiscardHandler))
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return "http://" + ln.Addr().String()
}

// An app that echoes the body as it reads it gets its answer through the
// gateway while the body still streams: a body far larger than the
// sockets' buffers, which a proxy that sends the whole body before it reads
// the answer deadlocks on (the app stops reading once nobody reads what it
// writes).
func TestFullDuplexEcho(t *testing.T) {
	backend := httptest.NewServer(testapp.Echo())
	netFront, g := fastFrontTo(t, backend)
	fronts := map[string]string{"net/http front": netFront.URL, "engine front": engineFront(t, g)}
	body := bytes.Repeat([]byte("0123456789abcdef"), 4<<20) // 64 MiB: more than loopback TCP buffers hold
	want := sha256.Sum256(body)
	for fname, url := range fronts {
		for _, chunked := range []bool{false, true} {
			name := fname + ", Content-Length"
			if chunked {
				name = fname + ", chunked"
			}
			t.Run(name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				var rd io.Reader = bytes.NewReader(body)
				if chunked {
					rd = io.MultiReader(rd) // no length: chunked
				}
				req, _ := http.NewRequestWithContext(ctx, "POST", url+"/echo", rd)
				req.Host = "body.default.localhost"
				tr := &http.Transport{}
				defer tr.CloseIdleConnections()
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatalf("no answer: %v (a deadlock ends at the test's 20 s)", err)
				}
				defer resp.Body.Close()
				h := sha256.New()
				n, err := io.Copy(h, resp.Body)
				if err != nil || n != int64(len(body)) || !bytes.Equal(h.Sum(nil), want[:]) {
					t.Fatalf("status %d, echoed %d of %d bytes, err %v", resp.StatusCode, n, len(body), err)
				}
			})
		}
	}
}

// An app that answers before it has read the body, and then neither reads
// the rest nor closes, gets its answer to the client at once; the body's
// copy is stopped, the connection to the app is not reused, and the next
// request is served on a new one.
func TestEarlyAnswerStopsTheBody(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
			go func() {
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				if req.ContentLength <= 0 { // the request after: answered in full
					io.Copy(io.Discard, req.Body)
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext")
					return
				}
				io.CopyN(io.Discard, req.Body, 64<<10)
				io.WriteString(c, "HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 8\r\n\r\ntoo big\n")
				// Neither reads nor closes until the test ends.
			}()
		}
	}()
	t.Cleanup(func() {
		for {
			select {
			case c := <-conns:
				c.Close()
			default:
				return
			}
		}
	})
	g := New(Options{})
	g.proxy.Transport = noReverseProxy{t}
	g.SetTable(mustTable(t, entry("body.default.localhost", target("b", 100))))
	g.SetEndpoints(Endpoints{"default/b": {{HTTP: ln.Addr().String()}}})
	url := engineFront(t, g)

	// A raw client that reads while it sends: Go's Transport reports its
	// failed write instead of the answer once the gateway closes.
	body := bytes.Repeat([]byte("x"), 32<<20)
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	start := time.Now()
	go func() {
		io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: body.default.localhost\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n")
		c.Write(body) // cut short once the gateway closes
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer after %v: %v", time.Since(start), err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || string(got) != "too big\n" {
		t.Fatalf("got %d %q, want the app's 413", resp.StatusCode, got)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the answer took %v", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req2, _ := http.NewRequestWithContext(ctx, "GET", url+"/next", nil)
	req2.Host = "body.default.localhost"
	resp2, err := http.DefaultTransport.RoundTrip(req2)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if resp2.StatusCode != 200 || string(got) != "next" {
		t.Fatalf("the next request got %d %q", resp2.StatusCode, got)
	}
	if n := len(conns); n != 2 {
		t.Errorf("the app saw %d connections, want 2 (the first one, stopped mid-body, is not reused)", n)
	}
}
