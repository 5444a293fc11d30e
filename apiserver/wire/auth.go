package wire

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// TokenEnv is the environment variable that gives the auth token.
const TokenEnv = "GANTRY_AUTH_TOKEN"

// tokenCookie holds the token in a browser, set by visiting any page with
// ?token=TOKEN.
const tokenCookie = "gantry_token"

// ErrNeedToken is returned by CheckAddr for a non-loopback address without a token.
var ErrNeedToken = errors.New("needs --auth-token (or " + TokenEnv + ")")

// CheckAddr refuses to serve the UI and API on an address other hosts can
// reach (anything but a loopback IP or localhost) without an auth token.
func CheckAddr(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--ui-addr %s: %w", addr, err)
	}
	if token != "" || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	if host == "" {
		host = "all interfaces"
	}
	return fmt.Errorf("--ui-addr %s listens on %s, beyond this machine: it %w", addr, host, ErrNeedToken)
}

// RequireToken lets a request through to h when it carries the token, as
// "Authorization: Bearer TOKEN" or, for reads (GET and HEAD), in the cookie a
// browser gets by visiting a page with ?token=TOKEN; the SameSite=Strict
// cookie is not accepted for writes, so that another site cannot make a
// browser apply or delete. /healthz and the pages' static files need no
// token. An empty token lets everything through.
//
// `gantry up` wraps its whole --ui-addr handler (Gantry's API, the UI and the
// embedded Prometheus API) with it; apiserver.New applies it to its own
// handler too.
func RequireToken(token string, h http.Handler) http.Handler {
	if token == "" {
		return h
	}
	want := sha256.Sum256([]byte(token))
	match := func(got string) bool {
		g := sha256.Sum256([]byte(got))
		return got != "" && subtle.ConstantTimeCompare(g[:], want[:]) == 1
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || strings.HasPrefix(r.URL.Path, "/static/") {
			h.ServeHTTP(w, r)
			return
		}
		read := r.Method == http.MethodGet || r.Method == http.MethodHead
		if auth := r.Header.Get("Authorization"); auth != "" {
			if t, ok := strings.CutPrefix(auth, "Bearer "); ok && match(t) {
				h.ServeHTTP(w, r)
				return
			}
			denied(w, r, "wrong token in the Authorization header")
			return
		}
		if q := r.URL.Query(); q.Has("token") && read {
			if !match(q.Get("token")) {
				denied(w, r, "wrong token")
				return
			}
			// Keep the token in a cookie and drop it from the address bar.
			http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: q.Get("token"), Path: "/", HttpOnly: true,
				SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
			q.Del("token")
			u := *r.URL
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return
		}
		if c, err := r.Cookie(tokenCookie); err == nil && read && match(c.Value) {
			h.ServeHTTP(w, r)
			return
		}
		denied(w, r, "this Gantry needs its auth token")
	})
}

var loginTmpl = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gantry: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/ui.css"></head>
<body><main id="content" class="narrow"><h1>Gantry</h1><p role="alert">{{.Msg}}.</p>
<form method="get" action="{{.Path}}"><label for="token">Auth token (--auth-token or GANTRY_AUTH_TOKEN)</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button></form></main></body></html>`))

// denied answers 401: JSON for the API, a sign-in form for a browser.
func denied(w http.ResponseWriter, r *http.Request, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="gantry"`)
	if WantsHTML(r) {
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.WriteHeader(http.StatusUnauthorized)
		_ = loginTmpl.Execute(w, map[string]string{"Msg": msg, "Path": (&url.URL{Path: r.URL.Path}).EscapedPath()})
		return
	}
	WriteError(w, http.StatusUnauthorized, msg+": send Authorization: Bearer TOKEN")
}

// WantsHTML tells a browser asking for a page from an API call: errors are
// JSON unless a browser (Accept: text/html) reads a page.
func WantsHTML(r *http.Request) bool {
	p := r.URL.Path
	if strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/prom/") || p == "/metrics" || strings.HasPrefix(p, "/downloads/") {
		return false
	}
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.Contains(r.Header.Get("Accept"), "text/html")
}
