package queueproxy

import (
	"net/http"
	"testing"
)

func TestShimForwarded(t *testing.T) {
	cases := []struct {
		name          string
		xff           []string
		xfh, xfp, fwd string
		want          string // "": no Forwarded header
	}{
		{"one node", []string{"127.0.0.1"}, "h", "p", "", "for=127.0.0.1;host=h;proto=p"},
		{"more nodes, IPv6 in quoted brackets", []string{"127.0.0.1, ::1"}, "h", "p", "", `for=127.0.0.1;host=h;proto=p, for="[::1]"`},
		{"no host, no proto", []string{"127.0.0.1, ::1"}, "", "", "", `for=127.0.0.1, for="[::1]"`},
		{"no host", []string{"127.0.0.1, ::1"}, "", "https", "", `for=127.0.0.1;proto=https, for="[::1]"`},
		{"only host", nil, "h", "", "", "host=h"},
		{"only proto", nil, "", "p", "", "proto=p"},
		{"host and proto", nil, "h", "p", "", "host=h;proto=p"},
		{"every field line counts", []string{"203.0.113.7", "10.0.0.1"}, "", "http", "", "for=203.0.113.7;proto=http, for=10.0.0.1"},
		{"a host with a port is quoted", []string{"203.0.113.7"}, "example.com:8080", "http", "", `for=203.0.113.7;host="example.com:8080";proto=http`},
		{"an IPv4 node with a port is quoted, not bracketed", []string{"203.0.113.7:4711"}, "", "", "", `for="203.0.113.7:4711"`},
		{"a bracketed IPv6 node with a port", []string{"[2001:db8::1]:4711"}, "", "", "", `for="[2001:db8::1]:4711"`},
		{"quotes in a value are escaped", nil, `a"b`, "", "", `host="a\"b"`},
		{"obfuscated node names are tokens", []string{"_hidden, unknown"}, "", "", "", "for=_hidden, for=unknown"},
		{"empty nodes are skipped", []string{",,,"}, "", "", "", ""},
		{"empty nodes, a proto", []string{" , "}, "", "http", "", "proto=http"},
		{"a Forwarded already there is left alone", []string{"127.0.0.1"}, "h", "p", "for=a, for=b", "for=a, for=b"},
		{"no X-Forwarded-* header", nil, "", "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			if c.xff != nil {
				h["X-Forwarded-For"] = c.xff
			}
			if c.xfh != "" {
				h.Set("X-Forwarded-Host", c.xfh)
			}
			if c.xfp != "" {
				h.Set("X-Forwarded-Proto", c.xfp)
			}
			if c.fwd != "" {
				h.Set("Forwarded", c.fwd)
			}
			shimForwarded(h)
			got, ok := h["Forwarded"]
			switch {
			case c.want == "" && ok:
				t.Errorf("Forwarded = %q, want none", got)
			case c.want != "" && (len(got) != 1 || got[0] != c.want):
				t.Errorf("Forwarded = %q, want %q", got, c.want)
			}
		})
	}
}

func BenchmarkShimForwarded(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		h := http.Header{"X-Forwarded-For": {"203.0.113.7"}, "X-Forwarded-Host": {"hello.default.localhost"}, "X-Forwarded-Proto": {"http"}}
		shimForwarded(h)
	}
}
