package api

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// isClusterLocal reports whether labels ask for a cluster-local route.
func isClusterLocal(labels map[string]string) bool {
	return labels[LabelVisibility] == VisibilityClusterLocal
}

// DomainFor returns the domain of a route with the given labels: the
// config-domain entry whose selector matches with the most labels, ties going
// to the lexicographically smallest domain. A cluster-local route always gets
// svc.cluster.local. routeName and namespace are not used by Knative's lookup
// and are accepted so callers need not change if they ever are.
func (c *Config) DomainFor(routeName, namespace string, labels map[string]string) string {
	if isClusterLocal(labels) {
		return ClusterLocalDomain
	}
	best, bestLen := "", -1
	for domain, selector := range c.Domain.Domains {
		if !selectorMatches(selector, labels) {
			continue
		}
		n := len(selector)
		if n > bestLen || (n == bestLen && domain < best) {
			best, bestLen = domain, n
		}
	}
	if best == "" {
		// A Config built by hand with no matching entry: behave like
		// Knative's config-domain without a default.
		return ClusterLocalDomain
	}
	return best
}

func selectorMatches(selector, labels map[string]string) bool {
	for k, want := range selector {
		if got, ok := labels[k]; !ok || got != want {
			return false
		}
	}
	return true
}

// RouteHost returns the host of route name in namespace, from config-network's
// domain-template and the domain DomainFor picks. Cluster-local routes use
// Knative's default template whatever domain-template says.
func (c *Config) RouteHost(name, namespace string, labels map[string]string) (string, error) {
	return c.hostFor(name, name, namespace, labels)
}

// TagHost returns the host of tag of route name: tag-template renders the
// tagged name ({{.Tag}}-{{.Name}} by default), which domain-template then uses
// as its Name, as Knative does.
func (c *Config) TagHost(tag, name, namespace string, labels map[string]string) (string, error) {
	tmpl := c.Network.TagTemplate
	if tmpl == "" {
		tmpl = DefaultTagTemplate
	}
	tagged, err := renderTemplate("tag-template", tmpl, TagTemplateValues{Name: name, Tag: tag})
	if err != nil {
		return "", fmt.Errorf("host of tag %q of route %s/%s: error executing the tag-template: %w", tag, namespace, name, err)
	}
	return c.hostFor(name, tagged, namespace, labels)
}

// hostFor renders domain-template with Name = hostName for route routeName.
func (c *Config) hostFor(routeName, hostName, namespace string, labels map[string]string) (string, error) {
	tmpl := c.Network.DomainTemplate
	if tmpl == "" || isClusterLocal(labels) {
		tmpl = DefaultDomainTemplate
	}
	host, err := renderTemplate("domain-template", tmpl, DomainTemplateValues{
		Name:      hostName,
		Namespace: namespace,
		Domain:    c.DomainFor(routeName, namespace, labels),
		Labels:    labels,
	})
	if err != nil {
		return "", fmt.Errorf("host of route %s/%s: error executing the domain-template: %w", namespace, routeName, err)
	}
	if errs := validation.IsFullyQualifiedDomainName(field.NewPath("url"), host); len(errs) > 0 {
		return "", fmt.Errorf("host of route %s/%s: invalid domain name %q: %s", namespace, routeName, host, strings.TrimSpace(errs.ToAggregate().Error()))
	}
	return host, nil
}
