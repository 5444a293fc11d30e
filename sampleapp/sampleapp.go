// Package sampleapp is the bundled demo and test app (`gantry sample-app`).
//
// It answers "Hello {TARGET}!" followed by the revision name and takes query
// parameters that shape the response, so tests and demos can produce any
// latency, status code, CPU cost or body size on demand. The same port also
// serves h2c, gRPC (health and reflection) and a WebSocket echo on /ws.
package sampleapp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config is the app's configuration, read from the environment as Knative does.
type Config struct {
	Port      string  // PORT
	Target    string  // TARGET, default "World"
	Revision  string  // K_REVISION
	ErrorRate float64 // ERROR_RATE: fraction of requests answered with 500
}

// ConfigFromEnv reads Config with getenv and validates it.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{Port: getenv("PORT"), Target: getenv("TARGET"), Revision: getenv("K_REVISION")}
	if c.Port == "" {
		c.Port = "8080"
	}
	if c.Target == "" {
		c.Target = "World"
	}
	if s := getenv("ERROR_RATE"); s != "" {
		r, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(r) || r < 0 || r > 1 {
			return c, fmt.Errorf("sample-app: ERROR_RATE=%q: want a number in [0, 1]", s)
		}
		c.ErrorRate = r
	}
	return c, nil
}

// Handler returns the app's HTTP handler.
func Handler(c Config) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/ws", echoWS)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// A request body is read whole first, as an app taking uploads
		// would; its size comes back in X-Request-Bytes.
		if r.Body != nil && r.Body != http.NoBody {
			n, err := io.Copy(io.Discard, r.Body)
			if err != nil {
				http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
				return
			}
			w.Header().Set("X-Request-Bytes", strconv.FormatInt(n, 10))
			// The trailers that came after a chunked body, "Name=value"
			// sorted: what a proxy in front forwarded of them.
			if len(r.Trailer) > 0 {
				var tr []string
				for k, vv := range r.Trailer {
					for _, v := range vv {
						tr = append(tr, k+"="+v)
					}
				}
				sort.Strings(tr)
				w.Header().Set("X-Request-Trailers", strings.Join(tr, ", "))
			}
		}
		q := r.URL.Query()
		if s := q.Get("sleep"); s != "" {
			ms, err := strconv.Atoi(s)
			if err != nil || ms < 0 {
				http.Error(w, "sleep: want milliseconds >= 0", http.StatusBadRequest)
				return
			}
			select {
			case <-time.After(time.Duration(ms) * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
		if s := q.Get("cpu"); s != "" {
			ms, err := strconv.Atoi(s)
			if err != nil || ms < 0 {
				http.Error(w, "cpu: want milliseconds >= 0", http.StatusBadRequest)
				return
			}
			burn(time.Duration(ms) * time.Millisecond)
		}
		code := http.StatusOK
		if s := q.Get("status"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 100 || n > 599 {
				http.Error(w, "status: want an HTTP status code 100-599", http.StatusBadRequest)
				return
			}
			code = n
		} else if c.ErrorRate > 0 && rand.Float64() < c.ErrorRate {
			code = http.StatusInternalServerError
		}
		size := -1
		if s := q.Get("bytes"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 || n > 1<<30 {
				http.Error(w, "bytes: want a size 0-1073741824", http.StatusBadRequest)
				return
			}
			size = n
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if c.Revision != "" {
			w.Header().Set("X-Revision", c.Revision)
		}
		if size >= 0 {
			w.Header().Set("Content-Length", strconv.Itoa(size))
			w.WriteHeader(code)
			writeFiller(w, size)
			return
		}
		w.WriteHeader(code)
		fmt.Fprintf(w, "Hello %s! (revision %s)\n", c.Target, c.Revision)
	})
	return mux
}

// burn spins the CPU for d of wall time.
func burn(d time.Duration) {
	end := time.Now().Add(d)
	x := uint64(1)
	for time.Now().Before(end) {
		for i := 0; i < 10000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	_ = x
}

var filler = func() []byte {
	b := make([]byte, 32<<10)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}()

func writeFiller(w io.Writer, n int) {
	for n > 0 {
		k := min(n, len(filler))
		if _, err := w.Write(filler[:k]); err != nil {
			return
		}
		n -= k
	}
}

// Main serves the app until ctx ends, then shuts down gracefully.
func Main(ctx context.Context, getenv func(string) string) error {
	c, err := ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("", c.Port))
	if err != nil {
		return fmt.Errorf("sample-app: listen on PORT=%s: %w", c.Port, err)
	}
	g := grpcServer(c.Revision)
	defer g.Stop()
	// One port speaks HTTP/1.1, prior-knowledge HTTP/2 and gRPC, so the app
	// serves whether its container port is named http1 or h2c.
	srv := &http.Server{Handler: withGRPC(g, Handler(c)), ReadHeaderTimeout: 10 * time.Second}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	slog.Info("sample-app listening", "addr", ln.Addr().String(), "revision", c.Revision)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("sample-app: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("sample-app: shutdown: %w", err)
	}
	return nil
}
