// Package multilisten serves several listeners as one net.Listener, so one
// server (and its graceful shutdown) covers a TCP port and a Unix socket.
package multilisten

import (
	"errors"
	"net"
	"sync"
)

// Listener accepts from all of its listeners; Addr is the first one's.
type Listener struct {
	lns    []net.Listener
	conns  chan net.Conn
	errs   chan error
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
	closed error
}

// New starts one accepting goroutine per listener; Close stops them all and
// closes every listener.
func New(lns ...net.Listener) *Listener {
	l := &Listener{lns: lns, conns: make(chan net.Conn), errs: make(chan error, len(lns)), done: make(chan struct{})}
	for _, ln := range lns {
		l.wg.Add(1)
		go l.accept(ln)
	}
	return l
}

func (l *Listener) accept(ln net.Listener) {
	defer l.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			select {
			case l.errs <- err:
			case <-l.done:
			}
			return
		}
		select {
		case l.conns <- c:
		case <-l.done:
			c.Close()
			return
		}
	}
}

func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errs:
		l.Close()
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *Listener) Close() error {
	l.once.Do(func() {
		close(l.done)
		var errs []error
		for _, ln := range l.lns {
			errs = append(errs, ln.Close())
		}
		l.closed = errors.Join(errs...)
	})
	return l.closed
}

func (l *Listener) Addr() net.Addr { return l.lns[0].Addr() }
