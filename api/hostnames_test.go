package api

import (
	"strings"
	"testing"
)

func TestDomainFor(t *testing.T) {
	cfg := DefaultConfig("")
	cfg.Domain.Domains = map[string]map[string]string{
		"test-domain.foo.com": {"app": "foo"},
		"foo.com":             {"app": "foo", "version": "prod"},
		"bar.com":             {"app": "bar"},
		"default.com":         {},
	}
	tests := []struct {
		labels map[string]string
		want   string
	}{
		{map[string]string{"app": "foo"}, "test-domain.foo.com"},
		{map[string]string{"app": "foo", "version": "prod"}, "foo.com"},
		{map[string]string{"app": "bar", "version": "whatever"}, "bar.com"},
		{map[string]string{"app": "whatever"}, "default.com"},
		{nil, "default.com"},
		{map[string]string{"app": "foo", LabelVisibility: VisibilityClusterLocal}, "svc.cluster.local"},
	}
	for _, tt := range tests {
		if got := cfg.DomainFor("r", "ns", tt.labels); got != tt.want {
			t.Errorf("DomainFor(%v) = %q, want %q", tt.labels, got, tt.want)
		}
	}

	// Ties go to the lexicographically smallest domain.
	cfg.Domain.Domains = map[string]map[string]string{"b.com": {}, "a.com": {}, "c.com": {"x": "y"}}
	if got := cfg.DomainFor("r", "ns", map[string]string{"x": "z"}); got != "a.com" {
		t.Errorf("tie: DomainFor = %q, want a.com", got)
	}
	// Gantry's one-machine default.
	if got := DefaultConfig("").DomainFor("r", "ns", nil); got != "localhost" {
		t.Errorf("default DomainFor = %q, want localhost", got)
	}
}

func TestRouteAndTagHosts(t *testing.T) {
	cfg := DefaultConfig("example.com")
	host, err := cfg.RouteHost("myroute", "default", nil)
	if err != nil || host != "myroute.default.example.com" {
		t.Errorf("RouteHost = %q, %v", host, err)
	}
	for tag, want := range map[string]string{"target-1": "target-1-myroute.default.example.com", "target-2": "target-2-myroute.default.example.com"} {
		if got, err := cfg.TagHost(tag, "myroute", "default", nil); err != nil || got != want {
			t.Errorf("TagHost(%s) = %q, %v; want %q", tag, got, err, want)
		}
	}

	local := DefaultConfig("")
	if got, _ := local.RouteHost("hello", "default", nil); got != "hello.default.localhost" {
		t.Errorf("local RouteHost = %q", got)
	}

	// Custom templates: the tag host is fed into the domain template as Name;
	// cluster-local routes ignore the custom domain template.
	custom := DefaultConfig("example.com")
	custom.Network.DomainTemplate = "{{.Name}}-{{.Namespace}}.{{.Domain}}"
	custom.Network.TagTemplate = "{{.Name}}-{{.Tag}}"
	if got, _ := custom.RouteHost("hello", "ns", nil); got != "hello-ns.example.com" {
		t.Errorf("custom RouteHost = %q", got)
	}
	if got, _ := custom.TagHost("v1", "hello", "ns", nil); got != "hello-v1-ns.example.com" {
		t.Errorf("custom TagHost = %q", got)
	}
	cl := map[string]string{LabelVisibility: VisibilityClusterLocal}
	if got, _ := custom.RouteHost("hello", "ns", cl); got != "hello.ns.svc.cluster.local" {
		t.Errorf("cluster-local RouteHost = %q", got)
	}
	if got, _ := custom.TagHost("v1", "hello", "ns", cl); got != "hello-v1.ns.svc.cluster.local" {
		t.Errorf("cluster-local TagHost = %q", got)
	}

	// Labels are available to the template; a result that is not a host is an error.
	custom.Network.DomainTemplate = "{{.Name}}.{{index .Labels \"team\"}}.{{.Domain}}"
	if got, _ := custom.RouteHost("hello", "ns", map[string]string{"team": "blue"}); got != "hello.blue.example.com" {
		t.Errorf("labels RouteHost = %q", got)
	}
	if _, err := custom.RouteHost("hello", "ns", nil); err == nil || !strings.Contains(err.Error(), "invalid domain name") {
		t.Errorf("empty label: err = %v, want invalid domain name", err)
	}
}

func TestHostsFromConfigMaps(t *testing.T) {
	cfg := DefaultConfig("")
	if err := ParseConfigMap(cm(ConfigMapDomain, map[string]string{"example.org": "selector:\n  app: prod\n", "example.com": ""}), cfg); err != nil {
		t.Fatal(err)
	}
	if err := ParseConfigMap(cm(ConfigMapNetwork, map[string]string{"domainTemplate": "{{.Name}}.{{.Domain}}"}), cfg); err != nil {
		t.Fatal(err)
	}
	if got, _ := cfg.RouteHost("shop", "default", map[string]string{"app": "prod"}); got != "shop.example.org" {
		t.Errorf("RouteHost = %q, want shop.example.org", got)
	}
	if got, _ := cfg.TagHost("beta", "shop", "default", nil); got != "beta-shop.example.com" {
		t.Errorf("TagHost = %q, want beta-shop.example.com", got)
	}
}
