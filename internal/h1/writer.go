package h1

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// respWriter is the http.ResponseWriter of Server. A response of known
// length (the app's Content-Length, nearly always) goes straight into the
// connection's write buffer, head and body in one write when they fit; a
// body of unknown length is held until the handler returns (then it gets
// a Content-Length) or until it outgrows heldBody or is flushed (then it
// is sent chunked).
type respWriter struct {
	c          *conn
	hdr        http.Header
	head       bool // HEAD request
	closeAfter bool // Connection: close, then close

	status   int
	wrote    bool  // status decided
	headOut  bool  // head written to c.bw
	bodyOK   bool  // the status allows a body
	cl       int64 // declared Content-Length, -1: none
	n        int64 // body bytes accepted
	chunked  bool
	holding  bool // unknown length so far: body held in held
	held     []byte
	trailers []string
	snap     http.Header // the header at WriteHeader, while holding
	err      error
}

const heldBody = 4 << 10

func (w *respWriter) reset(c *conn, head, closeAfter bool) {
	clear(w.hdr)
	*w = respWriter{c: c, hdr: w.hdr, held: w.held[:0], trailers: w.trailers[:0], head: head,
		closeAfter: closeAfter, cl: -1}
}

func (w *respWriter) Header() http.Header { return w.hdr }

// SetReadDeadline and SetWriteDeadline serve http.ResponseController (the
// body's idle timeout, Body).
func (w *respWriter) SetReadDeadline(t time.Time) error  { return w.c.nc.SetReadDeadline(t) }
func (w *respWriter) SetWriteDeadline(t time.Time) error { return w.c.nc.SetWriteDeadline(t) }

func (w *respWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	if code < 100 || code > 999 {
		panic("h1: invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.writeInformational(code)
		return
	}
	w.status, w.wrote = code, true
	w.bodyOK = !w.head && code != http.StatusNoContent && code != http.StatusNotModified
	if v := w.hdr["Content-Length"]; len(v) > 0 {
		if n, ok := parseLength(v[0]); ok && len(v) == 1 {
			w.cl = n
		} else {
			delete(w.hdr, "Content-Length")
		}
	}
	for _, v := range w.hdr["Trailer"] {
		for tok := range strings.SplitSeq(v, ",") {
			if tok = http.CanonicalHeaderKey(trimOWS(tok)); tok != "" {
				w.trailers = append(w.trailers, tok)
			}
		}
	}
	switch {
	case !w.bodyOK || w.cl >= 0:
		w.writeHead(-1)
	case len(w.trailers) > 0:
		w.chunked = true
		w.writeHead(-1)
	default:
		// The head goes out later: as with net/http, it is the header as it
		// is now (fields set after WriteHeader, such as undeclared
		// trailers, must not turn into header fields).
		w.holding = true
		w.snap = w.hdr.Clone()
	}
}

// parseLength parses a Content-Length: digits only.
func parseLength(v string) (int64, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(v[i]-'0')
	}
	return n, true
}

func (w *respWriter) writeInformational(code int) {
	bw := w.c.bw
	bw.WriteString("HTTP/1.1 ")
	bw.WriteString(strconv.Itoa(code))
	bw.WriteByte(' ')
	bw.WriteString(http.StatusText(code))
	bw.WriteString("\r\n")
	w.writeFields(w.hdr, true)
	bw.WriteString("\r\n")
	if err := bw.Flush(); err != nil {
		w.err = err
	}
}

// writeHead writes the status line and fields; length >= 0 adds a
// Content-Length computed from a held body.
func (w *respWriter) writeHead(length int64) {
	bw := w.c.bw
	if w.status == http.StatusOK {
		bw.WriteString("HTTP/1.1 200 OK\r\n")
	} else {
		bw.WriteString("HTTP/1.1 ")
		bw.WriteString(strconv.Itoa(w.status))
		bw.WriteByte(' ')
		bw.WriteString(http.StatusText(w.status))
		bw.WriteString("\r\n")
	}
	hdr := w.hdr
	if w.snap != nil {
		hdr = w.snap
		delete(hdr, "Content-Length") // invalid or repeated: computed below
	}
	w.writeFields(hdr, w.status == http.StatusNoContent)
	if length >= 0 && w.bodyOK {
		bw.WriteString("Content-Length: ")
		bw.WriteString(strconv.FormatInt(length, 10))
		bw.WriteString("\r\n")
	}
	if w.chunked {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if _, ok := hdr["Date"]; !ok {
		bw.WriteString("Date: ")
		bw.WriteString(httpDate())
		bw.WriteString("\r\n")
	}
	if w.closeAfter || w.c.srv.closing.Load() {
		w.closeAfter = true
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
	w.headOut = true
}

// writeFields writes hdr's fields but the framing ones, which the writer
// owns; strip also drops Content-Length (1xx, 204).
func (w *respWriter) writeFields(hdr http.Header, strip bool) {
	bw := w.c.bw
	for k, vv := range hdr {
		switch k {
		case "Transfer-Encoding", "Connection", "Trailer":
			if k != "Trailer" || !w.chunked {
				continue
			}
		case "Content-Length":
			if strip {
				continue
			}
		}
		if !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			writeFieldValue(bw, v)
			bw.WriteString("\r\n")
		}
	}
}

// writeFieldValue writes v with CR and LF turned into spaces, so that no
// value can start a field or a response of its own.
func writeFieldValue(bw *bufio.Writer, v string) {
	for {
		i := strings.IndexAny(v, "\r\n")
		if i < 0 {
			bw.WriteString(v)
			return
		}
		bw.WriteString(v[:i])
		bw.WriteByte(' ')
		v = v[i+1:]
	}
}

func (w *respWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return 0, w.err
	}
	if !w.bodyOK {
		if w.head {
			return len(p), nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	if w.cl >= 0 && w.n+int64(len(p)) > w.cl {
		return 0, http.ErrContentLength
	}
	if w.holding {
		if len(w.held)+len(p) <= heldBody {
			w.held = append(w.held, p...)
			w.n += int64(len(p))
			return len(p), nil
		}
		w.startChunked()
		if w.err != nil {
			return 0, w.err
		}
	}
	w.n += int64(len(p))
	bw := w.c.bw
	if w.chunked {
		if len(p) == 0 {
			return 0, nil
		}
		bw.WriteString(strconv.FormatInt(int64(len(p)), 16))
		bw.WriteString("\r\n")
		bw.Write(p)
		_, err := bw.WriteString("\r\n")
		if err != nil {
			w.err = err
			return 0, err
		}
		return len(p), nil
	}
	n, err := bw.Write(p)
	if err != nil {
		w.err = err
	}
	return n, err
}

// startChunked gives up on a length: the head goes out with chunked
// framing, followed by what was held.
func (w *respWriter) startChunked() {
	w.holding, w.chunked = false, true
	w.writeHead(-1)
	if len(w.held) > 0 {
		bw := w.c.bw
		bw.WriteString(strconv.FormatInt(int64(len(w.held)), 16))
		bw.WriteString("\r\n")
		bw.Write(w.held)
		bw.WriteString("\r\n")
		w.held = w.held[:0]
	}
}

func (w *respWriter) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.holding {
		w.startChunked()
	}
	if w.err == nil {
		w.err = w.c.bw.Flush()
	}
}

// finish completes the response after the handler returned; false means
// the connection cannot carry another request.
func (w *respWriter) finish() bool {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	bw := w.c.bw
	switch {
	case w.holding:
		w.holding = false
		w.writeHead(int64(len(w.held)))
		bw.Write(w.held)
	case w.chunked:
		bw.WriteString("0\r\n")
		for _, k := range w.trailers {
			if !httpguts.ValidHeaderFieldName(k) {
				continue
			}
			for _, v := range w.hdr[k] {
				bw.WriteString(k)
				bw.WriteString(": ")
				writeFieldValue(bw, v)
				bw.WriteString("\r\n")
			}
		}
		bw.WriteString("\r\n")
	case w.bodyOK && w.cl >= 0 && w.n < w.cl:
		// The body fell short of its length: only closing tells the client.
		w.closeAfter = true
	}
	if w.err == nil {
		c := w.c
		c.cw.hold = !w.closeAfter && c.mayHold()
		w.err = bw.Flush()
		c.cw.hold = false
	}
	return w.err == nil && !w.closeAfter
}

// httpDate is the current time in HTTP's format, formatted once a second.
func httpDate() string {
	now := time.Now()
	sec := now.Unix()
	if d := cachedDate.Load(); d != nil && d.sec == sec {
		return d.s
	}
	d := &dateCache{sec: sec, s: now.UTC().Format(http.TimeFormat)}
	cachedDate.Store(d)
	return d.s
}

type dateCache struct {
	sec int64
	s   string
}

var cachedDate atomic.Pointer[dateCache]
