package api

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ProxyLimits bound what a client may send to the gateway and to the
// queue-proxy. They are read from config-network (keys below) with Envoy's
// defaults; zero means no limit.
type ProxyLimits struct {
	// MaxRequestHeaderBytes: request line and header fields together; 431
	// past it. Envoy's max_request_headers_kb: 60 KiB.
	MaxRequestHeaderBytes int
	// MaxRequestHeaders: header field lines; 431 past it. Envoy's
	// max_headers_count: 100.
	MaxRequestHeaders int
	// MaxRequestLineBytes: the request line; 414 past it. Envoy counts it in
	// the 60 KiB of headers, so that is the default bound.
	MaxRequestLineBytes int
	// MaxRequestBodyBytes: 413 past it. Envoy streams bodies unbounded: 0.
	MaxRequestBodyBytes int64
	// HeaderReadTimeout bounds the wait for a complete request head. Envoy's
	// request_headers_timeout is off by default; Gantry keeps 30s, as a
	// client sending one byte a second would otherwise hold its connection
	// for good.
	HeaderReadTimeout time.Duration
	// IdleTimeout closes a keep-alive connection with no request for this
	// long. Envoy's idle_timeout: 1h.
	IdleTimeout time.Duration
	// BodyIdleTimeout answers 408 when a request body stalls this long.
	// Envoy's stream_idle_timeout: 5m.
	BodyIdleTimeout time.Duration
	// MaxConnections per proxy listener; 0 (Envoy's default): none.
	MaxConnections int
}

// DefaultProxyLimits are Envoy's defaults (and Gantry's header-read timeout).
func DefaultProxyLimits() ProxyLimits {
	return ProxyLimits{
		MaxRequestHeaderBytes: 60 << 10,
		MaxRequestHeaders:     100,
		MaxRequestLineBytes:   60 << 10,
		HeaderReadTimeout:     30 * time.Second,
		IdleTimeout:           time.Hour,
		BodyIdleTimeout:       5 * time.Minute,
	}
}

// The config-network keys of ProxyLimits.
const (
	KeyMaxRequestHeaderBytes = "max-request-header-bytes"
	KeyMaxRequestHeaders     = "max-request-headers"
	KeyMaxRequestLineBytes   = "max-request-line-bytes"
	KeyMaxRequestBodyBytes   = "max-request-body-bytes"
	KeyHeaderReadTimeout     = "header-read-timeout"
	KeyIdleTimeout           = "idle-timeout"
	KeyBodyIdleTimeout       = "body-idle-timeout"
	KeyMaxConnections        = "max-connections"
)

// ProxyLimitKeys lists the keys, for ProxyLimits.Env and documentation.
var ProxyLimitKeys = []string{KeyMaxRequestHeaderBytes, KeyMaxRequestHeaders, KeyMaxRequestLineBytes,
	KeyMaxRequestBodyBytes, KeyHeaderReadTimeout, KeyIdleTimeout, KeyBodyIdleTimeout, KeyMaxConnections}

// ProxyLimitEnv is the queue-proxy environment variable carrying key:
// header-read-timeout is GANTRY_HEADER_READ_TIMEOUT.
func ProxyLimitEnv(key string) string {
	return "GANTRY_" + strings.ToUpper(strings.ReplaceAll(key, "-", "_"))
}

// ParseProxyLimits reads the limits from get (a ConfigMap's data, or the
// environment through ProxyLimitEnv); keys not set keep their default.
func ParseProxyLimits(get func(key string) (string, bool)) (ProxyLimits, error) {
	l := DefaultProxyLimits()
	ints := []struct {
		key string
		p   *int
	}{{KeyMaxRequestHeaderBytes, &l.MaxRequestHeaderBytes}, {KeyMaxRequestHeaders, &l.MaxRequestHeaders},
		{KeyMaxRequestLineBytes, &l.MaxRequestLineBytes}, {KeyMaxConnections, &l.MaxConnections}}
	for _, k := range ints {
		v, ok := get(k.key)
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return l, fmt.Errorf("%s must be a non-negative integer, was %q", k.key, v)
		}
		*k.p = n
	}
	if v, ok := get(KeyMaxRequestBodyBytes); ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 0 {
			return l, fmt.Errorf("%s must be a non-negative integer, was %q", KeyMaxRequestBodyBytes, v)
		}
		l.MaxRequestBodyBytes = n
	}
	durs := []struct {
		key string
		p   *time.Duration
	}{{KeyHeaderReadTimeout, &l.HeaderReadTimeout}, {KeyIdleTimeout, &l.IdleTimeout}, {KeyBodyIdleTimeout, &l.BodyIdleTimeout}}
	for _, k := range durs {
		v, ok := get(k.key)
		if !ok {
			continue
		}
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d < 0 {
			return l, fmt.Errorf("%s must be a non-negative duration such as \"30s\", was %q", k.key, v)
		}
		*k.p = d
	}
	// A head must at least hold a request line.
	if l.MaxRequestHeaderBytes > 0 && l.MaxRequestHeaderBytes < 1024 {
		return l, fmt.Errorf("%s must be 0 or at least 1024, was %d", KeyMaxRequestHeaderBytes, l.MaxRequestHeaderBytes)
	}
	return l, nil
}

// Env returns l as queue-proxy environment variables.
func (l ProxyLimits) Env() map[string]string {
	return map[string]string{
		ProxyLimitEnv(KeyMaxRequestHeaderBytes): strconv.Itoa(l.MaxRequestHeaderBytes),
		ProxyLimitEnv(KeyMaxRequestHeaders):     strconv.Itoa(l.MaxRequestHeaders),
		ProxyLimitEnv(KeyMaxRequestLineBytes):   strconv.Itoa(l.MaxRequestLineBytes),
		ProxyLimitEnv(KeyMaxRequestBodyBytes):   strconv.FormatInt(l.MaxRequestBodyBytes, 10),
		ProxyLimitEnv(KeyHeaderReadTimeout):     l.HeaderReadTimeout.String(),
		ProxyLimitEnv(KeyIdleTimeout):           l.IdleTimeout.String(),
		ProxyLimitEnv(KeyBodyIdleTimeout):       l.BodyIdleTimeout.String(),
		ProxyLimitEnv(KeyMaxConnections):        strconv.Itoa(l.MaxConnections),
	}
}
