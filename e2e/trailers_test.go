package e2e

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRequestTrailersReachTheApp: a chunked request's trailers go through
// the gateway and the queue-proxy to the app, declared or not, as they do
// through Knative's Envoy; a Host trailer does not.
func TestRequestTrailersReachTheApp(t *testing.T) {
	s := startStack(t, t.TempDir())
	s.mustGantry(helloYAML("Trailers"), "apply", "-f", "-")
	s.waitServing("hello.default.localhost", "Hello Trailers!")
	big := strings.Repeat("8000\r\n"+strings.Repeat("a", 0x8000)+"\r\n", 4) // streamed, not read ahead
	for _, tc := range []struct{ name, chunks, trailers, want, bytes string }{
		{"declared", "5\r\nhello\r\n", "X-Sum: abc123\r\n", "X-Sum=abc123", "5"},
		{"undeclared, with a Host", "5\r\nhello\r\n", "X-Late: yes\r\nHost: evil.example\r\n", "X-Late=yes", "5"},
		{"declared, 128 KiB", big, "X-Sum: big\r\n", "X-Sum=big", "131072"},
		{"undeclared, 128 KiB", big, "X-Late: big\r\n", "X-Late=big", "131072"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", s.gateway)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			head := "POST / HTTP/1.1\r\nHost: hello.default.localhost\r\nTransfer-Encoding: chunked\r\n"
			if strings.HasPrefix(tc.name, "declared") {
				head += "Trailer: X-Sum\r\n"
			}
			io.WriteString(c, head+"\r\n"+tc.chunks+"0\r\n"+tc.trailers+"\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("X-Request-Bytes") != tc.bytes {
				t.Fatalf("%d, X-Request-Bytes %q", resp.StatusCode, resp.Header.Get("X-Request-Bytes"))
			}
			if got := resp.Header.Get("X-Request-Trailers"); got != tc.want {
				t.Errorf("the app saw trailers %q, want %q", got, tc.want)
			}
		})
	}
}
