package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// fastProxy forwards the common request, HTTP/1.x without a body or an
// upgrade, over pooled keep-alive connections to the queue-proxy, in the
// handler's own goroutine. httputil.ReverseProxy over http.Transport clones
// the request and hands it across two goroutines per connection; skipping
// that is most of the gateway's own cost. Everything else (bodies, upgrades,
// h2c) takes the ReverseProxy.
type fastProxy struct {
	pools  sync.Map // addr → *connPool
	dialer net.Dialer
}

type connPool struct{ idle chan *pconn }

type pconn struct {
	c  net.Conn
	br *bufio.Reader
	bw *bufio.Writer
}

const maxIdlePerBackend = 64

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// fastEligible: no body, no upgrade, no Expect, and an idempotent method, so
// a request that meets a keep-alive connection the backend just closed can
// be sent again on a new one.
func fastEligible(r *http.Request) bool {
	if r.ProtoMajor != 1 || (r.Body != nil && r.Body != http.NoBody) {
		return false
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodDelete:
	default:
		return false
	}
	_, up := r.Header["Upgrade"]
	_, exp := r.Header["Expect"]
	return !up && !exp
}

func (f *fastProxy) pool(addr string) *connPool {
	if p, ok := f.pools.Load(addr); ok {
		return p.(*connPool)
	}
	p, _ := f.pools.LoadOrStore(addr, &connPool{idle: make(chan *pconn, maxIdlePerBackend)})
	return p.(*connPool)
}

func (f *fastProxy) get(ctx context.Context, p *connPool, addr string) (*pconn, bool, error) {
	select {
	case pc := <-p.idle:
		return pc, true, nil
	default:
	}
	d := f.dialer
	d.Timeout, d.KeepAlive = 5*time.Second, 30*time.Second
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	return &pconn{c: c, br: bufio.NewReaderSize(c, 16<<10), bw: bufio.NewWriterSize(c, 8<<10)}, false, nil
}

func (p *connPool) put(pc *pconn) {
	select {
	case p.idle <- pc:
	default:
		pc.c.Close()
	}
}

// errNotSent: nothing reached the client, the caller may answer with an error.
var errNotSent = errors.New("backend unavailable")

// serve proxies r to addr (Host header host). It returns errNotSent (wrapped)
// when it failed before writing anything to w.
func (f *fastProxy) serve(w http.ResponseWriter, r *http.Request, addr, host string, count func(int)) error {
	p := f.pool(addr)
	var resp *http.Response
	var pc *pconn
	for attempt := 0; ; attempt++ {
		var reused bool
		var err error
		pc, reused, err = f.get(r.Context(), p, addr)
		if err != nil {
			return errors.Join(errNotSent, err)
		}
		resp, err = roundTrip(pc, r, host)
		if err == nil {
			break
		}
		pc.c.Close()
		// A pooled connection the backend closed meanwhile: try a new one once.
		if !reused || attempt > 0 || r.Context().Err() != nil {
			return errors.Join(errNotSent, err)
		}
	}
	// A client that goes away aborts the backend call.
	stop := context.AfterFunc(r.Context(), func() { pc.c.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	h := w.Header()
	listed := connectionTokens(resp.Header)
	for k, vv := range resp.Header {
		if !isHopHeader(k) && !listed[k] {
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
	if ok && !resp.Close && stop() {
		p.put(pc)
	} else {
		pc.c.Close()
	}
	return nil
}

func roundTrip(pc *pconn, r *http.Request, host string) (*http.Response, error) {
	writeHead(pc.bw, r, host)
	if err := pc.bw.Flush(); err != nil {
		return nil, err
	}
	return http.ReadResponse(pc.br, r)
}

// writeHead writes the request line and headers, hop-by-hop headers removed
// and X-Forwarded-* set as httputil.ProxyRequest.SetXForwarded does.
func writeHead(bw *bufio.Writer, r *http.Request, host string) {
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(r.URL.RequestURI())
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	listed := connectionTokens(r.Header)
	for k, vv := range r.Header {
		if isHopHeader(k) || listed[k] || k == "X-Forwarded-For" || k == "X-Forwarded-Host" || k == "X-Forwarded-Proto" {
			continue
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		bw.WriteString("X-Forwarded-For: ")
		if prior := r.Header["X-Forwarded-For"]; len(prior) > 0 {
			bw.WriteString(strings.Join(prior, ", "))
			bw.WriteString(", ")
		}
		bw.WriteString(ip)
		bw.WriteString("\r\n")
	}
	bw.WriteString("X-Forwarded-Host: ")
	bw.WriteString(r.Host)
	bw.WriteString("\r\nX-Forwarded-Proto: ")
	if r.TLS != nil {
		bw.WriteString("https")
	} else {
		bw.WriteString("http")
	}
	bw.WriteString("\r\n\r\n")
}

// copyBody streams the body to the client, flushing each read when the
// response is a stream (no length, or server-sent events). It reports
// whether the body was read to its end.
func copyBody(w http.ResponseWriter, resp *http.Response) bool {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	stream := resp.ContentLength < 0 || strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")
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

var hopHeaders = map[string]bool{
	"Connection": true, "Proxy-Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

func isHopHeader(k string) bool { return hopHeaders[k] }

// connectionTokens are the headers a Connection header names as hop-by-hop;
// nil (and no allocation) in the usual case of none.
func connectionTokens(h http.Header) map[string]bool {
	vv := h["Connection"]
	if len(vv) == 0 {
		return nil
	}
	m := map[string]bool{}
	for _, v := range vv {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				m[http.CanonicalHeaderKey(f)] = true
			}
		}
	}
	return m
}
