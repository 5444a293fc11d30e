package queueproxy

import (
	"bufio"
	"errors"
	"net"
	"syscall"
	"time"
)

func newAppConn(c net.Conn) *appConn {
	ac := &appConn{c: c, br: bufio.NewReaderSize(c, 4096), out: make([]byte, 0, 1024), lastUsed: nanotime()}
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			ac.raw = raw
			ac.waitFn = ac.sendThenWait
		}
	}
	return ac
}

// sendAndWait writes ac.out and returns once the app's answer can be read.
//
// A plain Write followed by a Read costs a read that fails with EAGAIN
// first (the app has not answered yet) before the goroutine parks. Inside
// RawConn.Read the poller is armed before the callback runs, so the
// request is written from the callback and the goroutine parks straight
// away; readiness that comes while the write is still in the kernel is not
// lost. One system call less per request. Deadlines (the request timers
// abort through them) apply to the wait as to any read.
//
// Arming the poller also drops readiness that arrived while the connection
// sat in the pool: an app that shut its side down without closing would
// then never wake the wait. Connections idle for longer than
// sendWaitMaxIdle are therefore written the plain way, whose read sees
// such an end at once; a hot connection cannot have gone quiet that way
// unnoticed (a closing app says Connection: close, or resets on write).
func (ac *appConn) sendAndWait() error {
	now := nanotime()
	idle := now - ac.lastUsed
	ac.lastUsed = now
	if ac.raw == nil || idle > int64(sendWaitMaxIdle) {
		_, err := ac.c.Write(ac.out)
		return err
	}
	ac.sent, ac.sendErr, ac.waiting = 0, nil, false
	err := ac.raw.Read(ac.waitFn)
	if ac.sendErr != nil {
		return ac.sendErr
	}
	if ac.sent < len(ac.out) {
		// The socket buffer was full: finish with an ordinary write; the
		// response is then read the ordinary way.
		_, werr := ac.c.Write(ac.out[ac.sent:])
		return werr
	}
	return err // RawConn.Read's errors are *net.OpError already
}

const sendWaitMaxIdle = time.Second

// sendThenWait is the RawConn.Read callback: the first call writes, later
// calls come when the socket is readable.
func (ac *appConn) sendThenWait(fd uintptr) bool {
	if ac.waiting {
		return true
	}
	for ac.sent < len(ac.out) {
		n, err := syscall.Write(int(fd), ac.out[ac.sent:])
		if n > 0 {
			ac.sent += n
		}
		switch {
		case err == nil && n == 0:
			return true // finished by sendAndWait
		case err == nil:
		case errors.Is(err, syscall.EINTR):
		case errors.Is(err, syscall.EAGAIN):
			return true // finished by sendAndWait
		default:
			ac.sendErr = err
			return true
		}
	}
	ac.waiting = true
	return false
}
