package api

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// ClusterDomain is the cluster's DNS suffix; cluster-local routes live under
// "svc." + ClusterDomain, as in Knative.
const ClusterDomain = "cluster.local"

// ClusterLocalDomain is the domain of cluster-local routes, and the default
// domain of a config-domain that names none.
const ClusterLocalDomain = "svc." + ClusterDomain

// domainEntry is one config-domain value: an optional label selector. Knative
// also reads a "type" (wildcard certificates), which Gantry ignores.
type domainEntry struct {
	Selector map[string]string `json:"selector,omitempty"`
	Type     string            `json:"type,omitempty"`
}

// parseDomainInto parses config-domain: each key is a domain, each value an
// optional YAML `selector:` map. An entry with no selector is a default; with
// no default at all, routes default to the cluster-local domain (Knative since
// 2022).
func parseDomainInto(data map[string]string, cfg *Config) error {
	domains := make(map[string]map[string]string, len(data)+1)
	hasDefault := false
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys) // report the same bad key every time
	for _, domain := range keys {
		if msgs := validation.IsDNS1123Subdomain(domain); len(msgs) > 0 {
			return fmt.Errorf("invalid domain %q: %s", domain, strings.Join(msgs, "; "))
		}
		var e domainEntry
		if err := yaml.Unmarshal([]byte(data[domain]), &e); err != nil {
			return fmt.Errorf("domain %q: invalid value %q: %w", domain, data[domain], err)
		}
		if len(e.Selector) == 0 {
			hasDefault = true
			e.Selector = map[string]string{}
		}
		domains[domain] = e.Selector
	}
	if !hasDefault {
		domains[ClusterLocalDomain] = map[string]string{}
	}
	cfg.Domain = DomainConfig{Domains: domains}
	return nil
}
