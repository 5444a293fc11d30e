//go:build linux

package quietunix

import "net"

// Listener hands out its listener's connections wrapped (see Wrap).
type Listener struct{ net.Listener }

func (l Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Wrap(c), nil
}
