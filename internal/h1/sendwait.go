package h1

import (
	"errors"
	"net"
	"syscall"
)

// sendWait writes a buffer and waits for the socket to become readable
// with one system call less than a Write followed by a Read.
//
// A plain Write then Read costs a read that fails with EAGAIN first (the
// peer has not answered yet) before the goroutine parks. Inside
// RawConn.Read the poller is armed before the callback runs, so the buffer
// is written from the callback and the goroutine parks straight away;
// readiness that comes while the write is still in the kernel is not lost.
//
// Arming the poller drops readiness that arrived before it: whoever uses
// this must know that nothing can arrive before the write is out (a
// backend answers a request only once it is sent), or bound the wait.
type sendWait struct {
	raw     syscall.RawConn // nil: not a socket, no send-then-wait
	fn      func(fd uintptr) bool
	out     []byte
	sent    int   // bytes of out written by the callback
	err     error // the write's error
	waiting bool
	onWait  func() // nil, or called once out is written, before the wait
}

func (s *sendWait) init(c net.Conn) {
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			s.raw, s.fn = raw, s.callback
		}
	}
}

// do writes out and waits for readability. After it, s.err is the
// write's error, and s.sent < len(out) means the socket buffer was full:
// the caller writes the rest the ordinary way. The error returned is the
// wait's (deadlines apply to it as to any read).
func (s *sendWait) do(out []byte) error {
	s.out, s.sent, s.err, s.waiting = out, 0, nil, false
	err := s.raw.Read(s.fn)
	s.out = nil
	return err
}

// callback is the RawConn.Read callback: the first call writes, later
// calls come when the socket is readable.
func (s *sendWait) callback(fd uintptr) bool {
	if s.waiting {
		return true
	}
	for s.sent < len(s.out) {
		n, err := syscall.Write(int(fd), s.out[s.sent:])
		if n > 0 {
			s.sent += n
		}
		switch {
		case err == nil && n == 0:
			return true // finished by the caller
		case err == nil:
		case errors.Is(err, syscall.EINTR):
		case errors.Is(err, syscall.EAGAIN):
			return true // finished by the caller
		default:
			s.err = err
			return true
		}
	}
	s.waiting = true
	if s.onWait != nil {
		s.onWait()
	}
	return false
}
