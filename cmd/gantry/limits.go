package main

import (
	"maps"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/internal/h1"
)

// proxyLimits turns config-network's limits into the engine's.
func proxyLimits(l api.ProxyLimits) h1.Limits { return h1.LimitsFrom(l) }

// withLimitsEnv returns env plus the variables that give every queue-proxy
// the same limits as the gateway.
func withLimitsEnv(env map[string]string, l api.ProxyLimits) map[string]string {
	out := maps.Clone(env)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, l.Env())
	return out
}
