package h1

import (
	"sync"
	"sync/atomic"
)

// Pool keeps idle keep-alive connections to one backend.
type Pool struct {
	idle   chan *ClientConn
	closed atomic.Bool
}

func NewPool(maxIdle int) *Pool { return &Pool{idle: make(chan *ClientConn, maxIdle)} }

// Get returns an idle connection, or nil: the caller dials.
func (p *Pool) Get() *ClientConn {
	select {
	case ac := <-p.idle:
		return ac
	default:
		return nil
	}
}

// Put keeps ac for the next request, or closes it: when the pool is full,
// or when bytes beyond the response were read (the backend is out of step).
func (p *Pool) Put(ac *ClientConn) {
	if ac.BR.Buffered() > 0 {
		ac.Conn.Close()
		return
	}
	select {
	case p.idle <- ac:
	default:
		ac.Conn.Close()
		return
	}
	// Close drains after it marks the pool: one of the two drains whatever
	// a Put racing with it kept.
	if p.closed.Load() {
		p.CloseIdle()
	}
}

// Close closes the idle connections and every one put back later: the
// backend is gone.
func (p *Pool) Close() {
	p.closed.Store(true)
	p.CloseIdle()
}

// CloseIdle closes the pooled connections.
func (p *Pool) CloseIdle() {
	for {
		select {
		case ac := <-p.idle:
			ac.Conn.Close()
		default:
			return
		}
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
