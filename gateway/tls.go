package gateway

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// SetCertificates swaps in the TLS certificates the gateway serves, by host.
func (g *Gateway) SetCertificates(certs map[string]*tls.Certificate) {
	m := make(map[string]*tls.Certificate, len(certs))
	for h, c := range certs {
		m[strings.ToLower(h)] = c
	}
	g.certs.Store(&m)
}

// TLSConfig returns the configuration of the gateway's HTTPS listener: the
// certificate is chosen by SNI among those set with SetCertificates.
func (g *Gateway) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if m := g.certs.Load(); m != nil {
				if c := (*m)[strings.ToLower(hello.ServerName)]; c != nil {
					return c, nil
				}
			}
			return nil, fmt.Errorf("gantry: no certificate for %q", hello.ServerName)
		},
	}
}
