package queueproxy

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// The app sees the same headers on every path through the queue-proxy (the
// fast path, the ReverseProxy for bodies, h2c). The gateway names the
// revision in Knative-Serving-Revision and Knative-Serving-Namespace; as
// Knative's queue-proxy does, they stop here. Knative-Serving-Tag and the
// gateway's X-Forwarded-For, -Host and -Proto go on as they were sent (an
// app behind TLS learns it from X-Forwarded-Proto, a POST as well as a GET),
// and, as in Knative, a Forwarded header says the same (forwarded.go).
func TestWhatReachesTheAppOnEveryPath(t *testing.T) {
	seen := func(r *http.Request) string {
		return strings.Join([]string{r.Header.Get(revisionHeader), r.Header.Get(revisionNamespaceHeader),
			r.Header.Get("Knative-Serving-Tag"), r.Header.Get("X-Other"),
			strings.Join(r.Header.Values("X-Forwarded-For"), ","), r.Header.Get("X-Forwarded-Host"),
			r.Header.Get("X-Forwarded-Proto"), strings.Join(r.Header.Values("Forwarded"), ",")}, "|")
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Len", strconv.FormatInt(n, 10))
		w.Header().Set("X-Seen", seen(r))
		w.Header().Set("X-Proto", r.Proto)
	})}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	q := startQP(t, testEnv(ln.Addr().(*net.TCPAddr).Port))
	waitReady(t, q)

	h2 := &http.Transport{Protocols: new(http.Protocols)}
	h2.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(h2.CloseIdleConnections)
	cases := []struct {
		name, method string
		port         int
		body         io.Reader
		rt           http.RoundTripper
		proto        string
		size         int
	}{
		{"GET, the fast path", "GET", q.HTTP, nil, http.DefaultTransport, "HTTP/1.1", 0},
		{"POST of 4 KiB, the fast path", "POST", q.HTTP, strings.NewReader(strings.Repeat("b", 4<<10)), http.DefaultTransport, "HTTP/1.1", 4096},
		{"POST of 8 KiB", "POST", q.HTTP, strings.NewReader(strings.Repeat("b", 8<<10)), http.DefaultTransport, "HTTP/1.1", 8192},
		{"POST of 64 KiB, streamed on the fast path", "POST", q.HTTP, strings.NewReader(strings.Repeat("b", 64<<10)), http.DefaultTransport, "HTTP/1.1", 65536},
		{"chunked POST", "POST", q.HTTP, io.MultiReader(strings.NewReader("chunk")), http.DefaultTransport, "HTTP/1.1", 5},
		{"h2c", "POST", q.H2C, strings.NewReader("h2c body"), h2, "HTTP/2.0", 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, q.url(c.port, "/"), c.body)
			req.Header.Set(revisionHeader, "rev-1")
			req.Header.Set(revisionNamespaceHeader, "ns")
			req.Header.Set("Knative-Serving-Tag", "candidate")
			req.Header.Set("X-Other", "kept")
			req.Header.Set("X-Forwarded-For", "203.0.113.7")
			req.Header.Set("X-Forwarded-Host", "hello.example.com")
			req.Header.Set("X-Forwarded-Proto", "https")
			resp, err := c.rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if want := strconv.Itoa(c.size); resp.Header.Get("X-Len") != want {
				t.Errorf("the app got %s body bytes, want %s", resp.Header.Get("X-Len"), want)
			}
			if resp.StatusCode != 200 || resp.Header.Get("X-Proto") != c.proto {
				t.Fatalf("status %d, the app spoke %q, want 200 and %s", resp.StatusCode, resp.Header.Get("X-Proto"), c.proto)
			}
			want := "||candidate|kept|203.0.113.7|hello.example.com|https|for=203.0.113.7;host=hello.example.com;proto=https"
			if got := resp.Header.Get("X-Seen"); got != want {
				t.Errorf("the app saw revision|namespace|tag|other|xff|xfh|xfp|forwarded = %q, want %q", got, want)
			}
		})
	}
}
