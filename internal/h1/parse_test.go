package h1

import (
	"bufio"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// FuzzParseHead checks Server's request parser against net/http's: any
// head it accepts, net/http's server must accept too (http.ReadRequest plus
// the server's own Host and field checks) and read the same method,
// target, URL, Host, fields and Connection: close. Heads it declines go to
// net/http, so declining is always safe; accepting something net/http
// would refuse is the bug this looks for.
func FuzzParseHead(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /p/q?x=1&y=%20 HTTP/1.1\r\nHost: h.default.localhost:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n",
		"HEAD /x? HTTP/1.1\r\nhost: a\r\nconnection: keep-alive, close\r\nX-A: 1\r\nx-a: 2\r\n\r\n",
		"DELETE //a//b HTTP/1.1\r\nHost: [::1]:80\r\nPragma: no-cache\r\n\r\n",
		"OPTIONS /%zz HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
		"GET / HTTP/1.1\nHost: a\n\n",
		"GET / HTTP/1.1\r\nHost: a b\r\nX: \x01\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX : y\r\nK-Network-Probe: queue\r\n\r\n",
		"GET /\xff HTTP/1.1\r\nHost: a\r\nX: \xff\t\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nPragma: x\r\nPragma: no-cache\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\n\r\n",
	} {
		f.Add(s)
	}
	for _, tc := range conformanceCases { // the smuggling shapes
		f.Add(tc.raw)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, ok := completeHead(in)
		if !ok {
			return
		}
		hdr := http.Header{}
		h, _, ok := parseHead(s, hdr, nil)
		if !ok {
			return
		}
		u, ok := setRequestURL(new(url.URL), h.target)
		if !ok {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(s)))
		if err != nil {
			t.Fatalf("accepted %q; net/http: %v", s, err)
		}
		// ReadRequest has moved Host out of the fields (and refused two).
		if !httpguts.ValidHostHeader(req.Host) {
			t.Fatalf("accepted %q; net/http's server refuses its Host %q", s, req.Host)
		}
		for k, vv := range req.Header {
			if !httpguts.ValidHeaderFieldName(k) {
				t.Fatalf("accepted %q; invalid field name %q", s, k)
			}
			for _, v := range vv {
				if !httpguts.ValidHeaderFieldValue(v) {
					t.Fatalf("accepted %q; invalid field value %q", s, v)
				}
			}
		}
		if req.ContentLength != h.length || len(req.TransferEncoding) > 0 {
			t.Fatalf("accepted %q with length %d; net/http reads a body of %d, %v", s, h.length, req.ContentLength, req.TransferEncoding)
		}
		if h.method != req.Method || h.target != req.RequestURI || h.host != req.Host || h.close != req.Close {
			t.Fatalf("%q: got %q %q %q close=%v, net/http %q %q %q close=%v", s,
				h.method, h.target, h.host, h.close, req.Method, req.RequestURI, req.Host, req.Close)
		}
		if !reflect.DeepEqual(u, req.URL) {
			t.Fatalf("%q: URL %#v, net/http %#v", s, u, req.URL)
		}
		if len(hdr) == 0 && len(req.Header) == 0 {
			return
		}
		if !reflect.DeepEqual(hdr, req.Header) {
			t.Fatalf("%q: fields %q, net/http %q", s, hdr, req.Header)
		}
	})
}

func TestParseHeadDeclines(t *testing.T) {
	for _, s := range []string{
		"PROPFIND / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1234567890123456789\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
		"GET / HTTP/1.0\r\nHost: a\r\n\r\n",
		"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET * HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n X: folded\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX Y: z\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: \x00\r\n\r\n",
		"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",
		"get / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
	} {
		if _, _, ok := parseHead(s, http.Header{}, nil); ok {
			t.Errorf("parseHead accepted %q", s)
		}
	}
	for in, want := range map[string]int{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET": 27,
		"GET / HTTP/1.1\r\nHost: a\r\n":        0,
		"GET / HTTP/1.1\nHost: a\n\n":          -1,
		"GET / HTTP/1.1\r\nHost: a\n\r\n":      -1,
	} {
		if got := headEnd([]byte(in)); got != want {
			t.Errorf("headEnd(%q) = %d, want %d", in, got, want)
		}
	}
}

// FuzzParseRespHead checks the fast client's response parser against
// http.ReadResponse: whatever it takes must read the same status, length
// and end-to-end fields, on a connection that stays reusable.
func FuzzParseRespHead(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\nDate: x\r\n\r\n",
		"HTTP/1.1 404\r\ncontent-length: 0\r\nx-a: 1\r\nX-A: 2\r\nKeep-Alive: t=1\r\n\r\n",
		"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n",
		"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n",
		"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: +1\r\nX: \xff\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, ok := completeHead(in)
		if !ok {
			return
		}
		dst := http.Header{}
		code, length, _, ok := ParseRespHead(s, dst, nil)
		if !ok {
			if len(dst) != 0 {
				t.Fatalf("%q declined but left fields %q", s, dst)
			}
			return
		}
		resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(s)), &http.Request{Method: "GET"})
		if err != nil {
			t.Fatalf("accepted %q; net/http: %v", s, err)
		}
		if code == http.StatusNoContent || code == http.StatusNotModified {
			length = resp.ContentLength // bodyless whatever the field says (copySimple reads none)
		}
		if resp.StatusCode != code || resp.ContentLength != length || resp.Close || len(resp.TransferEncoding) > 0 {
			t.Fatalf("%q: %d len=%d; net/http %d len=%d close=%v te=%v", s, code, length,
				resp.StatusCode, resp.ContentLength, resp.Close, resp.TransferEncoding)
		}
		want := http.Header{}
		for k, vv := range resp.Header {
			if !IsHopHeader(k) {
				want[k] = vv
			}
		}
		if len(want) == 0 && len(dst) == 0 {
			return
		}
		if !reflect.DeepEqual(dst, want) {
			t.Fatalf("%q: fields %q, net/http %q", s, dst, want)
		}
	})
}

// completeHead is in's head through its empty line, if it has one.
func completeHead(in string) (string, bool) {
	end := headEnd([]byte(in))
	return in[:max(end, 0)], end > 0
}
