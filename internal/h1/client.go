package h1

import (
	"bufio"
	"errors"
	"net"
	"syscall"
	"time"
)

// ClientConn is a keep-alive connection to a backend (the app, or a
// queue-proxy), used by one request at a time.
type ClientConn struct {
	Conn net.Conn
	BR   *bufio.Reader
	Out  []byte // the request head being sent

	// Send-then-wait (SendAndWait): nil when Conn is not a socket.
	raw      syscall.RawConn
	waitFn   func(fd uintptr) bool // ac.sendThenWait, made once
	sent     int                   // bytes of Out written by waitFn
	sendErr  error
	waiting  bool
	lastUsed int64  // nanotime of the last request sent
	abort    func() // ac.Abort, made once
}

func NewClientConn(c net.Conn) *ClientConn {
	ac := &ClientConn{Conn: c, BR: bufio.NewReaderSize(c, 4096), Out: make([]byte, 0, 1024), lastUsed: nanotime()}
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			ac.raw = raw
			ac.waitFn = ac.sendThenWait
		}
	}
	ac.abort = ac.Abort
	return ac
}

// Abort ends blocked I/O on the connection at once (the client went away);
// the connection cannot be reused after it.
func (ac *ClientConn) Abort() { ac.Conn.SetDeadline(aLongTimeAgo) }

// AbortFunc is ac.Abort as a func value made once, for hooks that must not
// allocate per request (SetOnGone).
func (ac *ClientConn) AbortFunc() func() { return ac.abort }

// IdleFor is how long ac has been unused.
func (ac *ClientConn) IdleFor() time.Duration { return time.Duration(nanotime() - ac.lastUsed) }

// SendAndWait writes ac.Out and returns once the app's answer can be read.
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
func (ac *ClientConn) SendAndWait() error {
	now := nanotime()
	idle := now - ac.lastUsed
	ac.lastUsed = now
	if ac.raw == nil || idle > int64(sendWaitMaxIdle) {
		_, err := ac.Conn.Write(ac.Out)
		return err
	}
	ac.sent, ac.sendErr, ac.waiting = 0, nil, false
	err := ac.raw.Read(ac.waitFn)
	if ac.sendErr != nil {
		return ac.sendErr
	}
	if ac.sent < len(ac.Out) {
		// The socket buffer was full: finish with an ordinary write; the
		// response is then read the ordinary way.
		_, werr := ac.Conn.Write(ac.Out[ac.sent:])
		return werr
	}
	return err // RawConn.Read's errors are *net.OpError already
}

const sendWaitMaxIdle = time.Second

// sendThenWait is the RawConn.Read callback: the first call writes, later
// calls come when the socket is readable.
func (ac *ClientConn) sendThenWait(fd uintptr) bool {
	if ac.waiting {
		return true
	}
	for ac.sent < len(ac.Out) {
		n, err := syscall.Write(int(fd), ac.Out[ac.sent:])
		if n > 0 {
			ac.sent += n
		}
		switch {
		case err == nil && n == 0:
			return true // finished by SendAndWait
		case err == nil:
		case errors.Is(err, syscall.EINTR):
		case errors.Is(err, syscall.EAGAIN):
			return true // finished by SendAndWait
		default:
			ac.sendErr = err
			return true
		}
	}
	ac.waiting = true
	return false
}
