package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSlowloris: 500 connections sending their request head one byte a
// second do not stop the gateway serving everyone else quickly.
func TestSlowloris(t *testing.T) {
	s := startStack(t, "")
	s.mustGantry(helloYAML("Slow"), "apply", "-f", "-")
	s.waitServing("hello.default.localhost", "Hello Slow!")

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	const slow = 500
	head := "GET / HTTP/1.1\r\nHost: hello.default.localhost\r\nX-Slow: " + strings.Repeat("s", 64) + "\r\n\r\n"
	conns := make(chan net.Conn, slow)
	for range slow {
		c, err := net.Dial("tcp", s.gateway)
		if err != nil {
			t.Fatal(err)
		}
		conns <- c
	}
	close(conns)
	for c := range conns {
		wg.Go(func() {
			defer c.Close()
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for i := 0; i < len(head); i++ {
				if _, err := io.WriteString(c, head[i:i+1]); err != nil {
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		})
	}
	time.Sleep(1500 * time.Millisecond) // every slow client has started its head

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	var lat []time.Duration
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); {
		req, _ := http.NewRequest(http.MethodGet, "http://"+s.gateway+"/", nil)
		req.Host = "hello.default.localhost"
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d under slowloris", resp.StatusCode)
		}
		lat = append(lat, time.Since(start))
		time.Sleep(5 * time.Millisecond)
	}
	slices.Sort(lat)
	p99 := lat[len(lat)*99/100]
	t.Logf("%d requests beside %d slow clients: p50 %v p99 %v", len(lat), slow, lat[len(lat)/2], p99)
	if len(lat) < 100 || p99 > 50*time.Millisecond {
		t.Errorf("%d requests, p99 %v; want ≥ 100 requests with p99 under 50ms", len(lat), p99)
	}
}
