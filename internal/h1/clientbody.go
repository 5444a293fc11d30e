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

// SendRequest sends the head in ac.Out (AppendRequestHead) and r's body.
// A small body of known length goes out with the head in one write, and
// SendRequest returns once the backend's answer can be read. Any other body
// is streamed as it arrives, chunked when its length is unknown, with the
// client's trailers after it, by a goroutine of its own: SendRequest
// returns once the head is out, with the BodyStream, so that the answer is
// read while the body still goes out (full duplex, as http.Transport does:
// an app may answer early, or echo the body as it reads it). The caller
// must call Finish on it before it returns. bodyRead reports whether body
// bytes were taken from the client: the request cannot be sent again then.
func (ac *ClientConn) SendRequest(r *http.Request) (s *BodyStream, bodyRead bool, err error) {
	body := r.Body
	if body == nil || body == http.NoBody {
		return nil, false, ac.SendAndWait()
	}
	if n := r.ContentLength; n >= 0 && n <= inlineBody {
		head := len(ac.Out)
		ac.Out = append(ac.Out, make([]byte, n)...)
		if _, err := io.ReadFull(body, ac.Out[head:]); err != nil {
			return nil, true, fmt.Errorf("%w: %w", ErrClientBody, err)
		}
		if err := drainEOF(body); err != nil {
			return nil, true, err
		}
		return nil, true, ac.SendAndWait()
	}
	ac.lastUsed = nanotime()
	if _, err := ac.Conn.Write(ac.Out); err != nil {
		return nil, false, err
	}
	s = &BodyStream{ac: ac, done: make(chan struct{})}
	if b, ok := body.(*Body); ok {
		s.stop = b.Stop
	}
	go s.copy(r)
	return s, true, nil
}

// Forwards reports whether the engine's client carries r: HTTP/1, not
// CONNECT, no upgrade, no Expect (those stay with httputil.ReverseProxy,
// whose Transport handles 100-continue and hands over the connection).
func Forwards(r *http.Request) bool {
	if r.ProtoMajor != 1 || r.Method == http.MethodConnect {
		return false
	}
	_, up := r.Header["Upgrade"]
	_, exp := r.Header["Expect"]
	return !up && !exp
}

// Streams reports whether SendRequest streams r's body (a BodyStream).
func Streams(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && !(r.ContentLength >= 0 && r.ContentLength <= inlineBody)
}

// BodyStream is a request body on its way to the backend while the answer
// is read (SendRequest).
type BodyStream struct {
	ac   *ClientConn
	stop func() // ends a blocked read of the client's body (Body.Stop); may be nil
	done chan struct{}
	err  error // the copy's, once done is closed
}

// copy streams r's body. A failure reading the client's body aborts the
// connection, so that a read of the answer does not wait on a backend that
// waits for the rest of the body; a failure writing to the backend does
// not: it may have answered early and closed, and that answer is read.
func (s *BodyStream) copy(r *http.Request) {
	defer close(s.done)
	ac := s.ac
	bp := GetBuf()
	defer PutBuf(bp)
	buf := *bp
	chunked := r.ContentLength < 0
	var size [20]byte
	for {
		n, rerr := r.Body.Read(buf)
		if n > 0 {
			var err error
			if chunked {
				bufs := net.Buffers{append(strconv.AppendInt(size[:0], int64(n), 16), "\r\n"...), buf[:n], crlf}
				_, err = bufs.WriteTo(ac.Conn)
			} else {
				_, err = ac.Conn.Write(buf[:n])
			}
			if err != nil {
				s.err = err
				return
			}
		}
		if rerr == io.EOF {
			break
		}
		if errors.Is(rerr, errStopped) { // Finish: not the client's doing
			s.err = rerr
			return
		}
		if rerr != nil {
			s.err = fmt.Errorf("%w: %w", ErrClientBody, rerr)
			ac.Abort()
			return
		}
	}
	if chunked {
		if _, err := ac.Conn.Write(appendTrailers(buf[:0], r.Trailer)); err != nil {
			s.err = err
		}
	}
}

// Err is the copy's error once it ended (wrapping ErrClientBody when the
// client's body failed), nil while it runs or when it went out whole.
func (s *BodyStream) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Finish ends the stream and waits for its goroutine. A copy still running
// (the answer came before the whole body) is stopped: the connection is
// aborted and a blocked read of the client's body ended, which leaves the
// client's connection to close after the answer. Finish reports whether
// the whole body had gone out, so that the connection can be reused.
func (s *BodyStream) Finish() bool {
	select {
	case <-s.done:
		return s.err == nil
	default:
	}
	s.ac.Abort()
	if s.stop != nil {
		s.stop()
	}
	<-s.done
	return false
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
