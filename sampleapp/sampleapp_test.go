package sampleapp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func get(h http.Handler, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec
}

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{"defaults", nil, Config{Port: "8080", Target: "World"}, ""},
		{"everything set", map[string]string{"PORT": "9000", "TARGET": "Gantry", "K_REVISION": "hello-00001", "ERROR_RATE": "0.25"},
			Config{Port: "9000", Target: "Gantry", Revision: "hello-00001", ErrorRate: 0.25}, ""},
		{"error rate 0", map[string]string{"ERROR_RATE": "0"}, Config{Port: "8080", Target: "World"}, ""},
		{"error rate 1", map[string]string{"ERROR_RATE": "1"}, Config{Port: "8080", Target: "World", ErrorRate: 1}, ""},
		{"error rate not a number", map[string]string{"ERROR_RATE": "lots"}, Config{}, `sample-app: ERROR_RATE="lots": want a number in [0, 1]`},
		{"error rate negative", map[string]string{"ERROR_RATE": "-0.1"}, Config{}, `ERROR_RATE="-0.1"`},
		{"error rate above 1", map[string]string{"ERROR_RATE": "1.5"}, Config{}, `ERROR_RATE="1.5"`},
		{"error rate infinite", map[string]string{"ERROR_RATE": "+Inf"}, Config{}, `ERROR_RATE="+Inf"`},
		{"error rate as a percent", map[string]string{"ERROR_RATE": "10%"}, Config{}, `ERROR_RATE="10%"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConfigFromEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHello(t *testing.T) {
	h := Handler(Config{Target: "Gantry", Revision: "hello-00001"})
	rec := get(h, "/")
	if rec.Code != http.StatusOK {
		t.Errorf("code = %d", rec.Code)
	}
	if got, want := rec.Body.String(), "Hello Gantry! (revision hello-00001)\n"; got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
	if rec.Header().Get("X-Revision") != "hello-00001" || rec.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("headers = %v", rec.Header())
	}
	// Any path answers the same.
	if rec := get(h, "/some/path"); !strings.HasPrefix(rec.Body.String(), "Hello Gantry!") {
		t.Errorf("/some/path = %q", rec.Body)
	}
	// No revision: no X-Revision header.
	if rec := get(Handler(Config{Target: "World"}), "/"); rec.Header().Get("X-Revision") != "" {
		t.Errorf("X-Revision = %q with no revision", rec.Header().Get("X-Revision"))
	}
}

func TestHealthz(t *testing.T) {
	rec := get(Handler(Config{Target: "World", ErrorRate: 1}), "/healthz")
	if rec.Code != http.StatusOK || rec.Body.String() != "ok\n" {
		t.Errorf("healthz = %d %q (the error rate must not apply)", rec.Code, rec.Body)
	}
}

func TestStatusParameter(t *testing.T) {
	h := Handler(Config{Target: "World"})
	for _, code := range []int{200, 201, 404, 418, 500, 503, 599} {
		rec := get(h, "/?status="+strconv.Itoa(code))
		if rec.Code != code {
			t.Errorf("status=%d answered %d", code, rec.Code)
		}
		if !strings.HasPrefix(rec.Body.String(), "Hello World!") {
			t.Errorf("status=%d body %q", code, rec.Body)
		}
	}
}

func TestBytesParameter(t *testing.T) {
	h := Handler(Config{Target: "World"})
	for _, n := range []int{0, 1, 26, 32 << 10, 32<<10 + 1, 100000} {
		rec := get(h, "/?bytes="+strconv.Itoa(n))
		if rec.Code != http.StatusOK {
			t.Errorf("bytes=%d: code %d", n, rec.Code)
		}
		if rec.Body.Len() != n {
			t.Errorf("bytes=%d: body of %d bytes", n, rec.Body.Len())
		}
		if rec.Header().Get("Content-Length") != strconv.Itoa(n) {
			t.Errorf("bytes=%d: Content-Length %q", n, rec.Header().Get("Content-Length"))
		}
		body := rec.Body.Bytes()
		for i, b := range body {
			if want := byte('a' + (i%(32<<10))%26); b != want {
				t.Errorf("bytes=%d: byte %d = %q, want %q", n, i, b, want)
				break
			}
		}
	}
	// bytes combines with status.
	if rec := get(h, "/?bytes=10&status=503"); rec.Code != 503 || rec.Body.Len() != 10 {
		t.Errorf("bytes=10&status=503: %d, %d bytes", rec.Code, rec.Body.Len())
	}
}

func TestSleepAndCPUParameters(t *testing.T) {
	h := Handler(Config{Target: "World"})
	for _, q := range []string{"sleep=0", "sleep=5", "cpu=0", "cpu=5", "sleep=1&cpu=1&status=202&bytes=3"} {
		start := time.Now()
		rec := get(h, "/?"+q)
		if rec.Code/100 != 2 {
			t.Errorf("%s: code %d %q", q, rec.Code, rec.Body)
		}
		// Lower bounds only: a loaded machine can only make these slower.
		if q == "sleep=5" || q == "cpu=5" {
			if d := time.Since(start); d < 5*time.Millisecond {
				t.Errorf("%s returned after %v", q, d)
			}
		}
	}
}

func TestSleepEndsWithTheRequest(t *testing.T) {
	h := Handler(Config{Target: "World"})
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest(http.MethodGet, "/?sleep=600000", nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() { h.ServeHTTP(rec, req); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("a 10-minute sleep did not end when the client went away")
	}
	if rec.Body.Len() != 0 {
		t.Errorf("wrote %q to a client that went away", rec.Body)
	}
}

func TestBadParameters(t *testing.T) {
	tests := []struct {
		query, wantMsg string
	}{
		{"sleep=-1", "sleep: want milliseconds >= 0"},
		{"sleep=soon", "sleep: want milliseconds >= 0"},
		{"sleep=1.5", "sleep: want milliseconds >= 0"},
		{"cpu=-1", "cpu: want milliseconds >= 0"},
		{"cpu=lots", "cpu: want milliseconds >= 0"},
		{"status=99", "status: want an HTTP status code 100-599"},
		{"status=600", "status: want an HTTP status code 100-599"},
		{"status=ok", "status: want an HTTP status code 100-599"},
		{"bytes=-1", "bytes: want a size 0-1073741824"},
		{"bytes=1073741825", "bytes: want a size 0-1073741824"},
		{"bytes=1k", "bytes: want a size 0-1073741824"},
		{"status=200&bytes=-5", "bytes: want a size"},
	}
	h := Handler(Config{Target: "World", ErrorRate: 1})
	for _, tc := range tests {
		rec := get(h, "/?"+tc.query)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: code %d, want 400", tc.query, rec.Code)
		}
		if !strings.Contains(rec.Body.String(), tc.wantMsg) {
			t.Errorf("%s: body %q, want %q", tc.query, rec.Body, tc.wantMsg)
		}
	}
}

func TestErrorRate(t *testing.T) {
	always := Handler(Config{Target: "World", ErrorRate: 1})
	never := Handler(Config{Target: "World", ErrorRate: 0})
	for i := range 200 {
		if rec := get(always, "/"); rec.Code != http.StatusInternalServerError {
			t.Fatalf("ERROR_RATE=1: request %d answered %d", i, rec.Code)
		}
		if rec := get(never, "/"); rec.Code != http.StatusOK {
			t.Fatalf("ERROR_RATE=0: request %d answered %d", i, rec.Code)
		}
	}
	// An explicit status wins over the error rate.
	if rec := get(always, "/?status=200"); rec.Code != http.StatusOK {
		t.Errorf("ERROR_RATE=1 with status=200: %d", rec.Code)
	}
	// Bodies are still served with the error.
	if rec := get(always, "/?bytes=5"); rec.Code != http.StatusInternalServerError || rec.Body.Len() != 5 {
		t.Errorf("ERROR_RATE=1 with bytes=5: %d, %d bytes", rec.Code, rec.Body.Len())
	}
}

func TestMainRefusesBadConfig(t *testing.T) {
	tests := []struct {
		env     map[string]string
		wantErr string
	}{
		{map[string]string{"ERROR_RATE": "2"}, "ERROR_RATE"},
		{map[string]string{"PORT": "not-a-port"}, "listen on PORT=not-a-port"},
	}
	for _, tc := range tests {
		err := Main(context.Background(), func(k string) string { return tc.env[k] })
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("Main with %v: err = %v, want it to contain %q", tc.env, err, tc.wantErr)
		}
	}
}

func TestMainServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// PORT=0: any free port. Main returns nil on a clean shutdown.
	go func() { done <- Main(ctx, func(k string) string { return map[string]string{"PORT": "0"}[k] }) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Main = %v, want nil after cancel", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Main did not return after cancel")
	}
}

func TestRequestBodyRead(t *testing.T) {
	h := Handler(Config{Target: "World"})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("x", 4096))))
	if rec.Code != 200 || rec.Header().Get("X-Request-Bytes") != "4096" {
		t.Errorf("POST: %d, X-Request-Bytes %q", rec.Code, rec.Header().Get("X-Request-Bytes"))
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if _, ok := rec.Header()["X-Request-Bytes"]; ok {
		t.Error("GET without a body got X-Request-Bytes")
	}
}

func TestRequestTrailersShown(t *testing.T) {
	h := Handler(Config{Target: "World"})
	req := httptest.NewRequest("POST", "/", strings.NewReader("hello"))
	req.Trailer = http.Header{"X-Sum": {"abc"}, "X-B": {"2", "1"}}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if got, want := rec.Header().Get("X-Request-Trailers"), "X-B=1, X-B=2, X-Sum=abc"; got != want {
		t.Errorf("X-Request-Trailers %q, want %q", got, want)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/", strings.NewReader("hello")))
	if _, ok := rec.Header()["X-Request-Trailers"]; ok {
		t.Error("a body without trailers got X-Request-Trailers")
	}
}
