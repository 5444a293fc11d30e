package queueproxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gantry-dev/gantry/internal/h1"
)

// fastClient is a minimal HTTP/1.1 client for the common case: a request
// without a body, or with a small one read ahead (smallBody), forwarded on a
// pooled keep-alive connection and answered in the handler's own goroutine.
// http.Transport needs two goroutines per connection and channel hand-offs
// per request; skipping them is most of the proxy's overhead. Larger and
// chunked bodies stream from a goroutine of their own (h1.BodyStream).
// Upgrades, Expect and h2c go through httputil.ReverseProxy.
type fastClient struct {
	addr   string
	pool   *h1.Pool
	dialer net.Dialer
}

func newFastClient(addr string, maxIdle int) *fastClient {
	return &fastClient{addr: addr, pool: h1.NewPool(maxIdle),
		dialer: net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}}
}

// fastEligible: no body, no upgrade, no Expect, idempotent (safe to retry on
// a keep-alive connection the app closed meanwhile).
func fastEligible(r *http.Request) bool {
	if r.ProtoMajor != 1 || r.Body != http.NoBody && r.Body != nil {
		return false
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodDelete:
	default:
		return false
	}
	h := r.Header
	if _, ok := h["Upgrade"]; ok {
		return false
	}
	if _, ok := h["Expect"]; ok {
		return false
	}
	return true
}

func (f *fastClient) get(rw *respWriter, r *http.Request, replay bool) (*h1.ClientConn, bool, error) {
	for {
		ac := f.pool.Get()
		if ac == nil {
			break
		}
		if replay || ac.UsableOnce() {
			return ac, true, nil
		}
		ac.Conn.Close()
	}
	// Dialling is rare (the pool is empty): a context is worth deriving here.
	c, err := f.dialer.DialContext(rw.context(r.Context()), "tcp", f.addr)
	if err != nil {
		return nil, false, err
	}
	return h1.NewClientConn(c), false, nil
}

// closeIdle closes pooled connections (at shutdown).
func (f *fastClient) closeIdle() { f.pool.CloseIdle() }

var aLongTimeAgo = time.Unix(1, 0)

// do forwards r, with body (read ahead in memory; nil: none), and copies
// the response to rw. An error means no response header was written;
// failures after that abort the response. A request with a body goes out
// once: it is not sent again on a new connection when a pooled one fails.
func (f *fastClient) do(rw *respWriter, r *http.Request, body []byte) error {
	replay := body == nil && (r.Body == nil || r.Body == http.NoBody)
	// Make blocking I/O on the app connection notice that the client went
	// away; the request's timer does the same for timeouts (rw.attachApp).
	if h1.SetOnGone(r.Context(), rw.goneFn) { // h1.Server: no allocation
		defer h1.SetOnGone(r.Context(), nil)
	} else {
		stopWatch := context.AfterFunc(r.Context(), rw.goneFn)
		defer stopWatch()
	}
	for attempt := 0; ; attempt++ {
		ac, reused, err := f.get(rw, r, replay)
		if err != nil {
			if rw.ended() {
				return endedErr(rw, r)
			}
			return err
		}
		if !rw.attachApp(ac.Conn) {
			f.pool.Put(ac) // untouched
			return endedErr(rw, r)
		}
		resp, sr, bs, err := f.roundTrip(ac, rw, r, body)
		if bs != nil {
			// Once more, should the copy below panic: the body's goroutine
			// must not outlive the handler. The loop ends after this one.
			defer bs.Finish()
		}
		if err != nil {
			rw.detachApp()
			ac.Conn.Close()
			if replay && reused && attempt == 0 && !rw.ended() {
				continue // the app closed an idle connection: retry on a new one
			}
			if rw.ended() {
				return endedErr(rw, r)
			}
			return err
		}
		var ok, closeApp bool
		if resp == nil {
			ok = copySimple(rw, r, sr, ac.BR)
		} else {
			ok = copyResponse(rw, resp, ac.BR)
			closeApp = resp.Close
			resp.Body.Close()
		}
		if bs != nil && !bs.Finish() {
			closeApp = true // the answer came before the whole body went out
		}
		if !rw.detachApp() || !ok || closeApp {
			ac.Conn.Close()
			if !ok {
				panic(http.ErrAbortHandler)
			}
			return nil
		}
		f.pool.Put(ac)
		return nil
	}
}

// endedErr is the error of a request that a timer or the client ended.
func endedErr(rw *respWriter, r *http.Request) error {
	if rw.timedOut.Load() {
		return errRequestTimeout
	}
	if err := r.Context().Err(); err != nil {
		return err
	}
	return errRequestTimeout
}

// simpleResp is a response whose head parseRespHead took: its fields are
// already in the client's header, its body is length bytes.
type simpleResp struct {
	code   int
	length int64
}

// roundTrip sends r and reads the response head: the common kind straight
// into rw's header (resp nil), any other with http.ReadResponse. A body not
// read ahead (r.Body) that is too large for the head's write streams while
// the answer is read:
// the caller finishes the BodyStream once the answer is relayed; on an
// error roundTrip has finished it.
func (f *fastClient) roundTrip(ac *h1.ClientConn, rw *respWriter, r *http.Request, body []byte) (resp *http.Response, sr simpleResp, bs *h1.BodyStream, err error) {
	ac.Out = h1.AppendRequestHead(ac.Out[:0], r, "", false)
	if body != nil || r.Body == nil || r.Body == http.NoBody {
		ac.Out = append(ac.Out, body...) // the head gave its Content-Length
		err = ac.SendAndWait()
	} else {
		// Up to 16 KiB goes with the head; more, or chunked, streams (bs).
		bs, _, err = ac.SendRequest(r)
	}
	if err != nil {
		return nil, simpleResp{}, nil, err
	}
	defer func() {
		if err != nil && bs != nil {
			bs.Finish() // a client's body that failed is in rw.body (clientFault)
			bs = nil
		}
	}()
	n, err := h1.PeekHead(ac.BR)
	if err != nil {
		return nil, simpleResp{}, bs, err
	}
	if n > 0 {
		buf, _ := ac.BR.Peek(n)
		// The values outlive the request when net/http writes the head
		// after the handler returns: a fresh backing array each time.
		vals := make([]string, 0, bytes.Count(buf, crlf)-2)
		if code, length, _, ok := h1.ParseRespHead(string(buf), rw.Header(), vals); ok {
			ac.BR.Discard(n)
			return nil, simpleResp{code: code, length: length}, bs, nil
		}
	}
	for {
		resp, err = http.ReadResponse(ac.BR, r)
		if err != nil {
			return nil, simpleResp{}, bs, err
		}
		switch {
		case resp.StatusCode == http.StatusSwitchingProtocols:
			err = errors.New("unexpected 101 Switching Protocols")
			return nil, simpleResp{}, bs, err
		case resp.StatusCode < 200:
			continue // informational responses are not forwarded
		}
		return resp, simpleResp{}, bs, nil
	}
}

var crlf = []byte("\r\n")

// copySimple relays a simpleResp's body from br; false as copyResponse.
func copySimple(rw *respWriter, r *http.Request, sr simpleResp, br *bufio.Reader) bool {
	dst := rw.Header()
	echoTraceparent(r.Header, dst)
	rw.WriteHeader(sr.code)
	if r.Method == http.MethodHead || sr.code == http.StatusNoContent || sr.code == http.StatusNotModified {
		return true
	}
	streaming := h1.IsEventStream(dst)
	for n := sr.length; n > 0; {
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err != nil {
				return false
			}
		}
		b, _ := br.Peek(int(min(n, int64(br.Buffered()))))
		if _, err := rw.Write(b); err != nil {
			return false
		}
		br.Discard(len(b))
		n -= int64(len(b))
		if streaming && br.Buffered() == 0 {
			rw.Flush()
		}
	}
	return true
}

// copyResponse writes resp to rw; false means the body could not be fully
// relayed (the connection to the app must be dropped and the response aborted).
func copyResponse(rw *respWriter, resp *http.Response, br *bufio.Reader) bool {
	dst := rw.Header()
	conn := resp.Header["Connection"]
	for k, vv := range resp.Header {
		if h1.IsHopHeader(k) || h1.ListedIn(conn, k) {
			continue
		}
		dst[k] = vv
	}
	if len(resp.Trailer) > 0 {
		for k := range resp.Trailer {
			dst.Add("Trailer", k)
		}
	}
	echoTraceparent(resp.Request.Header, dst)
	rw.WriteHeader(resp.StatusCode)
	bp := h1.GetBuf()
	defer h1.PutBuf(bp)
	buf := *bp
	// A stream (no Content-Length, or server-sent events) is flushed
	// whenever the app has nothing more buffered; a body of known length
	// goes through the server's buffer, with the header in the same write
	// when it is small.
	streaming := resp.ContentLength < 0 || h1.IsEventStream(resp.Header)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := rw.Write(buf[:n]); werr != nil {
				return false
			}
			if streaming && br.Buffered() == 0 {
				rw.Flush()
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return false
		}
	}
	for k, vv := range resp.Trailer {
		dst[k] = vv
	}
	return true
}
