package h1

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/gantry-dev/gantry/api"
	"golang.org/x/net/netutil"
)

// LimitsFrom turns config-network's limits into the engine's.
func LimitsFrom(l api.ProxyLimits) Limits {
	return Limits{MaxHeaderBytes: l.MaxRequestHeaderBytes, MaxHeaders: l.MaxRequestHeaders,
		MaxRequestLine: l.MaxRequestLineBytes, MaxBodyBytes: l.MaxRequestBodyBytes,
		HeaderReadTimeout: l.HeaderReadTimeout, IdleTimeout: l.IdleTimeout, BodyIdleTimeout: l.BodyIdleTimeout,
		MaxConns: l.MaxConnections}
}

// Limits bound what a client may send. Zero fields mean no limit. The
// proxies fill it from api.ProxyLimits (config-network).
type Limits struct {
	MaxHeaderBytes    int   // request line plus fields; 431 past it
	MaxHeaders        int   // field lines; 431 past it
	MaxRequestLine    int   // 414 past it
	MaxBodyBytes      int64 // 413 past it
	HeaderReadTimeout time.Duration
	IdleTimeout       time.Duration
	BodyIdleTimeout   time.Duration // 408 when the body stalls this long
	MaxConns          int
}

// CheckHead returns the status that refuses r's head (414 or 431), or 0.
// net/http enforces MaxHeaderBytes loosely (it allows 4 KiB more), so the
// exact bound is checked here on what it parsed.
func (l Limits) CheckHead(r *http.Request) int {
	line := len(r.Method) + len(r.RequestURI) + len(" HTTP/1.1\r\n") + 1
	if l.MaxRequestLine > 0 && line > l.MaxRequestLine {
		return http.StatusRequestURITooLong
	}
	if l.MaxHeaderBytes <= 0 && l.MaxHeaders <= 0 {
		return 0
	}
	size, n := line+len("Host: \r\n")+len(r.Host), 1
	for k, vv := range r.Header {
		n += len(vv)
		for _, v := range vv {
			size += len(k) + len(v) + 4 // ": " and CRLF
		}
	}
	if l.MaxHeaders > 0 && n > l.MaxHeaders || l.MaxHeaderBytes > 0 && size > l.MaxHeaderBytes {
		return http.StatusRequestHeaderFieldsTooLarge
	}
	return 0
}

// CheckBody returns 413 for a declared length over the limit, or 0.
func (l Limits) CheckBody(r *http.Request) int {
	if l.MaxBodyBytes > 0 && r.ContentLength > l.MaxBodyBytes {
		return http.StatusRequestEntityTooLarge
	}
	return 0
}

// Apply sets s's timeouts and header bound from l; net/http answers 431
// itself past MaxHeaderBytes (plus its slack). For h2c it also keeps
// HTTP/2's default frame size, 16 KiB: net/http announces and accepts
// 1 MiB, which lets a peer send one oversized HEADERS frame where RFC 9113
// §4.2 expects a FRAME_SIZE_ERROR (h2spec 4.2/3).
func (l Limits) Apply(s *http.Server) {
	s.ReadHeaderTimeout = l.HeaderReadTimeout
	s.IdleTimeout = l.IdleTimeout
	if l.MaxHeaderBytes > 0 {
		s.MaxHeaderBytes = l.MaxHeaderBytes
	}
	if s.HTTP2 == nil {
		s.HTTP2 = &http.HTTP2Config{}
	}
	s.HTTP2.MaxReadFrameSize = 16 << 10
}

// Listen wraps ln so that it holds at most MaxConns connections; further
// clients wait in the kernel's accept queue.
func (l Limits) Listen(ln net.Listener) net.Listener {
	if l.MaxConns <= 0 {
		return ln
	}
	return netutil.LimitListener(ln, l.MaxConns)
}

// DefaultLimits are Envoy's defaults (api.DefaultProxyLimits, which a test
// keeps equal), for a queue-proxy started without the variables.
func DefaultLimits() Limits {
	return Limits{MaxHeaderBytes: 60 << 10, MaxHeaders: 100, MaxRequestLine: 60 << 10,
		HeaderReadTimeout: 30 * time.Second, IdleTimeout: time.Hour, BodyIdleTimeout: 5 * time.Minute}
}

// LimitsFromEnv reads the variables api.ProxyLimits.Env writes (the
// queue-proxy does not import api: it would bring the Kubernetes types).
func LimitsFromEnv(getenv func(string) string) (Limits, error) {
	l := DefaultLimits()
	for _, k := range []struct {
		name string
		p    *int
	}{{"GANTRY_MAX_REQUEST_HEADER_BYTES", &l.MaxHeaderBytes}, {"GANTRY_MAX_REQUEST_HEADERS", &l.MaxHeaders},
		{"GANTRY_MAX_REQUEST_LINE_BYTES", &l.MaxRequestLine}, {"GANTRY_MAX_CONNECTIONS", &l.MaxConns}} {
		if v := getenv(k.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return l, fmt.Errorf("%s %q: want a non-negative integer", k.name, v)
			}
			*k.p = n
		}
	}
	if v := getenv("GANTRY_MAX_REQUEST_BODY_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return l, fmt.Errorf("GANTRY_MAX_REQUEST_BODY_BYTES %q: want a non-negative integer", v)
		}
		l.MaxBodyBytes = n
	}
	for _, k := range []struct {
		name string
		p    *time.Duration
	}{{"GANTRY_HEADER_READ_TIMEOUT", &l.HeaderReadTimeout}, {"GANTRY_IDLE_TIMEOUT", &l.IdleTimeout},
		{"GANTRY_BODY_IDLE_TIMEOUT", &l.BodyIdleTimeout}} {
		if v := getenv(k.name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return l, fmt.Errorf("%s %q: want a non-negative duration", k.name, v)
			}
			*k.p = d
		}
	}
	return l, nil
}
