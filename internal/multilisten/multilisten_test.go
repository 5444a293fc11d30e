package multilisten

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestAcceptsFromEveryListenerAndClosesThemAll(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "s.sock")
	unix, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l := New(tcp, unix)
	if l.Addr() != tcp.Addr() {
		t.Errorf("Addr = %v, want the first listener's", l.Addr())
	}
	for _, dial := range [][2]string{{"tcp", tcp.Addr().String()}, {"unix", sock}} {
		c, err := net.Dial(dial[0], dial[1])
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		s, err := l.Accept()
		if err != nil {
			t.Fatalf("accept %s: %v", dial[0], err)
		}
		if s.LocalAddr().Network() != dial[0] {
			t.Errorf("accepted %s for a %s dial", s.LocalAddr().Network(), dial[0])
		}
		s.Close()
	}
	done := make(chan error, 1)
	go func() { _, err := l.Accept(); done <- err }()
	time.Sleep(10 * time.Millisecond)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Accept still blocked after Close")
	}
	if _, err := net.Dial("tcp", tcp.Addr().String()); err == nil {
		t.Error("tcp listener still open")
	}
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("unix socket file left: %v", err)
	}
	l.Close() // twice is harmless
}

// A listener that fails for good ends Accept with its error.
func TestListenerErrorEndsAccept(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(tcp)
	tcp.Close()
	if _, err := l.Accept(); err == nil {
		t.Fatal("Accept after the listener closed: no error")
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Accept: %v", err)
	}
}
