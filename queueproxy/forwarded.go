package queueproxy

import (
	"net/http"
	"net/netip"
	"strings"
)

// shimForwarded sets a Forwarded header (RFC 7239) from the X-Forwarded-*
// ones, as Knative's queue-proxy does (ForwardedShimHandler), so that an app
// that reads only the standard header learns the client and the scheme.
// The first X-Forwarded-For node gets the host and proto; each later node
// gets an element of its own. A Forwarded header already there is left
// alone. Differences from Knative, on purpose: every X-Forwarded-For field
// line counts (Knative reads only the first), and values that are not
// tokens are quoted, as RFC 7239 §4 requires (Knative writes
// `host=example.com:8080` and brackets any node with a colon, an IPv4
// address with a port too).
func shimForwarded(h http.Header) {
	if _, ok := h["Forwarded"]; ok {
		return
	}
	xff, xfh, xfp := h["X-Forwarded-For"], first(h["X-Forwarded-Host"]), first(h["X-Forwarded-Proto"])
	if len(xff) == 0 && xfh == "" && xfp == "" {
		return
	}
	if v := forwardedValue(xff, xfh, xfp); v != "" { // "" for X-Forwarded-For: ,,
		h["Forwarded"] = []string{v}
	}
}

func first(vv []string) string {
	if len(vv) == 0 {
		return ""
	}
	return vv[0]
}

// forwardedValue builds the Forwarded value from the X-Forwarded-For field
// lines and the host and proto.
func forwardedValue(xff []string, xfh, xfp string) string {
	var b strings.Builder
	n := len(xfh) + len(xfp) + 16
	for _, v := range xff {
		n += len(v) + 8*(strings.Count(v, ",")+1)
	}
	b.Grow(n)
	nodes := 0
	pair := func(key, val string) {
		if b.Len() > 0 {
			b.WriteByte(';')
		}
		b.WriteString(key)
		b.WriteByte('=')
		writeValue(&b, val)
	}
	for _, line := range xff {
		for node := range strings.SplitSeq(line, ",") {
			node = strings.TrimSpace(node)
			if node == "" {
				continue
			}
			if nodes > 0 {
				b.WriteString(", ")
			}
			b.WriteString("for=")
			writeNode(&b, node)
			if nodes == 0 {
				if xfh != "" {
					pair("host", xfh)
				}
				if xfp != "" {
					pair("proto", xfp)
				}
			}
			nodes++
		}
	}
	if nodes == 0 {
		if xfh != "" {
			pair("host", xfh)
		}
		if xfp != "" {
			pair("proto", xfp)
		}
	}
	return b.String()
}

// writeNode writes an X-Forwarded-For node as a for= value: an IPv6
// address in quoted brackets, any other node that is no token (an address
// with a port, say) quoted, the rest as it is.
func writeNode(b *strings.Builder, node string) {
	if a, err := netip.ParseAddr(node); err == nil && a.Is6() {
		b.WriteString(`"[`)
		b.WriteString(node)
		b.WriteString(`]"`)
		return
	}
	writeValue(b, node)
}

// writeValue writes a token as it is and anything else as a quoted string.
func writeValue(b *strings.Builder, v string) {
	if isToken(v) {
		b.WriteString(v)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
}

// isToken: RFC 9110 token characters only.
func isToken(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
