package queueproxy

import (
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// reqHead is a request head of the subset h1Server serves itself: HTTP/1.1,
// GET/HEAD/OPTIONS/DELETE in origin form, no body, no upgrade, no Expect,
// one valid Host, CRLF line endings, no folded lines. Everything outside it
// (and anything malformed) is served, or refused, by net/http.
type reqHead struct {
	method, target, host string
	close                bool // Connection: close
}

// headEnd finds the end of a request head in buf: the index just past the
// empty line, 0 if the head is not complete yet, or -1 if the head has a
// bare LF (net/http's lenient parsing decides what that means).
func headEnd(buf []byte) int {
	for i := 0; i < len(buf); i++ {
		if buf[i] != '\n' {
			continue
		}
		if i == 0 || buf[i-1] != '\r' {
			return -1
		}
		if i+2 < len(buf) && buf[i+1] == '\r' && buf[i+2] == '\n' {
			return i + 3
		}
		if i+1 < len(buf) && buf[i+1] == '\n' {
			return -1
		}
	}
	return 0
}

// parseHead parses a complete head s (through its empty line) into h and
// hdr (cleared by the caller; Host is not put in it, as with net/http).
// Header values are substrings of s; one-value slices are carved from
// vals, which is returned for reuse. ok is false when s is outside the
// subset.
func parseHead(s string, hdr http.Header, vals []string) (h reqHead, _ []string, ok bool) {
	eol := strings.Index(s, "\r\n")
	if eol < 0 {
		return h, vals, false
	}
	line := s[:eol]
	sp := strings.IndexByte(line, ' ')
	if sp < 0 {
		return h, vals, false
	}
	switch h.method = line[:sp]; h.method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodDelete:
	default:
		return h, vals, false
	}
	rest := line[sp+1:]
	sp = strings.IndexByte(rest, ' ')
	if sp <= 0 || rest[sp+1:] != "HTTP/1.1" || rest[0] != '/' {
		return h, vals, false
	}
	h.target = rest[:sp]
	for i := 0; i < len(h.target); i++ {
		if c := h.target[i]; c <= ' ' || c >= 0x7f || c == '#' {
			return h, vals, false
		}
	}
	hosts := 0
	pragmaNoCache, seenPragma := false, false
	for p := eol + 2; ; {
		e := strings.Index(s[p:], "\r\n")
		if e < 0 {
			return h, vals, false
		}
		if e == 0 {
			break
		}
		line := s[p : p+e]
		p += e + 2
		colon := strings.IndexByte(line, ':')
		if colon <= 0 || !validToken(line[:colon]) {
			return h, vals, false // also a folded line (leading SP/HTAB)
		}
		v := trimOWS(line[colon+1:])
		if !validFieldValue(v) {
			return h, vals, false
		}
		key := http.CanonicalHeaderKey(line[:colon])
		switch key {
		case "Host":
			hosts++
			h.host = v
			continue
		case "Content-Length", "Transfer-Encoding", "Upgrade", "Expect", "Http2-Settings":
			return h, vals, false
		case "Connection":
			if containsToken(v, "upgrade") {
				return h, vals, false
			}
			if containsToken(v, "close") {
				h.close = true
			}
		case "Pragma":
			// net/http looks at the first value only.
			if !seenPragma {
				seenPragma, pragmaNoCache = true, v == "no-cache"
			}
		}
		if old, dup := hdr[key]; dup {
			hdr[key] = append(old[:len(old):len(old)], v)
			continue
		}
		vals = append(vals, v)
		n := len(vals)
		hdr[key] = vals[n-1 : n : n]
	}
	if hosts != 1 || !httpguts.ValidHostHeader(h.host) {
		return h, vals, false
	}
	// As net/http does for HTTP/1.0 caches (RFC 7234 §5.4).
	if _, ok := hdr["Cache-Control"]; pragmaNoCache && !ok {
		hdr["Cache-Control"] = []string{"no-cache"}
	}
	return h, vals, true
}

// setRequestURL fills u from an origin-form target as url.ParseRequestURI
// would, without allocating unless the target has escapes.
func setRequestURL(u *url.URL, target string) (*url.URL, bool) {
	path, query, hasQuery := strings.Cut(target, "?")
	for i := 0; i < len(path); i++ {
		if !plainPathByte(path[i]) {
			// Escapes, or bytes that make net/url keep a RawPath.
			parsed, err := url.ParseRequestURI(target)
			return parsed, err == nil
		}
	}
	*u = url.URL{Path: path, RawQuery: query, ForceQuery: hasQuery && query == ""}
	return u, true
}

// plainPathByte: the path bytes net/url leaves as they are (unreserved
// characters and the sub-delimiters it does not escape in a path).
func plainPathByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '_', '.', '~', '$', '&', '+', ',', '/', ':', ';', '=', '@':
		return true
	}
	return false
}

func validToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if !httpguts.IsTokenRune(rune(s[i])) {
			return false
		}
	}
	return len(s) > 0
}

// validFieldValue: no control characters but HTAB (RFC 9110 §5.5).
func validFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
