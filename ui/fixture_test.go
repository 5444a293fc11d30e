package ui

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/store"
)

type fixture struct {
	t  *testing.T
	st *store.Store
	h  http.Handler
}

func newFixture(t *testing.T, mod func(*Options)) *fixture {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	o := Options{Store: st, Config: func() *api.Config { return api.DefaultConfig("localhost") }}
	if mod != nil {
		mod(&o)
	}
	return &fixture{t: t, st: st, h: New(o)}
}

func (f *fixture) do(method, path, body string) *httptest.ResponseRecorder {
	f.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

// errorOf decodes an error answer, failing when it is not {"error": "..."}.
func errorOf(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type = %q, want JSON", ct)
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("error body %q is not JSON: %v", rec.Body, err)
	}
	msg, ok := m["error"].(string)
	if !ok || len(m) != 1 {
		t.Fatalf("error body = %q, want exactly {\"error\": string}", rec.Body)
	}
	return msg
}
