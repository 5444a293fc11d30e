package h1

import (
	"bufio"
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

	sw       sendWait // SendAndWait
	lastUsed int64    // nanotime of the last request sent, or of its Put back
	abort    func()   // ac.Abort, made once
}

func NewClientConn(c net.Conn) *ClientConn {
	ac := &ClientConn{Conn: c, BR: bufio.NewReaderSize(c, 4096), Out: make([]byte, 0, 1024), lastUsed: nanotime()}
	ac.sw.init(c)
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

// StaleAfter: a pooled connection idle this long is not used for a request
// that is sent once (one with a body), as the backend may be closing it.
const StaleAfter = time.Second

// peekAfter: a connection back in the pool for less than this is not
// peeked at. A backend closes an idle connection at its idle timeout or when
// it stops; within a few milliseconds of the last answer that is no likelier
// than a close racing the request just after the peek, which no peek avoids.
const peekAfter = 2 * time.Millisecond

// UsableOnce reports whether ac may carry a request that cannot be sent a
// second time: not idle past StaleAfter, and not closed by the backend
// (PeerClosed) when it has been idle long enough for that.
func (ac *ClientConn) UsableOnce() bool {
	idle := ac.IdleFor()
	return idle < StaleAfter && (idle < peekAfter || !ac.PeerClosed())
}

// PeerClosed reports whether the backend has closed a pooled connection (or
// sent on it unasked, which leaves it unusable too), with one non-blocking
// peek. A request that cannot be sent twice checks before it goes out, as
// http.Transport's reader on every idle connection would have seen it;
// false when it cannot tell (no RawConn).
func (ac *ClientConn) PeerClosed() bool {
	if ac.BR.Buffered() > 0 {
		return true
	}
	if ac.sw.raw == nil {
		return false
	}
	closed := false
	var b [1]byte
	err := ac.sw.raw.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = err != syscall.EAGAIN && err != syscall.EINTR || n > 0
		return true
	})
	// A closed conn, or one whose deadline has passed (aborted), is no use.
	return closed || err != nil
}

// SendAndWait writes ac.Out and returns once the app's answer can be read,
// with one system call less than a Write and a Read (sendWait): the app
// cannot answer before the request is out.
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
	if ac.sw.raw == nil || idle > int64(sendWaitMaxIdle) {
		_, err := ac.Conn.Write(ac.Out)
		return err
	}
	err := ac.sw.do(ac.Out)
	if ac.sw.err != nil {
		return ac.sw.err
	}
	if ac.sw.sent < len(ac.Out) {
		// The socket buffer was full: finish with an ordinary write; the
		// response is then read the ordinary way.
		_, werr := ac.Conn.Write(ac.Out[ac.sw.sent:])
		return werr
	}
	return err // RawConn.Read's errors are *net.OpError already
}

const sendWaitMaxIdle = time.Second
