//go:build linux

package quietunix

import (
	"io"
	"net"
	"path/filepath"
	"testing"
)

// BenchmarkPingPong: one request and one answer of 200 bytes each over a
// Unix socket whose both ends are plain (as the runtime polls them) or
// wrapped. With both ends in one process the wake-ups for nothing show as
// the runtime's poller waking; ns/op and the process's CPU are the measure.
//
//	go test -run x -bench PingPong -count 5 ./internal/quietunix
func BenchmarkPingPong(b *testing.B) {
	for _, tc := range []struct {
		name string
		wrap func(net.Conn) net.Conn
	}{
		{"plain", func(c net.Conn) net.Conn { return c }},
		{"quiet", Wrap},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ln, err := net.Listen("unix", filepath.Join(b.TempDir(), "s"))
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c = tc.wrap(c)
				defer c.Close()
				buf := make([]byte, 200)
				for {
					if _, err := io.ReadFull(c, buf); err != nil {
						return
					}
					if _, err := c.Write(buf); err != nil {
						return
					}
				}
			}()
			nc, err := net.Dial("unix", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			c := tc.wrap(nc)
			defer c.Close()
			buf := make([]byte, 200)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.Write(buf); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
