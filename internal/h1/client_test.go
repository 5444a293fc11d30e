package h1

import (
	"bytes"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// A request larger than both socket buffers: the write from the read
// callback stops at EAGAIN and an ordinary write finishes it; the app gets
// every byte and the answer is then readable.
func TestSendAndWaitFullSocket(t *testing.T) {
	// A Unix socket: its buffers fill without TCP's window games.
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "app.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
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
