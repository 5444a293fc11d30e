package e2e

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

const limitsConfig = `apiVersion: v1
kind: ConfigMap
metadata:
  name: config-network
  namespace: knative-serving
data:
  max-request-body-bytes: "100000"
  body-idle-timeout: "500ms"
  header-read-timeout: "1s"
`

// gatewayClass reads gantry_gateway_requests_total for one code class.
func (s *stack) gatewayClass(t *testing.T, class string) float64 {
	t.Helper()
	return scrapeValueOr(t, "http://"+s.ui+"/metrics", "gantry_gateway_requests_total{", `code_class="`+class+`"`, 0)
}

// queueProxyMetrics is the metrics address of rev's instance.
func (s *stack) queueProxyMetrics(t *testing.T, rev string) string {
	t.Helper()
	var sd []struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	if err := s.getJSON("/api/v1/sd", &sd); err != nil {
		t.Fatal(err)
	}
	for _, g := range sd {
		if g.Labels["__meta_gantry_revision"] == rev {
			return "http://" + g.Targets[0] + "/metrics"
		}
	}
	t.Fatalf("no metrics target for %s in %v", rev, sd)
	return ""
}

// raw sends raw bytes to the gateway; hangUp closes after writing. It
// returns the status, 0 when no response came.
func (s *stack) raw(t *testing.T, req string, hangUp bool) int {
	t.Helper()
	c, err := net.Dial("tcp", s.gateway)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	if hangUp {
		time.Sleep(100 * time.Millisecond)
		return 0
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%.60q: %v", req, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestClientErrorsNever5xx: through gateway → queue-proxy → app, what a
// client gets wrong is a 4xx, counted as 4xx at the gateway, never as a
// 5xx at the gateway nor at the queue-proxy.
func TestClientErrorsNever5xx(t *testing.T) {
	dir := t.TempDir()
	s := startStack(t, dir)
	s.mustGantry(limitsConfig+"---\n"+helloYAML("Limits"), "apply", "-f", "-")
	s.stop() // the proxies read their limits at start
	s = startStack(t, dir)
	s.waitServing("hello.default.localhost", "Hello Limits!")
	qpMetrics := s.queueProxyMetrics(t, "hello-00001")

	head := "POST / HTTP/1.1\r\nHost: hello.default.localhost\r\n"
	chunked := head + "Transfer-Encoding: chunked\r\n\r\n"
	for _, tc := range []struct {
		name, req string
		hangUp    bool
		code      int
	}{
		{"chunk size overflow", chunked + "fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n", false, 400},
		{"bare LF in chunk line", chunked + "5\nhello\r\n0\r\n\r\n", false, 400},
		{"truncated chunk", chunked + "5\r\nhello\r\n3\r\nab", false, 408},
		{"stalled body with a length", head + "Content-Length: 10\r\n\r\nhel", false, 408},
		{"declared length over the limit", head + "Content-Length: 200000\r\n\r\n", false, 413},
		{"chunked over the limit", chunked + "186a1\r\n" + strings.Repeat("a", 100001) + "\r\n0\r\n\r\n", false, 413},
		{"headers over 60 KiB", "GET / HTTP/1.1\r\nHost: hello.default.localhost\r\nX-Big: " + strings.Repeat("a", 61<<10) + "\r\n\r\n", false, 431},
		{"101 header fields", "GET / HTTP/1.1\r\nHost: hello.default.localhost\r\n" + strings.Repeat("X-A: 1\r\n", 101) + "\r\n", false, 431},
		{"client gone mid-body", head + "Content-Length: 50000\r\n\r\n" + strings.Repeat("a", 20000), true, 499},
		{"fine", chunked + "5\r\nhello\r\n0\r\n\r\n", false, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			class := strconv.Itoa(tc.code/100) + "xx"
			before, before5 := s.gatewayClass(t, class), s.gatewayClass(t, "5xx")
			if got := s.raw(t, tc.req, tc.hangUp); got != tc.code && !tc.hangUp {
				t.Errorf("status %d, want %d", got, tc.code)
			}
			waitFor(t, 5*time.Second, "the gateway to count a "+class, func() bool {
				return s.gatewayClass(t, class)-before == 1
			})
			if d := s.gatewayClass(t, "5xx") - before5; d != 0 {
				t.Errorf("gateway 5xx rose by %v", d)
			}
		})
	}
	// Whatever reached the queue-proxy is a 2xx or a 499 there, never a 5xx.
	for _, class := range []string{"5xx"} {
		if v := scrapeValueOr(t, qpMetrics, "revision_request_count{", `response_code_class="`+class+`"`, 0); v != 0 {
			t.Errorf("queue-proxy counted %v requests as %s", v, class)
		}
	}
	if v := scrapeValueOr(t, qpMetrics, "revision_request_count{", `response_code="200"`, 0); v < 2 {
		t.Errorf("queue-proxy counted %v 200s, want the serving check and the fine request", v)
	}
	if code, _, _ := s.request("hello.default.localhost", "/"); code != 200 {
		t.Errorf("hello answered %d after the bad requests", code)
	}

	// A head that takes longer than header-read-timeout: the gateway hangs up.
	c, err := net.Dial("tcp", s.gateway)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: hel")
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || time.Since(start) > 4*time.Second {
		t.Errorf("slow head: read %v after %v, want the connection closed after about 1s", err, time.Since(start))
	}
}

// scrapeValueOr is scrapeValue with def for a series not there (yet).
func scrapeValueOr(t *testing.T, url, prefix, label string, def float64) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	sum, found := 0.0, false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, prefix) && strings.Contains(line, label) {
			f := strings.Fields(line[strings.LastIndex(line, "}")+1:])
			v, err := strconv.ParseFloat(f[0], 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			sum, found = sum+v, true
		}
	}
	if !found {
		return def
	}
	return sum
}

// config-network's max-connections holds at the gateway too: with 2, a
// third client connection waits in the accept queue until one closes.
func TestGatewayMaxConnections(t *testing.T) {
	dir := t.TempDir()
	s := startStack(t, dir)
	// Only this limit: a header-read timeout would free the idle slot.
	maxConns := strings.SplitAfter(limitsConfig, "\ndata:\n")[0] + "  max-connections: \"2\"\n"
	s.mustGantry(maxConns+"---\n"+helloYAML("Max"), "apply", "-f", "-")
	s.stop() // the proxies read their limits at start
	s = startStack(t, dir)
	s.waitServing("hello.default.localhost", "Hello Max!")

	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", s.gateway)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}
	http.DefaultClient.CloseIdleConnections() // waitServing's connection
	time.Sleep(100 * time.Millisecond)
	get := "GET / HTTP/1.1\r\nHost: hello.default.localhost\r\n\r\n"
	a, ra := dial()
	io.WriteString(a, get)
	if resp, err := http.ReadResponse(ra, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("first connection: %v %v", resp, err)
	}
	dial() // holds the second slot
	third, r3 := dial()
	io.WriteString(third, get)
	third.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := r3.Peek(1); err == nil {
		t.Fatal("a third connection was served with max-connections 2")
	}
	a.Close()
	third.SetReadDeadline(time.Now().Add(5 * time.Second))
	if resp, err := http.ReadResponse(r3, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("third connection after one closed: %v %v", resp, err)
	}
}
