package ui

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCheckAddr(t *testing.T) {
	for _, c := range []struct {
		addr, token string
		ok          bool
	}{
		{"127.0.0.1:8090", "", true},
		{"[::1]:8090", "", true},
		{"localhost:8090", "", true},
		{"127.0.0.2:0", "", true},
		{"0.0.0.0:8090", "", false},
		{":8090", "", false},
		{"192.168.1.5:8090", "", false},
		{"[::]:8090", "", false},
		{"example.com:8090", "", false},
		{"0.0.0.0:8090", "s3cret", true},
		{"nonsense", "s3cret", false},
	} {
		err := CheckAddr(c.addr, c.token)
		if (err == nil) != c.ok {
			t.Errorf("CheckAddr(%q, %q) = %v, want ok=%v", c.addr, c.token, err, c.ok)
		}
		if err != nil && c.token == "" && !errors.Is(err, ErrNeedToken) {
			t.Errorf("CheckAddr(%q) = %v, want ErrNeedToken", c.addr, err)
		}
	}
	if err := CheckAddr("0.0.0.0:8090", ""); !strings.Contains(err.Error(), "--ui-addr 0.0.0.0:8090") || !strings.Contains(err.Error(), "--auth-token") {
		t.Errorf("message = %q", err)
	}
}

func TestAuthToken(t *testing.T) {
	f := uiFixture(t, nil, func(o *Options) { o.AuthToken = "s3cret" })
	do := func(method, path string, hdr map[string]string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(helloYAML))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, req)
		return rec
	}
	// Open: health and the pages' static files.
	for _, p := range []string{"/healthz", "/static/ui.css"} {
		if rec := do("GET", p, nil); rec.Code != 200 {
			t.Errorf("%s without token: %d", p, rec.Code)
		}
	}
	// Everything else needs the token.
	for _, c := range []struct{ method, path string }{
		{"GET", "/"}, {"GET", "/alerts"}, {"GET", "/api/ui/services"}, {"GET", "/api/v1/services"},
		{"POST", "/api/v1/apply"}, {"DELETE", "/api/v1/services/default/hello"}, {"GET", "/downloads/rules.yml"},
	} {
		rec := do(c.method, c.path, nil)
		if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s without token: %d", c.method, c.path, rec.Code)
		}
		if msg := errorOf(t, rec); !strings.Contains(msg, "Authorization: Bearer") {
			t.Errorf("%s %s: %q", c.method, c.path, msg)
		}
		if rec := do(c.method, c.path, map[string]string{"Authorization": "Bearer wrong"}); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s %s with a wrong token: %d", c.method, c.path, rec.Code)
		}
	}
	if rec := do("POST", "/api/v1/apply", map[string]string{"Authorization": "Bearer s3cret"}); rec.Code != 200 {
		t.Errorf("apply with the token: %d %s", rec.Code, rec.Body)
	}
	// A browser gets a sign-in form, then a cookie from ?token=.
	rec := do("GET", "/services/default/hello", map[string]string{"Accept": "text/html"})
	if rec.Code != 401 || !strings.Contains(rec.Body.String(), `<label for="token">`) || !strings.Contains(rec.Body.String(), `action="/services/default/hello"`) {
		t.Errorf("sign-in page: %d %s", rec.Code, rec.Body)
	}
	if rec := do("GET", "/?token=nope", nil); rec.Code != 401 {
		t.Errorf("wrong ?token: %d", rec.Code)
	}
	rec = do("GET", "/?token=s3cret&sort=rate", nil)
	cookie := rec.Header().Get("Set-Cookie")
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/?sort=rate" || !strings.Contains(cookie, "gantry_token=s3cret") ||
		!strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Strict") {
		t.Fatalf("?token: %d %q %q", rec.Code, rec.Header().Get("Location"), cookie)
	}
	withCookie := map[string]string{"Cookie": "gantry_token=s3cret"}
	if rec := do("GET", "/", withCookie); rec.Code != 200 {
		t.Errorf("page with the cookie: %d", rec.Code)
	}
	// The cookie is not enough to change anything.
	if rec := do("POST", "/api/v1/apply", withCookie); rec.Code != 401 {
		t.Errorf("apply with only the cookie: %d", rec.Code)
	}
	if rec := do("GET", "/", map[string]string{"Cookie": "gantry_token=wrong"}); rec.Code != 401 {
		t.Errorf("wrong cookie: %d", rec.Code)
	}
	// No token: nothing is asked.
	f = uiFixture(t, nil, nil)
	if rec := f.do("GET", "/", ""); rec.Code != 200 {
		t.Errorf("no token configured: %d", rec.Code)
	}
}
