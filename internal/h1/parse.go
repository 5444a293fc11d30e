package h1

import (
	"bufio"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// reqHead is a request head of the subset Server serves itself: HTTP/1.1,
// a common method in origin form, no body or one of a single plain
// Content-Length, no Transfer-Encoding, no upgrade, no Expect, one valid
// Host, CRLF line endings, no folded lines. Everything outside it (and
// anything malformed) is served, or refused, by net/http.
type reqHead struct {
	method, target, host string
	close                bool  // Connection: close
	length               int64 // Content-Length; 0 when absent
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
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodDelete,
		http.MethodPost, http.MethodPut, http.MethodPatch:
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
	hosts, lengths := 0, 0
	pragmaNoCache, seenPragma := false, false
	for p := eol + 2; ; {
		key, v, next, end, ok := fieldLine(s, p)
		if !ok {
			return h, vals, false
		}
		if end {
			break
		}
		p = next
		switch key {
		case "Host":
			hosts++
			h.host = v
			continue
		case "Content-Length":
			// One plain decimal; lists, repeats, signs and spaces are
			// net/http's to accept or refuse.
			n, ok := parseLength(v)
			if lengths++; !ok || lengths > 1 {
				return h, vals, false
			}
			h.length = n
		case "Transfer-Encoding", "Upgrade", "Expect", "Http2-Settings":
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
		vals = addField(hdr, key, v, vals)
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

// fieldLine reads the field line at s[p:]: its canonical name, its value
// without surrounding whitespace, and where the next line starts. end is
// true at the empty line that ends the head; ok is false for a line
// outside the strict subset (no colon, a name that is not a token - which
// includes a folded line -, a control character in the value).
func fieldLine(s string, p int) (key, value string, next int, end, ok bool) {
	e := strings.Index(s[p:], "\r\n")
	if e < 0 {
		return "", "", 0, false, false
	}
	if e == 0 {
		return "", "", p + 2, true, true
	}
	line := s[p : p+e]
	colon := strings.IndexByte(line, ':')
	if colon <= 0 || !validToken(line[:colon]) {
		return "", "", 0, false, false
	}
	v := trimOWS(line[colon+1:])
	if !validFieldValue(v) {
		return "", "", 0, false, false
	}
	return http.CanonicalHeaderKey(line[:colon]), v, p + e + 2, false, true
}

// addField appends v to hdr[key]; a first value gets a one-value slice
// carved from vals (one backing array for the whole head).
func addField(hdr http.Header, key, v string, vals []string) []string {
	if old, dup := hdr[key]; dup {
		hdr[key] = append(old[:len(old):len(old)], v)
		return vals
	}
	vals = append(vals, v)
	n := len(vals)
	hdr[key] = vals[n-1 : n : n]
	return vals
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

// PeekHead waits until br holds a complete head (request or response)
// and returns its length without consuming it; 0 means the head does not
// fit in br's buffer or has a bare LF: net/http's to read.
func PeekHead(br *bufio.Reader) (int, error) {
	if _, err := br.Peek(1); err != nil {
		return 0, err
	}
	for {
		buf, _ := br.Peek(br.Buffered())
		if e := headEnd(buf); e != 0 {
			return max(e, 0), nil
		}
		if br.Buffered() >= br.Size() {
			return 0, nil
		}
		if _, err := br.Peek(br.Buffered() + 1); err != nil {
			return 0, err
		}
	}
}

// bothFramings reports whether a request head has a Content-Length and a
// Transfer-Encoding field (names compared case-insensitively).
func bothFramings(head []byte) bool {
	var cl, te bool
	for line := range strings.SplitSeq(string(head), "\n") {
		name, _, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch {
		case len(name) == len("content-length") && equalFold(name, "content-length"):
			cl = true
		case len(name) == len("transfer-encoding") && equalFold(name, "transfer-encoding"):
			te = true
		}
	}
	return cl && te
}
