//go:build linux

package quietunix

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pair returns a wrapped client and the server's end of a Unix socket.
func pair(t *testing.T) (*Conn, net.Conn) {
	t.Helper()
	nc, srv := dial(t)
	qc, ok := Wrap(nc).(*Conn)
	if !ok {
		t.Fatal("a Unix socket was not wrapped")
	}
	t.Cleanup(func() { qc.Close() })
	return qc, srv
}

// dial returns both ends of a Unix socket, the server's closed at the end.
func dial(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(got)
			return
		}
		got <- c
	}()
	nc, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv, ok := <-got
	if !ok {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { srv.Close() })
	return nc, srv
}

func TestRoundTripsAndLargeWrites(t *testing.T) {
	c, srv := pair(t)
	go io.Copy(srv, srv) // echo
	for i := 0; i < 100; i++ {
		msg := fmt.Sprintf("request %d\n", i)
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
			t.Fatalf("read %q, %v; want %q", buf, err, msg)
		}
	}
	// Far more than the socket buffers hold: writes block and resume.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<19) // 8 MiB
	errc := make(chan error, 1)
	go func() { _, err := c.Write(big); errc <- err }()
	back := make([]byte, len(big))
	time.Sleep(50 * time.Millisecond) // let the write find the buffers full
	if _, err := io.ReadFull(c, back); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, big) {
		t.Fatal("8 MiB echoed differently")
	}
	if n := entries(t, c.wf); len(n) != 0 {
		t.Fatalf("the write set still holds %v after the write: writability stays asked for", n)
	}
}

// The point of the package: nothing in the process asks for the socket's
// writability while it is idle. Without Wrap the runtime's own epoll set
// holds it for EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET.
func TestNoEpollSetAsksForWritability(t *testing.T) {
	c, _ := pair(t)
	var st unix.Stat_t
	if err := unix.Fstat(c.fd, &st); err != nil {
		t.Fatal(err)
	}
	ino := "ino:" + strconv.FormatUint(st.Ino, 16) // fdinfo writes it in hex
	found := 0
	dir, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range dir {
		target, _ := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if target != "anon_inode:[eventpoll]" {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc/self/fdinfo", e.Name()))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 4 || f[0] != "tfd:" || !containsField(f, ino) {
				continue
			}
			ev, _ := strconv.ParseUint(f[3], 16, 32)
			found++
			if ev&unix.EPOLLOUT != 0 {
				t.Errorf("epoll set fd %s asks for writability: %s", e.Name(), line)
			}
		}
	}
	if found != 1 {
		t.Fatalf("the socket is in %d epoll sets, want 1 (its own read set)", found)
	}
}

// entries lists the fds an epoll set holds, from /proc/self/fdinfo.
func entries(t *testing.T, f *os.File) []string {
	t.Helper()
	var fd uintptr
	sc, _ := f.SyscallConn()
	sc.Control(func(s uintptr) { fd = s })
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", fd))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "tfd:") {
			out = append(out, line)
		}
	}
	return out
}

func TestDeadlines(t *testing.T) {
	c, srv := pair(t)
	c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	start := time.Now()
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past its deadline: %v, want a timeout", err)
	}
	if d := time.Since(start); d < 25*time.Millisecond || d > 2*time.Second {
		t.Fatalf("timed out after %v", d)
	}
	// A deadline in the past fails the read even with data there, as net's.
	srv.Write([]byte("x"))
	time.Sleep(10 * time.Millisecond)
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read with a past deadline: %v", err)
	}
	c.SetReadDeadline(time.Time{})
	if b := make([]byte, 1); func() error { _, err := c.Read(b); return err }() != nil || b[0] != 'x' {
		t.Fatal("the byte was lost after the deadline was cleared")
	}
	// Writes to a peer that does not read block until their deadline.
	lots := make([]byte, 64<<20) // made first: zeroing it can take the 50 ms
	c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	n, err := c.Write(lots)
	if !errors.Is(err, os.ErrDeadlineExceeded) || n == 0 || n == 64<<20 {
		t.Fatalf("write past its deadline: %d, %v; want part written and a timeout", n, err)
	}
}

func TestCloseWakesAReader(t *testing.T) {
	c, srv := pair(t)
	errc := make(chan error, 1)
	go func() { _, err := c.Read(make([]byte, 1)); errc <- err }()
	time.Sleep(20 * time.Millisecond)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("blocked read after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not wake the reader")
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
	srv.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := srv.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("peer after Close read %v, want EOF: the socket stayed open", err)
	}
	if err := c.Close(); err == nil {
		t.Fatal("a second Close succeeded")
	}
}

func TestCloseWriteAndEOF(t *testing.T) {
	c, srv := pair(t)
	go func() {
		b, _ := io.ReadAll(srv) // until our CloseWrite
		fmt.Fprintf(srv, "got %d bytes\n", len(b))
		srv.Close()
	}()
	c.Write([]byte("hello"))
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "got 5 bytes\n" {
		t.Fatalf("after CloseWrite read %q, %v", line, err)
	}
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after the peer closed: %v, want io.EOF", err)
	}
}

func TestOthersAreLeftAlone(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if Wrap(nc) != nc {
		t.Fatal("a TCP connection was wrapped")
	}
}

func containsField(fields []string, s string) bool {
	for _, f := range fields {
		if f == s {
			return true
		}
	}
	return false
}

// Both ends wrapped, many short exchanges: a lost wake-up hangs a read
// until its deadline.
func TestNoLostWakeups(t *testing.T) {
	c, srv := pair(t)
	s := Wrap(srv) // closes srv; s is closed below
	t.Cleanup(func() { s.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			n, err := s.Read(buf)
			if err != nil {
				return
			}
			if _, err := s.Write(buf[:n]); err != nil {
				return
			}
		}
	}()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 64)
	for i := 0; i < 20000; i++ {
		if _, err := c.Write(buf[:1+i%64]); err != nil {
			t.Fatalf("exchange %d: %v", i, err)
		}
		if _, err := io.ReadFull(c, buf[:1+i%64]); err != nil {
			t.Fatalf("exchange %d: %v", i, err)
		}
	}
}

// A Conn dropped without Close still closes its socket once collected.
func TestDroppedConnClosesItsSocket(t *testing.T) {
	nc, srv := dial(t)
	if _, ok := Wrap(nc).(*Conn); !ok { // and dropped
		t.Fatal("not wrapped")
	}
	srv.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make(chan error, 1)
	go func() { _, err := srv.Read(make([]byte, 1)); got <- err }()
	for i := 0; i < 50; i++ {
		runtime.GC()
		select {
		case err := <-got:
			if err != io.EOF {
				t.Fatalf("peer read %v, want EOF", err)
			}
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatal("the socket of a dropped Conn stayed open")
}

// Reads and writes from several goroutines at once, as net.Conn allows:
// every byte arrives once (go test -race sees shared call state).
func TestConcurrentCalls(t *testing.T) {
	c, srv := pair(t)
	const writers, each = 4, 2000
	done := make(chan error, writers)
	for w := 0; w < writers; w++ {
		go func() {
			var err error
			for i := 0; i < each && err == nil; i++ {
				_, err = c.Write([]byte("ab"))
			}
			done <- err
		}()
	}
	got := make(chan int, 1)
	go func() { b, _ := io.ReadAll(io.LimitReader(srv, writers*each*2)); got <- len(b) }()
	for w := 0; w < writers; w++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := <-got; n != writers*each*2 {
		t.Fatalf("the peer got %d bytes, want %d", n, writers*each*2)
	}

	go srv.Write(bytes.Repeat([]byte("x"), 1<<16))
	total := make(chan int, 2)
	for r := 0; r < 2; r++ {
		go func() {
			n, buf := 0, make([]byte, 512)
			c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			for {
				k, err := c.Read(buf)
				n += k
				if err != nil {
					total <- n
					return
				}
			}
		}()
	}
	if n := <-total + <-total; n != 1<<16 {
		t.Fatalf("two readers got %d bytes together, want %d", n, 1<<16)
	}
}

// The RawConn that h1's send-then-wait uses: the callback gets the socket,
// runs first, and is called again only once the socket is readable, so a
// request written from the first call parks for the answer without the
// read that fails with EAGAIN first.
func TestRawConnSendThenWait(t *testing.T) {
	c, srv := pair(t)
	go io.Copy(srv, srv) // echo
	sc, ok := any(c).(syscall.Conn)
	if !ok {
		t.Fatal("a *Conn is not a syscall.Conn: h1 cannot send then wait on it")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		msg := []byte(fmt.Sprintf("request %d", i))
		calls, reads := 0, 0
		var got []byte
		err := raw.Read(func(fd uintptr) bool {
			calls++
			if calls == 1 {
				if n, err := unix.Write(int(fd), msg); n != len(msg) || err != nil {
					t.Errorf("write on the socket: %d, %v", n, err)
					return true
				}
				return false // park for the echo
			}
			buf := make([]byte, 64)
			n, err := unix.Read(int(fd), buf)
			reads++
			if err == unix.EAGAIN {
				return false
			}
			got = append(got, buf[:max(n, 0)]...)
			return len(got) >= len(msg) || err != nil
		})
		if err != nil || string(got) != string(msg) {
			t.Fatalf("exchange %d: read %q, %v; want %q", i, got, err, msg)
		}
		// A wake-up only comes with data: at most a spurious one now and
		// then, never a read per exchange that finds nothing.
		if reads > 2 {
			t.Fatalf("exchange %d: %d reads for one echo", i, reads)
		}
	}
}

func TestRawConnDeadlineAndClose(t *testing.T) {
	c, _ := pair(t)
	raw, _ := c.SyscallConn()
	c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	err := raw.Read(func(uintptr) bool { return false })
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("wait past the deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	c.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() { done <- raw.Read(func(uintptr) bool { return false }) }()
	time.Sleep(30 * time.Millisecond)
	c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("wait ended by Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the wait")
	}
	if err := raw.Control(func(uintptr) {}); err == nil {
		t.Error("Control on a closed Conn succeeded")
	}
}

// RawConn.Write waits for writability when the callback finds the socket
// full, and asks for it no longer afterwards.
func TestRawConnWriteWaitsWhenFull(t *testing.T) {
	c, srv := pair(t)
	raw, _ := c.SyscallConn()
	var typ int
	raw.Control(func(fd uintptr) { typ, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE) })
	if typ != unix.SOCK_STREAM {
		t.Fatalf("Control's fd has socket type %d, want the stream socket", typ)
	}
	big := bytes.Repeat([]byte("x"), 8<<20)
	got := make(chan int, 1)
	go func() {
		time.Sleep(50 * time.Millisecond) // let the writer find the buffers full
		n, _ := io.ReadFull(srv, make([]byte, len(big)))
		got <- n
	}()
	sent, full := 0, 0
	err := raw.Write(func(fd uintptr) bool {
		for sent < len(big) {
			n, err := unix.Write(int(fd), big[sent:])
			if err == unix.EAGAIN {
				full++
				return false
			}
			if err != nil {
				t.Errorf("write: %v", err)
				return true
			}
			sent += n
		}
		return true
	})
	if err != nil || sent != len(big) {
		t.Fatalf("raw write: %d of %d, %v", sent, len(big), err)
	}
	if full == 0 {
		t.Error("the socket was never full: the wait for writability was not exercised")
	}
	if n := <-got; n != len(big) {
		t.Fatalf("peer got %d bytes", n)
	}
	if n := entries(t, c.wf); len(n) != 0 {
		t.Fatalf("the write set still holds %v after the write", n)
	}
}
