package h1

import (
	"net/http"
	"strings"
)

// ParseRespHead parses the app's response head s (through its empty line)
// straight into dst, the client's response fields, when it is the common
// kind: HTTP/1.1, a final status (200-599), one Content-Length, no
// Transfer-Encoding and no Connection field (so no fields listed in it and
// the connection stays reusable). ok false leaves dst empty and the
// response to http.ReadResponse. Values are substrings of s; one-value
// slices are carved from vals, which is returned for reuse.
func ParseRespHead(s string, dst http.Header, vals []string) (code int, length int64, _ []string, ok bool) {
	fail := func() (int, int64, []string, bool) {
		clear(dst)
		return 0, 0, vals, false
	}
	eol := strings.Index(s, "\r\n")
	if eol < 12 || !strings.HasPrefix(s, "HTTP/1.1 ") || eol > 12 && s[12] != ' ' {
		return fail()
	}
	for i := 9; i < 12; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return fail()
		}
		code = code*10 + int(c-'0')
	}
	if code < 200 || code > 599 || !validFieldValue(s[9:eol]) {
		return fail()
	}
	length = -1
	for p := eol + 2; ; {
		key, v, next, end, ok := fieldLine(s, p)
		if !ok {
			return fail()
		}
		if end {
			break
		}
		p = next
		switch key {
		case "Content-Length":
			n, ok := parseLength(v)
			if !ok || length >= 0 {
				return fail()
			}
			length = n
		case "Connection", "Transfer-Encoding", "Trailer", "Upgrade":
			return fail()
		}
		if !IsHopHeader(key) {
			vals = addField(dst, key, v, vals)
		}
	}
	if length < 0 {
		return fail()
	}
	return code, length, vals, true
}
