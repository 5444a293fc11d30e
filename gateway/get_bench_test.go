package gateway

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"

	"github.com/gantry-dev/gantry/internal/h1"
)

// BenchmarkGET: bodyless GETs on one keep-alive connection through the
// gateway's engine server and fast path to an engine server that answers
// itself, in process; -benchmem shows what one request allocates.
func BenchmarkGET(b *testing.B) {
	serve := func(h http.Handler) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		s := h1.NewServer(h, &http.Server{Handler: h}, slog.New(slog.DiscardHandler))
		go s.Serve(ln)
		b.Cleanup(func() { s.Close() })
		return ln.Addr().String()
	}
	backend := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "2")
		io.WriteString(w, "ok")
	}))
	g := New(Options{})
	g.SetTable(mustTable(b, entry("get.default.localhost", target("b", 100))))
	g.SetEndpoints(Endpoints{"default/b": {{HTTP: backend}}})
	front := serve(g)
	c, err := net.Dial("tcp", front)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	req := []byte("GET /x HTTP/1.1\r\nHost: get.default.localhost\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	do := func() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	do()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		do()
	}
}
