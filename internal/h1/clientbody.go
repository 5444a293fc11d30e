package h1

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
)

// ErrClientBody marks a failure to read the client's request body (the
// client's fault, see ClientStatus), as opposed to one writing to the backend.
var ErrClientBody = errors.New("reading the request body")

// inlineBody is the largest body of known length sent in the same write
// as the head.
const inlineBody = 16 << 10

// SendRequest sends the head in ac.Out (AppendRequestHead) and r's body,
// and returns once the backend's answer can be read. A small body of known
// length goes out with the head in one write; any other is streamed as it
// arrives, chunked when its length is unknown, with the client's trailers
// after it. bodyRead reports whether body bytes were taken from the
// client: the request cannot be sent again then.
func (ac *ClientConn) SendRequest(r *http.Request) (bodyRead bool, err error) {
	body := r.Body
	if body == nil || body == http.NoBody {
		return false, ac.SendAndWait()
	}
	if n := r.ContentLength; n >= 0 && n <= inlineBody {
		head := len(ac.Out)
		ac.Out = append(ac.Out, make([]byte, n)...)
		if _, err := io.ReadFull(body, ac.Out[head:]); err != nil {
			return true, fmt.Errorf("%w: %w", ErrClientBody, err)
		}
		if err := drainEOF(body); err != nil {
			return true, err
		}
		return true, ac.SendAndWait()
	}
	ac.lastUsed = nanotime()
	if _, err := ac.Conn.Write(ac.Out); err != nil {
		return false, err
	}
	bp := GetBuf()
	defer PutBuf(bp)
	buf := *bp
	chunked := r.ContentLength < 0
	var size [20]byte
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			var err error
			if chunked {
				bufs := net.Buffers{append(strconv.AppendInt(size[:0], int64(n), 16), "\r\n"...), buf[:n], crlf}
				_, err = bufs.WriteTo(ac.Conn)
			} else {
				_, err = ac.Conn.Write(buf[:n])
			}
			if err != nil {
				return true, err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return true, fmt.Errorf("%w: %w", ErrClientBody, rerr)
		}
	}
	if chunked {
		if _, err := ac.Conn.Write(appendTrailers(buf[:0], r.Trailer)); err != nil {
			return true, err
		}
	}
	return true, nil
}

var crlf = []byte("\r\n")

// drainEOF reads the EOF after a body of known length, which ends the
// body's idle deadline (Body) and frees the server's connection.
func drainEOF(body io.Reader) error {
	var one [1]byte
	n, err := body.Read(one[:])
	if n > 0 {
		return fmt.Errorf("%w: body longer than its Content-Length", ErrClientBody)
	}
	if err != nil && err != io.EOF {
		return fmt.Errorf("%w: %w", ErrClientBody, err)
	}
	return nil
}
