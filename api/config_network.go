package api

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Knative's default host templates (knative.dev/networking/pkg/config).
const (
	DefaultDomainTemplate = "{{.Name}}.{{.Namespace}}.{{.Domain}}"
	DefaultTagTemplate    = "{{.Tag}}-{{.Name}}"
)

// Values of config-network http-protocol.
const (
	HTTPProtocolEnabled    = "enabled"
	HTTPProtocolDisabled   = "disabled"
	HTTPProtocolRedirected = "redirected"
)

// DomainTemplateValues are the fields a domain-template can use.
type DomainTemplateValues struct {
	Name        string
	Namespace   string
	Domain      string
	Annotations map[string]string
	Labels      map[string]string
}

// TagTemplateValues are the fields a tag-template can use.
type TagTemplateValues struct {
	Name string
	Tag  string
}

// parseNetworkInto parses config-network. Legacy camelCase keys are read
// first so the current kebab-case keys win when both are set, as in Knative.
func parseNetworkInto(data map[string]string, cfg *Config) error {
	n := DefaultConfig("").Network

	parseStringKey(data, "ingress.class", &n.IngressClass)
	parseStringKey(data, "certificate.class", &n.CertificateClass)
	parseStringKey(data, "domainTemplate", &n.DomainTemplate)
	parseStringKey(data, "tagTemplate", &n.TagTemplate)
	parseStringKey(data, "defaultExternalScheme", &n.DefaultExternalScheme)
	parseStringKey(data, "ingress-class", &n.IngressClass)
	parseStringKey(data, "certificate-class", &n.CertificateClass)
	parseStringKey(data, "domain-template", &n.DomainTemplate)
	parseStringKey(data, "tag-template", &n.TagTemplate)
	parseStringKey(data, "default-external-scheme", &n.DefaultExternalScheme)
	for _, key := range []string{"rolloutDuration", "rollout-duration"} {
		if err := parseSecondsKey(data, key, &n.RolloutDurationSeconds); err != nil {
			return err
		}
	}
	for _, key := range []string{"autocreateClusterDomainClaims", "autocreate-cluster-domain-claims"} {
		if err := parseBoolKey(data, key, &n.AutocreateClusterDomainClaims); err != nil {
			return err
		}
	}
	if n.RolloutDurationSeconds < 0 {
		return fmt.Errorf("rollout-duration must be a positive integer, but was %d", n.RolloutDurationSeconds)
	}
	if err := checkDomainTemplate(n.DomainTemplate); err != nil {
		return fmt.Errorf("invalid domain-template %q: %w", n.DomainTemplate, err)
	}
	if err := checkTagTemplate(n.TagTemplate); err != nil {
		return fmt.Errorf("invalid tag-template %q: %w", n.TagTemplate, err)
	}

	// external-domain-tls replaces auto-tls (and its legacy autoTLS spelling).
	for _, key := range []string{"autoTLS", "auto-tls", "external-domain-tls"} {
		if v, ok := data[key]; ok {
			n.ExternalDomainTLS = strings.EqualFold(strings.TrimSpace(v), "enabled")
		}
	}

	protocol, protocolKey := "", "http-protocol"
	for _, key := range []string{"httpProtocol", "http-protocol"} {
		if v, ok := data[key]; ok {
			protocol, protocolKey = v, key
		}
	}
	switch p := strings.ToLower(strings.TrimSpace(protocol)); p {
	case "":
	case HTTPProtocolEnabled, HTTPProtocolDisabled, HTTPProtocolRedirected:
		n.HTTPProtocol = p
	default:
		return fmt.Errorf("%s %q in config-network ConfigMap is not supported (want enabled, disabled or redirected)", protocolKey, protocol)
	}

	// internal-encryption is the deprecated boolean form of system-internal-tls.
	var internal bool
	if err := parseBoolKey(data, "internal-encryption", &internal); err != nil {
		return err
	}
	if internal {
		n.SystemInternalTLS = "enabled"
	}
	for _, k := range []struct {
		key    string
		target *string
	}{{"system-internal-tls", &n.SystemInternalTLS}, {"cluster-local-domain-tls", &n.ClusterLocalDomainTLS}} {
		switch v := strings.ToLower(strings.TrimSpace(data[k.key])); v {
		case "":
		case "enabled", "disabled":
			*k.target = v
		default:
			return fmt.Errorf("%s with value: %q in config-network ConfigMap is not supported", k.key, data[k.key])
		}
	}
	limits, err := ParseProxyLimits(func(k string) (string, bool) { v, ok := data[k]; return v, ok })
	if err != nil {
		return err
	}
	n.Limits = limits
	cfg.Network = n
	return nil
}

// parseSecondsKey reads whole seconds. Knative wants a bare integer, but its
// own documentation writes rollout-duration: "380s", so a Go duration in
// whole seconds is accepted too.
func parseSecondsKey(data map[string]string, key string, target *int) error {
	raw, ok := data[key]
	if !ok {
		return nil
	}
	raw = strings.TrimSpace(raw)
	if n, err := strconv.Atoi(raw); err == nil {
		*target = n
		return nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		return fmt.Errorf("failed to parse %q: want whole seconds (\"380\" or \"380s\"), got %q", key, raw)
	}
	if d.Truncate(time.Second) != d {
		return fmt.Errorf("failed to parse %q: %q is not a whole number of seconds", key, raw)
	}
	*target = int(d / time.Second)
	return nil
}

// checkDomainTemplate renders tmpl for a sample route and checks the result
// is a DNS name (no path, no empty host).
func checkDomainTemplate(tmpl string) error {
	host, err := renderTemplate("domain-template", tmpl, DomainTemplateValues{Name: "foo", Namespace: "bar", Domain: "baz.com"})
	if err != nil {
		return err
	}
	return checkRenderedHost(host)
}

// checkTagTemplate renders tmpl for a sample tag and checks the result can be
// the Name part of a host.
func checkTagTemplate(tmpl string) error {
	host, err := renderTemplate("tag-template", tmpl, TagTemplateValues{Name: "foo", Tag: "v2"})
	if err != nil {
		return err
	}
	return checkRenderedHost(host)
}

func checkRenderedHost(host string) error {
	if host == "" {
		return fmt.Errorf("renders an empty host name for a sample route")
	}
	if msgs := validation.IsDNS1123Subdomain(host); len(msgs) > 0 {
		return fmt.Errorf("renders %q for a sample route, not a valid DNS name: %s", host, strings.Join(msgs, "; "))
	}
	return nil
}

func renderTemplate(name, tmpl string, data any) (string, error) {
	t, err := template.New(name).Parse(tmpl)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return "", err
	}
	return buf.String(), nil
}
