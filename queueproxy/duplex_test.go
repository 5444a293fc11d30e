package queueproxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/internal/testapp"
)

// Bodies too large to read ahead stream to the app on the fast path while
// its answer comes back: an app that echoes what it reads gets a body far
// larger than the sockets' buffers through (64 MiB, with a Content-Length
// and chunked), and the client's request trailers reach it after a chunked
// body.
func TestStreamedBodiesFullDuplex(t *testing.T) {
	echo := testapp.Echo()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/trailers" {
			n, _ := io.Copy(io.Discard, r.Body)
			w.Header().Set("X-Got", r.Trailer.Get("X-Checksum")+"|"+strings.Join(r.TransferEncoding, ","))
			io.WriteString(w, strings.Repeat("x", int(n%7)))
			return
		}
		echo.ServeHTTP(w, r)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	q := startQP(t, testEnv(ln.Addr().(*net.TCPAddr).Port))
	waitReady(t, q)

	body := bytes.Repeat([]byte("0123456789abcdef"), 4<<20) // 64 MiB
	want := sha256.Sum256(body)
	for _, chunked := range []bool{false, true} {
		name := "Content-Length"
		if chunked {
			name = "chunked"
		}
		t.Run("echo, "+name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var rd io.Reader = bytes.NewReader(body)
			if chunked {
				rd = io.MultiReader(rd)
			}
			req, _ := http.NewRequestWithContext(ctx, "POST", q.url(q.HTTP, "/echo"), rd)
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatalf("no answer: %v (a deadlock ends at the test's 30 s)", err)
			}
			defer resp.Body.Close()
			h := sha256.New()
			n, err := io.Copy(h, resp.Body)
			if err != nil || n != int64(len(body)) || !bytes.Equal(h.Sum(nil), want[:]) {
				t.Fatalf("status %d, echoed %d of %d bytes, err %v", resp.StatusCode, n, len(body), err)
			}
		})
	}
	t.Run("request trailers", func(t *testing.T) {
		req, _ := http.NewRequest("POST", q.url(q.HTTP, "/trailers"), io.MultiReader(strings.NewReader(strings.Repeat("t", 100<<10))))
		req.Trailer = http.Header{"X-Checksum": nil}
		req.Body = &trailerSetter{r: req.Body, set: func() { req.Trailer.Set("X-Checksum", "abc123") }}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Got"); resp.StatusCode != 200 || got != "abc123|chunked" {
			t.Fatalf("status %d, the app saw trailer|framing %q, want abc123|chunked", resp.StatusCode, got)
		}
	})
}

// trailerSetter sets the trailer's value when the body ends, as a client
// computing a checksum would.
type trailerSetter struct {
	r   io.ReadCloser
	set func()
}

func (s *trailerSetter) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err == io.EOF {
		s.set()
	}
	return n, err
}

func (s *trailerSetter) Close() error { return s.r.Close() }
