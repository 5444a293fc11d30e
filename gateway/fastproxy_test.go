package gateway

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strconv"
	"strings"
	"testing"
	"time"
)

// noReverseProxy fails any request that leaves the fast path.
type noReverseProxy struct{ t *testing.T }

func (n noReverseProxy) RoundTrip(r *http.Request) (*http.Response, error) {
	n.t.Errorf("%s %s took httputil.ReverseProxy", r.Method, r.URL)
	return nil, errors.New("not the fast path")
}

func fastFront(t *testing.T, be http.Handler) (*httptest.Server, *Gateway) {
	t.Helper()
	return fastFrontTo(t, httptest.NewServer(be))
}

// fastFrontTo is fastFront for a backend already started.
func fastFrontTo(t *testing.T, backend *httptest.Server) (*httptest.Server, *Gateway) {
	t.Helper()
	t.Cleanup(backend.Close)
	g := New(Options{})
	g.proxy.Transport = noReverseProxy{t}
	g.SetTable(mustTable(t, entry("body.default.localhost", target("b", 100))))
	g.SetEndpoints(Endpoints{"default/b": {{HTTP: backend.Listener.Addr().String()}}})
	front := httptest.NewServer(g)
	t.Cleanup(front.Close)
	return front, g
}

// POST and PUT bodies of known and unknown length go through the fast
// path whole, with their framing.
func TestFastPathBodies(t *testing.T) {
	front, _ := fastFront(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.Header().Set("X-Framing", strconv.FormatInt(r.ContentLength, 10)+"/"+strings.Join(r.TransferEncoding, ","))
		w.Header().Set("X-Forwarded-For-Seen", r.Header.Get("X-Forwarded-For"))
		io.WriteString(w, strconv.FormatInt(n, 10)+" "+hex.EncodeToString(h.Sum(nil)))
	}))
	for _, tc := range []struct {
		name, method string
		size         int
		chunked      bool
		framing      string
	}{
		{"4 KiB POST", "POST", 4 << 10, false, "4096/"},
		{"1 MiB PUT", "PUT", 1 << 20, false, "1048576/"},
		{"chunked POST", "POST", 100 << 10, true, "-1/chunked"},
		{"empty chunked PATCH", "PATCH", 0, true, "-1/chunked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := bytes.Repeat([]byte("0123456789abcdef"), tc.size/16)
			var rd io.Reader = bytes.NewReader(body)
			if tc.chunked {
				rd = io.MultiReader(rd) // hides the length: sent chunked
			}
			req, _ := http.NewRequest(tc.method, front.URL+"/up", rd)
			req.Host = "body.default.localhost"
			for range 2 { // the second one on a pooled connection
				if tc.chunked {
					req.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body)))
				} else {
					req.Body = io.NopCloser(bytes.NewReader(body))
				}
				resp, err := front.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				sum := sha256.Sum256(body)
				if want := strconv.Itoa(len(body)) + " " + hex.EncodeToString(sum[:]); resp.StatusCode != 200 || string(got) != want {
					t.Fatalf("%d %q, want %q", resp.StatusCode, got, want)
				}
				if f := resp.Header.Get("X-Framing"); f != tc.framing {
					t.Errorf("backend saw framing %q, want %q", f, tc.framing)
				}
				if resp.Header.Get("X-Forwarded-For-Seen") != "127.0.0.1" {
					t.Errorf("X-Forwarded-For %q", resp.Header.Get("X-Forwarded-For-Seen"))
				}
			}
		})
	}
}

// The request body streams to the backend as the client sends it, and the
// backend's stream comes back as it writes (server-sent events).
func TestFastPathStreamsBothWays(t *testing.T) {
	gotFirst := make(chan struct{})
	front, _ := fastFront(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first := make([]byte, 5)
		if _, err := io.ReadFull(r.Body, first); err != nil || string(first) != "hello" {
			t.Errorf("first part %q %v", first, err)
			return
		}
		close(gotFirst)
		rest, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: "+string(rest)+"\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the stream stays open until the client leaves
	}))
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", front.URL+"/events", pr)
	req.Host = "body.default.localhost"
	respc := make(chan *http.Response, 1)
	go func() {
		resp, err := front.Client().Do(req)
		if err != nil {
			t.Error(err)
			close(respc)
			return
		}
		respc <- resp
	}()
	pw.Write([]byte("hello"))
	select {
	case <-gotFirst:
	case <-time.After(5 * time.Second):
		t.Fatal("the backend did not get the first part of the body before the rest was sent")
	}
	pw.Write([]byte(" world"))
	pw.Close()
	resp, ok := <-respc
	if !ok {
		return
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "data:  world\n" {
		t.Fatalf("event %q, %v (the gateway must flush the stream)", line, err)
	}
}

// BenchmarkPOST: 4 KiB and 1 MiB request bodies through the gateway's fast
// path and, for comparison, through httputil.ReverseProxy over the
// transport the gateway used for bodies before.
func BenchmarkPOST(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	defer backend.Close()
	g := New(Options{})
	g.SetTable(mustTable(b, entry("body.default.localhost", target("b", 100))))
	g.SetEndpoints(Endpoints{"default/b": {{HTTP: backend.Listener.Addr().String()}}})
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", backend.Listener.Addr().String()
			pr.SetXForwarded()
		},
		Transport: newTransport(false), FlushInterval: -1,
	}
	for _, size := range []int{4 << 10, 1 << 20} {
		body := bytes.Repeat([]byte("b"), size)
		for _, front := range []struct {
			name string
			h    http.Handler
		}{{"gateway", g}, {"reverseproxy", rp}} {
			b.Run(fmt.Sprintf("%s/%dKiB", front.name, size>>10), func(b *testing.B) {
				srv := httptest.NewServer(front.h)
				defer srv.Close()
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						req, _ := http.NewRequest("POST", srv.URL, bytes.NewReader(body))
						req.Host = "body.default.localhost"
						resp, err := client.Do(req)
						if err != nil {
							b.Error(err)
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 {
							b.Errorf("status %d", resp.StatusCode)
							return
						}
					}
				})
			})
		}
	}
}

// A chunked request's trailers reach the backend on the fast path, declared
// or not; the fields a trailer must not carry do not.
func TestFastPathRequestTrailers(t *testing.T) {
	front, _ := fastFront(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var declared []string // net/http moves the Trailer field's names here
		for k := range r.Trailer {
			declared = append(declared, k)
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.Header().Set("X-Declared", strings.Join(declared, ","))
		w.Header().Set("X-Sum", r.Trailer.Get("X-Sum"))
		w.Header().Set("X-Late", r.Trailer.Get("X-Late"))
		w.Header().Set("X-Host-Trailer", r.Trailer.Get("Host"))
		w.Write(body)
	}))
	t.Run("declared", func(t *testing.T) {
		body := "hello trailers"
		req, _ := http.NewRequest("POST", front.URL+"/t", io.MultiReader(strings.NewReader(body)))
		req.Host = "body.default.localhost"
		req.Trailer = http.Header{"X-Sum": nil}
		req.Body = io.NopCloser(&fillOnEOF{r: strings.NewReader(body), fill: func() { req.Trailer.Set("X-Sum", "abc123") }})
		resp, err := front.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(got) != body {
			t.Fatalf("%d %q", resp.StatusCode, got)
		}
		if s := resp.Header.Get("X-Sum"); s != "abc123" {
			t.Errorf("backend saw trailer X-Sum %q, want abc123", s)
		}
		if d := resp.Header.Get("X-Declared"); d != "X-Sum" {
			t.Errorf("backend saw trailers declared: %q, want X-Sum", d)
		}
	})
	t.Run("undeclared and forbidden", func(t *testing.T) {
		c, err := net.Dial("tcp", front.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "POST /t HTTP/1.1\r\nHost: body.default.localhost\r\nTransfer-Encoding: chunked\r\n\r\n"+
			"5\r\nhello\r\n0\r\nX-Late: yes\r\nHost: evil.example\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(got) != "hello" {
			t.Fatalf("%d %q", resp.StatusCode, got)
		}
		if s := resp.Header.Get("X-Late"); s != "yes" {
			t.Errorf("backend saw trailer X-Late %q, want yes", s)
		}
		if s := resp.Header.Get("X-Host-Trailer"); s != "" {
			t.Errorf("a Host trailer was forwarded: %q", s)
		}
	})
}

// fillOnEOF calls fill just before its reader's EOF: a client that computes
// a trailer from the body it sent.
type fillOnEOF struct {
	r    io.Reader
	fill func()
	done bool
}

func (f *fillOnEOF) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF && !f.done {
		f.done = true
		f.fill()
	}
	return n, err
}

// A POST is sent once, so it never goes out on a pooled connection the
// queue-proxy has closed (as it does to idle ones when it drains): with a
// backend that closes idle connections after 100 ms, every POST that
// follows a pause is answered, none gets a 502.
func TestFastPathBodyNotSentOnAClosedConnection(t *testing.T) {
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+" "+strconv.Itoa(len(b)))
	}))
	backend.Config.IdleTimeout = 100 * time.Millisecond
	backend.Start()
	front, _ := fastFrontTo(t, backend)
	do := func(method, body string) string {
		req, _ := http.NewRequest(method, front.URL+"/", strings.NewReader(body))
		req.Host = "body.default.localhost"
		resp, err := front.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return strconv.Itoa(resp.StatusCode) + " " + string(b)
	}
	for i := 0; i < 3; i++ {
		if got := do("GET", ""); got != "200 GET 0" {
			t.Fatalf("GET: %q", got)
		}
		time.Sleep(300 * time.Millisecond) // the backend closes the pooled connection
		if got := do("POST", "body"); got != "200 POST 4" {
			t.Fatalf("POST after the backend closed the idle connection: %q", got)
		}
	}
}
