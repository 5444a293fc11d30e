package h1

import "sync"

// Pool keeps idle keep-alive connections to one backend. The one put back
// last is taken first (as http.Transport does): the connections in use stay
// warm, and the ones left idle at the bottom are the ones a backend closes.
type Pool struct {
	mu     sync.Mutex
	idle   []*ClientConn // the last one put back last
	max    int
	closed bool
}

func NewPool(maxIdle int) *Pool { return &Pool{max: maxIdle} }

// Get returns an idle connection, or nil: the caller dials.
func (p *Pool) Get() *ClientConn {
	p.mu.Lock()
	n := len(p.idle)
	if n == 0 {
		p.mu.Unlock()
		return nil
	}
	ac := p.idle[n-1]
	p.idle[n-1] = nil
	p.idle = p.idle[:n-1]
	p.mu.Unlock()
	return ac
}

// Put keeps ac for the next request, or closes it: when the pool is full or
// closed, or when bytes beyond the response were read (the backend is out
// of step). Its idle time (IdleFor) starts now.
func (p *Pool) Put(ac *ClientConn) {
	if ac.BR.Buffered() > 0 {
		ac.Conn.Close()
		return
	}
	ac.lastUsed = nanotime()
	p.mu.Lock()
	if p.closed || len(p.idle) >= p.max {
		p.mu.Unlock()
		ac.Conn.Close()
		return
	}
	p.idle = append(p.idle, ac)
	p.mu.Unlock()
}

// Close closes the idle connections and every one put back later: the
// backend is gone.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.CloseIdle()
}

// CloseIdle closes the pooled connections.
func (p *Pool) CloseIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, ac := range idle {
		ac.Conn.Close()
	}
}

// copyBufs are the 32 KiB body copy buffers of both proxies.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// GetBuf and PutBuf lend a 32 KiB copy buffer.
func GetBuf() *[]byte  { return copyBufs.Get().(*[]byte) }
func PutBuf(b *[]byte) { copyBufs.Put(b) }

// BufPool is httputil.ReverseProxy's BufferPool over the same buffers.
type BufPool struct{}

func (BufPool) Get() []byte  { return *GetBuf() }
func (BufPool) Put(b []byte) { PutBuf(&b) }
