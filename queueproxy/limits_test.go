package queueproxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// A client that is slow sending its head is cut off at the header-read
// timeout; one over max-connections waits until a connection frees up.
func TestConnectionLimits(t *testing.T) {
	q := startQP(t, testEnv(startApp(t), "GANTRY_HEADER_READ_TIMEOUT", "1s", "GANTRY_MAX_CONNECTIONS", "2"))
	waitReady(t, q)
	addr := "127.0.0.1:" + strconv.Itoa(q.HTTP)
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	slow := dial()
	io.WriteString(slow, "GET / HTTP/1.1\r\nHo")
	start := time.Now()
	slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := slow.Read(make([]byte, 1)); err == nil || time.Since(start) > 3500*time.Millisecond {
		t.Fatalf("slow head: read %v after %v, want the connection closed within the 1s timeout (reaped each second)", err, time.Since(start))
	}

	a, b := dial(), dial()
	io.WriteString(a, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	ra := bufio.NewReader(a)
	if resp, err := http.ReadResponse(ra, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("first connection: %v %v", resp, err)
	}
	_ = b // holds the second slot
	third := dial()
	io.WriteString(third, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	third.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	r3 := bufio.NewReader(third)
	if _, err := r3.Peek(1); err == nil {
		t.Fatal("a third connection was served with max-connections 2")
	}
	a.Close()
	third.SetReadDeadline(time.Now().Add(5 * time.Second))
	if resp, err := http.ReadResponse(r3, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("third connection after one closed: %v %v", resp, err)
	}
}
