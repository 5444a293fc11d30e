package h1

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// monoBase anchors nanotime; time.Since on it reads only the monotonic clock.
var monoBase = time.Now()

func nanotime() int64 { return int64(time.Since(monoBase)) }

// aLongTimeAgo is a deadline that ends a blocked read at once.
var aLongTimeAgo = time.Unix(1, 0)

// AppendRequestHead appends an HTTP/1.1 request head with r's method,
// target and end-to-end fields, and Host host (r.Host when empty). The
// framing is the engine's own: Content-Length for a body of known length,
// chunked for one of unknown length (WriteBody sends it so). With
// forwarded, X-Forwarded-For gets the client's address appended and
// X-Forwarded-Host and -Proto are set, as httputil.ProxyRequest.SetXForwarded
// does.
func AppendRequestHead(b []byte, r *http.Request, host string, forwarded bool) []byte {
	uri := r.RequestURI
	if uri == "" || uri[0] != '/' && uri != "*" {
		uri = r.URL.RequestURI()
	}
	if host == "" {
		host = r.Host
	}
	b = append(b, r.Method...)
	b = append(b, ' ')
	b = append(b, uri...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	conn := r.Header["Connection"]
	for k, vv := range r.Header {
		if IsHopHeader(k) || ListedIn(conn, k) {
			continue
		}
		if k == "Content-Length" || forwarded && (k == "X-Forwarded-For" || k == "X-Forwarded-Host" || k == "X-Forwarded-Proto") {
			continue
		}
		for _, v := range vv {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	if forwarded {
		// A peer with no IP (a Unix socket) adds no hop; what the earlier
		// hops wrote is kept either way.
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if xff := r.Header["X-Forwarded-For"]; len(xff) > 0 || err == nil {
			b = append(b, "X-Forwarded-For: "...)
			for i, v := range xff {
				if i > 0 {
					b = append(b, ", "...)
				}
				b = append(b, v...)
			}
			if err == nil {
				if len(xff) > 0 {
					b = append(b, ", "...)
				}
				b = append(b, ip...)
			}
			b = append(b, "\r\n"...)
		}
		b = append(b, "X-Forwarded-Host: "...)
		b = append(b, r.Host...)
		b = append(b, "\r\nX-Forwarded-Proto: "...)
		if r.TLS != nil {
			b = append(b, "https\r\n"...)
		} else {
			b = append(b, "http\r\n"...)
		}
	}
	if r.Body != nil && r.Body != http.NoBody {
		if r.ContentLength >= 0 {
			b = append(b, "Content-Length: "...)
			b = strconv.AppendInt(b, r.ContentLength, 10)
			b = append(b, "\r\n"...)
		} else {
			b = append(b, "Transfer-Encoding: chunked\r\n"...)
			b = appendTrailerNames(b, r.Trailer)
		}
	}
	return append(b, "\r\n"...)
}

// ShareTrailers makes the trailers of r's chunked body reach every copy of r
// (WithContext, the proxies' own): net/http fills r.Trailer when the body
// ends, and where it was nil, sets a new map on r alone. Handlers call it
// before copying r.
func ShareTrailers(r *http.Request) {
	if r.Trailer == nil && r.ContentLength < 0 && len(r.TransferEncoding) > 0 {
		r.Trailer = http.Header{}
	}
}

// appendTrailerNames announces the request trailers the client declared
// (net/http has their names before the body is read), as the Trailer
// field RFC 9110 §6.6.2 asks a sender of trailers for.
func appendTrailerNames(b []byte, tr http.Header) []byte {
	first := true
	for k := range tr {
		if !validTrailer(k) {
			continue
		}
		if first {
			b = append(b, "Trailer: "...)
			first = false
		} else {
			b = append(b, ", "...)
		}
		b = append(b, k...)
	}
	if !first {
		b = append(b, "\r\n"...)
	}
	return b
}

// validTrailer: a field that may be sent in a trailer section. Framing,
// routing and hop-by-hop fields never are (RFC 9110 §6.5.1).
func validTrailer(k string) bool {
	if k == "" || IsHopHeader(k) {
		return false
	}
	switch http.CanonicalHeaderKey(k) {
	case "Content-Length", "Content-Type", "Content-Encoding", "Content-Range", "Host",
		"Authorization", "Set-Cookie", "Cache-Control", "Expect", "Max-Forwards", "Pragma", "Range":
		return false
	}
	return validToken(k)
}

// appendTrailers writes the last chunk and the trailer section: the
// request's trailers as the client sent them (net/http fills r.Trailer
// when the body ends), values with CR, LF or NUL left out.
func appendTrailers(b []byte, tr http.Header) []byte {
	b = append(b, "0\r\n"...)
	for k, vv := range tr {
		if !validTrailer(k) {
			continue
		}
		for _, v := range vv {
			if strings.ContainsAny(v, "\r\n\x00") {
				continue
			}
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	return append(b, "\r\n"...)
}

// IsEventStream reports whether the Content-Type is text/event-stream.
func IsEventStream(h http.Header) bool {
	v := h["Content-Type"]
	if len(v) == 0 {
		return false
	}
	ct := v[0]
	const es = "text/event-stream"
	if len(ct) < len(es) || !equalFold(ct[:len(es)], es) {
		return false
	}
	rest := trimOWS(ct[len(es):])
	return rest == "" || rest[0] == ';'
}

// IsHopHeader: connection-specific fields, never forwarded (RFC 9110 §7.6.1).
func IsHopHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// ListedIn reports whether a Connection field value in conn names k.
func ListedIn(conn []string, k string) bool {
	for _, v := range conn {
		if containsToken(v, k) {
			return true
		}
	}
	return false
}

// containsToken reports whether the comma-separated list v holds token k,
// compared case-insensitively.
func containsToken(v, k string) bool {
	for len(v) > 0 {
		i := strings.IndexByte(v, ',')
		if i < 0 {
			i = len(v)
		}
		tok := trimOWS(v[:i])
		if len(tok) == len(k) && equalFold(tok, k) {
			return true
		}
		if i == len(v) {
			break
		}
		v = v[i+1:]
	}
	return false
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

func equalFold(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
