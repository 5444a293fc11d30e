package h1

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The conformance set: raw requests, the smuggling shapes among them, sent
// through a proxy built from this engine (Server in front, ClientConn
// behind, as in the gateway and the queue-proxy) to a backend that parses
// what arrives with net/http. Whatever the client sends, the backend must
// get well-formed requests with one framing each, and exactly those the
// client was answered for: no request hidden in another's body.

// backendReq is what the backend parsed.
type backendReq struct {
	method, path, framing, body string
}

type recorder struct {
	mu      sync.Mutex
	reqs    []backendReq
	aborted []backendReq // bodies cut short by the proxy
	errs    []string     // bytes the backend could not parse: a desync
}

func (rec *recorder) take() (reqs, aborted []backendReq, errs []string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	reqs, aborted, errs = rec.reqs, rec.aborted, rec.errs
	rec.reqs, rec.aborted, rec.errs = nil, nil, nil
	return reqs, aborted, errs
}

// startBackend answers every request "ok" after reading its body.
func startBackend(t testing.TB, rec *recorder) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					r, err := http.ReadRequest(br)
					if err != nil {
						if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
							rec.mu.Lock()
							rec.errs = append(rec.errs, err.Error())
							rec.mu.Unlock()
						}
						return
					}
					body, err := io.ReadAll(r.Body)
					framing := strings.Join(r.TransferEncoding, ",")
					if r.ContentLength >= 0 {
						framing = "cl=" + strconv.FormatInt(r.ContentLength, 10)
					}
					if len(r.Header["Content-Length"]) > 0 && len(r.TransferEncoding) > 0 {
						framing = "both"
					}
					rec.mu.Lock()
					switch {
					case errors.Is(err, io.ErrUnexpectedEOF):
						// The proxy gave up on a body the client got wrong:
						// an aborted request, not a desync.
						rec.aborted = append(rec.aborted, backendReq{r.Method, r.URL.Path, framing, string(body)})
					case err != nil:
						rec.errs = append(rec.errs, "body: "+err.Error())
					default:
						rec.reqs = append(rec.reqs, backendReq{r.Method, r.URL.Path, framing, string(body)})
					}
					rec.mu.Unlock()
					if err != nil {
						return
					}
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// miniProxy forwards with the engine's client, as the proxies do.
func miniProxy(backend string, l Limits) http.Handler {
	pool := NewPool(8)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code := max(l.CheckHead(r), l.CheckBody(r)); code != 0 {
			w.WriteHeader(code)
			return
		}
		if b := NewBody(w, r, l); b != nil {
			r.Body = b
		}
		ac := pool.Get()
		if ac == nil {
			c, err := net.Dial("tcp", backend)
			if err != nil {
				w.WriteHeader(http.StatusBadGateway)
				return
			}
			ac = NewClientConn(c)
		}
		ac.Out = AppendRequestHead(ac.Out[:0], r, "", true)
		bs, _, err := ac.SendRequest(r)
		var resp *http.Response
		if err == nil {
			resp, err = http.ReadResponse(ac.BR, r)
			if err != nil && bs != nil {
				bs.Finish()
				if berr := bs.Err(); errors.Is(berr, ErrClientBody) {
					err = berr
				}
			}
		}
		if err != nil {
			ac.Conn.Close()
			if errors.Is(err, ErrClientBody) {
				if code := ClientStatus(err); code != StatusClientClosed {
					w.Header().Set("Connection", "close")
					w.WriteHeader(code)
				}
				return
			}
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
		resp.Body.Close()
		if bs == nil || bs.Finish() {
			pool.Put(ac)
		} else {
			ac.Conn.Close()
		}
	})
}

func startProxy(t testing.TB, backend string) string {
	l := DefaultLimits()
	l.MaxBodyBytes = 1 << 20
	h := miniProxy(backend, l)
	fb := &http.Server{Handler: h}
	l.Apply(fb)
	s := NewServer(h, fb, slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return ln.Addr().String()
}

// exchange sends raw and reads every response until the proxy closes or
// goes quiet; it returns their status codes.
func exchange(t testing.TB, addr, raw string) []int {
	return exchangeQuiet(t, addr, raw, 300*time.Millisecond)
}

func exchangeQuiet(t testing.TB, addr, raw string, quiet time.Duration) []int {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go io.WriteString(c, raw)
	br := bufio.NewReader(c)
	var codes []int
	for {
		c.SetReadDeadline(time.Now().Add(quiet))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return codes
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
}

const smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

// conformanceCases: name, raw bytes, the statuses the client gets and the
// requests the backend gets (method path framing body).
var conformanceCases = []struct {
	name  string
	raw   string
	codes []int
	reqs  []backendReq
}{
	{"plain GET", "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", []int{200}, []backendReq{{"GET", "/a", "cl=0", ""}}},
	{"pipelined", "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n", []int{200, 200},
		[]backendReq{{"GET", "/a", "cl=0", ""}, {"GET", "/b", "cl=0", ""}}},
	{"POST with a length", "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", []int{200},
		[]backendReq{{"POST", "/p", "cl=5", "hello"}}},
	{"chunked POST", "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", []int{200},
		[]backendReq{{"POST", "/p", "chunked", "hello"}}},
	// CL+TE is refused: a front proxy going by the length would see
	// another request than the one read here.
	{"CL and TE", "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, []int{400}, nil},
	{"TE and CL", "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\ncontent-length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n", []int{400}, nil},
	{"two different lengths", "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabc" + smuggled, []int{400}, nil},
	{"two lengths in one field", "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 40\r\n\r\nabc" + smuggled, []int{400}, nil},
	{"TE xchunked", "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", []int{501}, nil},
	{"TE chunked, identity", "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", []int{501}, nil},
	{"TE with space before colon", "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + smuggled, []int{400}, nil},
	{"TE twice", "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", nil, nil},
	{"TE folded", "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" + smuggled, nil, nil},
	{"obs-fold", "GET /f HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n", nil, nil},
	{"bare LF", "GET /lf HTTP/1.1\nHost: x\n\n", nil, nil},
	{"bare LF in chunk line", "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n" + smuggled, []int{400}, nil},
	{"NUL in a value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", []int{400}, nil},
	{"NUL in the target", "GET /a\x00 HTTP/1.1\r\nHost: x\r\n\r\n", []int{400}, nil},
	{"two Hosts", "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", []int{400}, nil},
	{"no Host", "GET / HTTP/1.1\r\n\r\n", []int{400}, nil},
	{"chunk size overflow", "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\nhello\r\n0\r\n\r\n" + smuggled, []int{400}, nil},
	{"chunk size with a sign", "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n" + smuggled, []int{400}, nil},
	{"length with a sign", "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc" + smuggled, []int{400}, nil},
	{"header over 60 KiB", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 61<<10) + "\r\n\r\n", []int{431}, nil},
}

func TestConformance(t *testing.T) {
	rec := &recorder{}
	addr := startProxy(t, startBackend(t, rec))
	for _, tc := range conformanceCases {
		t.Run(tc.name, func(t *testing.T) {
			codes := exchange(t, addr, tc.raw)
			time.Sleep(20 * time.Millisecond) // the backend's side of the last request
			reqs, aborted, errs := rec.take()
			t.Logf("codes %v backend %q aborted %q errs %q", codes, reqs, aborted, errs)
			if len(aborted) > 0 && (len(codes) == 0 || codes[len(codes)-1] < 400 || codes[len(codes)-1] > 499) {
				t.Errorf("the backend saw an aborted request but the client got %v, want a 4xx last", codes)
			}
			if len(errs) > 0 {
				t.Errorf("the backend could not parse what it got: %q", errs)
			}
			for _, r := range reqs {
				if r.framing == "both" {
					t.Errorf("backend got a request with two framings: %+v", r)
				}
			}
			ok := 0
			for _, c := range codes {
				if c == 200 {
					ok++
				}
			}
			if ok != len(reqs) {
				t.Errorf("client got %d answers from the backend (%v), the backend saw %d requests %q", ok, codes, len(reqs), reqs)
			}
			if tc.codes != nil && !equalInts(codes, tc.codes) {
				t.Errorf("codes %v, want %v", codes, tc.codes)
			}
			if tc.reqs != nil && !equalReqs(reqs, tc.reqs) {
				t.Errorf("backend got %q, want %q", reqs, tc.reqs)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalReqs(a, b []backendReq) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FuzzProxy sends arbitrary bytes through the conformance proxy: the
// backend must only ever get well-formed requests with one framing, and a
// request it saw cut short must have cost the client a 4xx (or its leaving).
func FuzzProxy(f *testing.F) {
	for _, tc := range conformanceCases {
		f.Add(tc.raw)
	}
	rec := &recorder{}
	addr := startProxy(f, startBackend(f, rec))
	f.Fuzz(func(t *testing.T, raw string) {
		codes := exchangeQuiet(t, addr, raw, 50*time.Millisecond)
		time.Sleep(5 * time.Millisecond)
		reqs, aborted, errs := rec.take()
		if len(errs) > 0 {
			t.Fatalf("%q: the backend could not parse what it got: %q", raw, errs)
		}
		ok := 0
		for _, c := range codes {
			if c == 200 {
				ok++
			}
		}
		for _, r := range reqs {
			if r.framing == "both" {
				t.Fatalf("%q: backend got two framings: %+v", raw, r)
			}
		}
		// The client may leave (the quiet period) before an answer it was
		// due; it can never get more answers than the backend served.
		if ok > len(reqs) {
			t.Fatalf("%q: client got %v, backend saw %q", raw, codes, reqs)
		}
		if len(aborted) > 0 && len(codes) > 0 && codes[len(codes)-1]/100 != 4 {
			t.Fatalf("%q: aborted %q, client got %v", raw, aborted, codes)
		}
	})
}
