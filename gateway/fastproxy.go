package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gantry-dev/gantry/internal/h1"
	"github.com/gantry-dev/gantry/internal/quietunix"
)

// fastProxy forwards HTTP/1.x requests, bodies included, over pooled
// keep-alive connections to the queue-proxy in the handler's own goroutine,
// with the engine the queue-proxy uses (internal/h1). httputil.ReverseProxy
// over http.Transport clones the request and hands it across two goroutines
// per connection; skipping that is most of the gateway's own cost.
// Upgrades, Expect: 100-continue and h2c take the ReverseProxy.
type fastProxy struct {
	pools  sync.Map                        // addr → *h1.Pool; setLive drops those of gone instances
	live   atomic.Pointer[map[string]bool] // the addresses listed; nil: not known yet
	dialer net.Dialer
}

const maxIdlePerBackend = 64

// replayable: a request that may be sent again on a new connection when a
// pooled one turns out closed (http.Transport's rule: idempotent, no body).
func replayable(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodDelete, http.MethodTrace:
		return r.Body == nil || r.Body == http.NoBody
	}
	return false
}

func (f *fastProxy) pool(addr string) *h1.Pool {
	if p, ok := f.pools.Load(addr); ok {
		return p.(*h1.Pool)
	}
	if live := f.live.Load(); live != nil && !(*live)[addr] {
		// Picked just before its instance left: one connection, closed
		// after the request, and no pool that would outlive the instance.
		p := h1.NewPool(0)
		p.Close()
		return p
	}
	p, _ := f.pools.LoadOrStore(addr, h1.NewPool(maxIdlePerBackend))
	return p.(*h1.Pool)
}

// setLive records the addresses of the instances listed now, then closes
// and drops the pools of the others: each start of an instance has a
// socket path of its own, so without this the map grows with every restart
// and keeps connections to queue-proxies that are gone. A request still on
// a dropped pool's connection closes it when done; one that picked a gone
// address before the change gets no pool for it (pool). The order matters:
// a pool made before live is stored is dropped by the sweep after it.
func (f *fastProxy) setLive(live map[string]bool) {
	f.live.Store(&live)
	f.pools.Range(func(k, v any) bool {
		if addr := k.(string); !live[addr] {
			f.pools.Delete(addr)
			v.(*h1.Pool).Close()
		}
		return true
	})
}

func (f *fastProxy) get(ctx context.Context, p *h1.Pool, addr string, replay bool) (*h1.ClientConn, bool, error) {
	for {
		ac := p.Get()
		if ac == nil {
			break
		}
		if replay || ac.UsableOnce() {
			return ac, true, nil
		}
		ac.Conn.Close()
	}
	d := f.dialer
	d.Timeout, d.KeepAlive = 5*time.Second, 30*time.Second
	network := "tcp"
	if strings.HasPrefix(addr, "/") { // a queue-proxy's Unix socket (Endpoint.Unix)
		network = "unix"
	}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, false, err
	}
	return h1.NewClientConn(quietunix.Wrap(c)), false, nil
}

// errNotSent: nothing reached the client, the caller may answer with an error.
var errNotSent = errors.New("backend unavailable")

// serve proxies r to addr with Host host. It returns errNotSent (wrapped)
// when it failed before writing anything to w; a failure reading the
// client's body is wrapped with h1.ErrClientBody as well.
func (f *fastProxy) serve(w http.ResponseWriter, r *http.Request, addr, host string, count func(int)) error {
	p := f.pool(addr)
	replay := replayable(r)
	if h1.Streams(r) {
		// The answer may come while the body still streams (an app that
		// echoes it): net/http would otherwise drop the unread body at the
		// first write. The engine's server always allows it.
		http.NewResponseController(w).EnableFullDuplex()
	}
	for attempt := 0; ; attempt++ {
		ac, reused, err := f.get(r.Context(), p, addr, replay)
		if err != nil {
			return errors.Join(errNotSent, err)
		}
		ac.Out = h1.AppendRequestHead(ac.Out[:0], r, host, true)
		bs, bodyRead, err := ac.SendRequest(r)
		n, sent := 0, err == nil
		if err == nil {
			n, err = h1.PeekHead(ac.BR)
			if err != nil && bs != nil {
				// No answer. A copy that ended on the client's body says
				// whose fault it was (it aborted the read); one still
				// running is the backend's failure and is stopped.
				bs.Finish()
				if berr := bs.Err(); errors.Is(berr, h1.ErrClientBody) {
					err = berr
				}
			}
		} else if bodyRead && !errors.Is(err, h1.ErrClientBody) {
			// The backend stopped reading the body: it may have answered
			// already (a 413, say), which is the answer to relay.
			ac.Conn.SetReadDeadline(time.Now().Add(time.Second))
			if n, _ = h1.PeekHead(ac.BR); n > 0 || ac.BR.Buffered() > 0 {
				err = nil
			}
			ac.Conn.SetReadDeadline(time.Time{})
		}
		if err != nil {
			ac.Conn.Close()
			// A pooled connection the backend closed meanwhile: try a new one once.
			if reused && attempt == 0 && replay && r.Context().Err() == nil {
				continue
			}
			return errors.Join(errNotSent, err)
		}
		return f.relay(w, r, p, ac, n, count, sent, bs)
	}
}

// relay copies the response whose head is the first n buffered bytes (0:
// unknown, http.ReadResponse reads it) to w, and pools the connection if
// it can carry another request (reusable: the request went out whole; a
// streamed body, bs, must have gone out whole too, and bs is finished
// here). An error means nothing was written to w.
func (f *fastProxy) relay(w http.ResponseWriter, r *http.Request, p *h1.Pool, ac *h1.ClientConn, n int, count func(int), reusable bool, bs *h1.BodyStream) error {
	// A client that goes away aborts the backend call.
	if h1.SetOnGone(r.Context(), ac.AbortFunc()) {
		defer h1.SetOnGone(r.Context(), nil)
	} else {
		stop := context.AfterFunc(r.Context(), ac.AbortFunc())
		defer stop()
	}
	keep := false
	defer func() {
		bodyOut := bs == nil || bs.Finish()
		if keep && reusable && bodyOut && r.Context().Err() == nil {
			p.Put(ac)
		} else {
			ac.Conn.Close()
		}
	}()
	h := w.Header()
	if n > 0 && len(h) == 0 {
		buf, _ := ac.BR.Peek(n)
		// The values outlive the request when net/http writes the head
		// after the handler returns: a fresh backing array each time.
		vals := make([]string, 0, bytes.Count(buf, []byte("\r\n"))-2)
		if code, length, _, ok := h1.ParseRespHead(string(buf), h, vals); ok {
			ac.BR.Discard(n)
			w.WriteHeader(code)
			count(code)
			if r.Method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified {
				keep = true
				return nil
			}
			keep = copyN(w, ac.BR, length, h1.IsEventStream(h))
			return nil
		}
	}
	var resp *http.Response
	for {
		var err error
		if resp, err = http.ReadResponse(ac.BR, r); err != nil {
			return errors.Join(errNotSent, err)
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			return errors.Join(errNotSent, errors.New("101 Switching Protocols to a request without Upgrade"))
		}
		if resp.StatusCode >= 200 {
			break
		}
		// Informational responses (100 Continue, 103) are not forwarded.
	}
	listed := resp.Header["Connection"]
	for k, vv := range resp.Header {
		if !h1.IsHopHeader(k) && !h1.ListedIn(listed, k) {
			h[k] = vv
		}
	}
	for k := range resp.Trailer {
		h.Add("Trailer", k)
	}
	w.WriteHeader(resp.StatusCode)
	count(resp.StatusCode)
	ok := copyBody(w, resp)
	for k, vv := range resp.Trailer {
		h[http.TrailerPrefix+k] = vv
	}
	resp.Body.Close()
	keep = ok && !resp.Close
	return nil
}

// copyN relays a body of length bytes from br, flushing whenever the
// backend has nothing more buffered when it is a stream (server-sent
// events). It reports whether the whole body was relayed.
func copyN(w http.ResponseWriter, br interface {
	Buffered() int
	Peek(int) ([]byte, error)
	Discard(int) (int, error)
}, length int64, stream bool) bool {
	var rc *http.ResponseController
	if stream {
		rc = http.NewResponseController(w)
	}
	for length > 0 {
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err != nil {
				return false
			}
		}
		b, _ := br.Peek(int(min(length, int64(br.Buffered()))))
		if _, err := w.Write(b); err != nil {
			return false
		}
		br.Discard(len(b))
		length -= int64(len(b))
		if stream && br.Buffered() == 0 {
			rc.Flush()
		}
	}
	return true
}

// copyBody streams the body to the client, flushing each read when the
// response is a stream (no length, or server-sent events). It reports
// whether the body was read to its end.
func copyBody(w http.ResponseWriter, resp *http.Response) bool {
	bp := h1.GetBuf()
	defer h1.PutBuf(bp)
	buf := *bp
	stream := resp.ContentLength < 0 || h1.IsEventStream(resp.Header)
	rc := http.NewResponseController(w)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return false
			}
			if stream {
				rc.Flush()
			}
		}
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
}
