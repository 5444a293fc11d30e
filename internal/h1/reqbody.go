package h1

import (
	"io"
	"net/http"
	"time"
)

// reqBody is the body of a Server request with a Content-Length, read
// straight from the connection's buffer. Server does not watch the client
// while it is open (the watch would read body bytes), as net/http starts
// its background read only once the body is consumed.
type reqBody struct {
	c      *conn
	left   int64
	err    error // sticky: the connection is not reusable after it
	closed bool
}

func (b *reqBody) reset(c *conn, n int64) {
	*b = reqBody{c: c, left: n}
	c.bodyOpen.Store(n > 0)
}

func (b *reqBody) Read(p []byte) (int, error) {
	switch {
	case b.closed:
		return 0, http.ErrBodyReadAfterClose
	case b.err != nil:
		return 0, b.err
	case b.left == 0:
		return 0, io.EOF
	case len(p) == 0:
		return 0, nil
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.c.br.Read(p)
	b.left -= int64(n)
	if b.left == 0 {
		b.c.bodyOpen.Store(false)
		return n, io.EOF
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF // the client ended before its length
	}
	if err != nil {
		b.err = err
	}
	return n, err
}

func (b *reqBody) Close() error {
	b.closed = true
	return nil
}

// maxDiscard is how much of a body the handler left unread is read and
// dropped to keep the connection (net/http's 256 KiB); past it, or when the
// client is slow to send it, the connection closes after the response.
const (
	maxDiscard     = 256 << 10
	discardTimeout = time.Second
)

// finish makes the connection ready for the next request after the
// handler returned; false means it must close.
func (b *reqBody) finish() bool {
	c := b.c
	if !c.bodyOpen.Load() {
		return b.err == nil
	}
	if b.err != nil || b.left > maxDiscard {
		return false
	}
	c.nc.SetReadDeadline(time.Now().Add(discardTimeout))
	n, err := io.CopyN(io.Discard, c.br, b.left)
	c.nc.SetReadDeadline(time.Time{})
	b.left -= n
	if err != nil {
		return false
	}
	c.bodyOpen.Store(false)
	return true
}
