package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/internal/h1"
)

// The gateway (proxyLimits) and every queue-proxy (its environment) get
// the same limits from config-network, and the defaults agree.
func TestProxyLimitsReachBothProxies(t *testing.T) {
	if diff := cmp.Diff(h1.DefaultLimits(), proxyLimits(api.DefaultProxyLimits())); diff != "" {
		t.Errorf("defaults differ (-h1 +api):\n%s", diff)
	}
	l := api.ProxyLimits{MaxRequestHeaderBytes: 2048, MaxRequestHeaders: 9, MaxRequestLineBytes: 1500,
		MaxRequestBodyBytes: 1000, HeaderReadTimeout: 2 * time.Second, IdleTimeout: time.Minute,
		BodyIdleTimeout: 7 * time.Second, MaxConnections: 33}
	env := withLimitsEnv(map[string]string{"OTEL_X": "1"}, l)
	if env["OTEL_X"] != "1" {
		t.Error("existing variables dropped")
	}
	got, err := h1.LimitsFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(proxyLimits(l), got); diff != "" {
		t.Errorf("queue-proxy limits (-gateway +queue-proxy):\n%s", diff)
	}
}
