package api

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func cm(name string, data map[string]string) *ConfigMap {
	return &ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "knative-serving"}, Data: data}
}

func TestParseConfigDefaults(t *testing.T) {
	knative := DefaultConfig("").Defaults
	knative.RevisionResponseStartTimeoutSeconds = 300 // Knative derives it from the timeout
	tests := []struct {
		name    string
		data    map[string]string
		want    func(d *DefaultsConfig)
		wantErr string
	}{{
		name: "empty map: Knative's defaults",
		data: map[string]string{"_example": "ignored: true"},
	}, {
		name: "full map from the docs",
		data: map[string]string{
			"revision-timeout-seconds": "300", "max-revision-timeout-seconds": "600",
			"revision-response-start-timeout-seconds": "300", "revision-idle-timeout-seconds": "0",
			"revision-cpu-request": "400m", "revision-memory-request": "100M", "revision-ephemeral-storage-request": "500M",
			"revision-cpu-limit": "1000m", "revision-memory-limit": "200M", "revision-ephemeral-storage-limit": "750M",
			"container-name-template": "{{.Name}}", "init-container-name-template": "init-{{.Name}}",
			"container-concurrency": "10", "container-concurrency-max-limit": "100",
			"allow-container-concurrency-zero": "false", "enable-service-links": "true",
		},
		want: func(d *DefaultsConfig) {
			d.RevisionCPURequest = new(resource.MustParse("400m"))
			d.RevisionMemoryRequest = new(resource.MustParse("100M"))
			d.RevisionEphemeralStorageRequest = new(resource.MustParse("500M"))
			d.RevisionCPULimit = new(resource.MustParse("1000m"))
			d.RevisionMemoryLimit = new(resource.MustParse("200M"))
			d.RevisionEphemeralStorageLimit = new(resource.MustParse("750M"))
			d.UserContainerNameTemplate = "{{.Name}}"
			d.InitContainerNameTemplate = "init-{{.Name}}"
			d.ContainerConcurrency = 10
			d.ContainerConcurrencyMaxLimit = 100
			d.AllowContainerConcurrencyZero = false
			d.EnableServiceLinks = new(true)
		},
	}, {
		name: "response start follows the timeout when unset",
		data: map[string]string{"revision-timeout-seconds": "120"},
		want: func(d *DefaultsConfig) { d.RevisionTimeoutSeconds = 120; d.RevisionResponseStartTimeoutSeconds = 120 },
	}, {
		name: "alias of allow-container-concurrency-zero",
		data: map[string]string{"allow-container-concurrency-specified-to-zero": "false"},
		want: func(d *DefaultsConfig) { d.AllowContainerConcurrencyZero = false },
	}, {
		name:    "bad integer",
		data:    map[string]string{"revision-timeout-seconds": "five"},
		wantErr: `ConfigMap config-defaults: failed to parse "revision-timeout-seconds": strconv.ParseInt: parsing "five": invalid syntax`,
	}, {
		name:    "bad quantity",
		data:    map[string]string{"revision-cpu-request": "lots"},
		wantErr: `failed to parse "revision-cpu-request": quantities must match the regular expression`,
	}, {
		name:    "timeout above max",
		data:    map[string]string{"revision-timeout-seconds": "700"},
		wantErr: "revision-timeout-seconds (700) cannot be greater than max-revision-timeout-seconds (600)",
	}, {
		name:    "response start above timeout",
		data:    map[string]string{"revision-response-start-timeout-seconds": "400"},
		wantErr: "revision-response-start-timeout-seconds (400) cannot be greater than revision-timeout-seconds (300)",
	}, {
		name:    "idle above timeout",
		data:    map[string]string{"revision-idle-timeout-seconds": "400"},
		wantErr: "revision-idle-timeout-seconds (400) cannot be greater than revision-timeout-seconds (300)",
	}, {
		name:    "concurrency above limit",
		data:    map[string]string{"container-concurrency": "2000"},
		wantErr: "expected 0 <= 2000 <= 1000: container-concurrency",
	}, {
		name:    "concurrency limit below 1",
		data:    map[string]string{"container-concurrency-max-limit": "0"},
		wantErr: "expected 1 <= 0 <= 2147483647: container-concurrency-max-limit",
	}, {
		name:    "template that does not parse",
		data:    map[string]string{"container-name-template": "{{.Name"},
		wantErr: `invalid container-name-template "{{.Name"`,
	}, {
		name:    "template that renders an invalid name",
		data:    map[string]string{"container-name-template": "{{.Name}}_x"},
		wantErr: `invalid container-name-template "{{.Name}}_x": renders "foo_x"`,
	}, {
		name:    "template with an unknown field",
		data:    map[string]string{"container-name-template": "{{.Nmae}}"},
		wantErr: "can't evaluate field Nmae",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig("")
			cfg.Defaults.RevisionTimeoutSeconds = 42 // must be replaced on success, kept on failure
			err := ParseConfigMap(cm(ConfigMapDefaults, tt.data), cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				if cfg.Defaults.RevisionTimeoutSeconds != 42 {
					t.Error("cfg changed by an invalid map")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := knative
			if tt.want != nil {
				tt.want(&want)
			}
			if diff := cmp.Diff(want, cfg.Defaults); diff != "" {
				t.Errorf("Defaults (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseConfigNetwork(t *testing.T) {
	base := DefaultConfig("").Network
	tests := []struct {
		name    string
		data    map[string]string
		want    func(n *NetworkConfig)
		wantErr string
	}{{
		name: "empty",
	}, {
		name: "current keys",
		data: map[string]string{
			"domain-template": "{{.Name}}-{{.Namespace}}.{{.Domain}}", "tag-template": "{{.Name}}-{{.Tag}}",
			"ingress-class": "kourier.ingress.networking.knative.dev", "default-external-scheme": "https",
			"http-protocol": "Redirected", "rollout-duration": "380s", "external-domain-tls": "Enabled",
			"autocreate-cluster-domain-claims": "true", "system-internal-tls": "enabled",
		},
		want: func(n *NetworkConfig) {
			n.DomainTemplate = "{{.Name}}-{{.Namespace}}.{{.Domain}}"
			n.TagTemplate = "{{.Name}}-{{.Tag}}"
			n.IngressClass = "kourier.ingress.networking.knative.dev"
			n.DefaultExternalScheme = "https"
			n.HTTPProtocol = HTTPProtocolRedirected
			n.RolloutDurationSeconds = 380
			n.ExternalDomainTLS = true
			n.AutocreateClusterDomainClaims = true
			n.SystemInternalTLS = "enabled"
		},
	}, {
		name: "legacy keys",
		data: map[string]string{"domainTemplate": "{{.Name}}.{{.Domain}}", "tagTemplate": "{{.Tag}}.{{.Name}}",
			"ingress.class": "x", "httpProtocol": "disabled", "rolloutDuration": "60", "autoTLS": "enabled"},
		want: func(n *NetworkConfig) {
			n.DomainTemplate = "{{.Name}}.{{.Domain}}"
			n.TagTemplate = "{{.Tag}}.{{.Name}}"
			n.IngressClass = "x"
			n.HTTPProtocol = HTTPProtocolDisabled
			n.RolloutDurationSeconds = 60
			n.ExternalDomainTLS = true
		},
	}, {
		name: "current key wins over legacy",
		data: map[string]string{"domainTemplate": "{{.Name}}.{{.Domain}}", "domain-template": "{{.Name}}.x.{{.Domain}}"},
		want: func(n *NetworkConfig) { n.DomainTemplate = "{{.Name}}.x.{{.Domain}}" },
	}, {
		name:    "blank domain template",
		data:    map[string]string{"domain-template": ""},
		wantErr: `invalid domain-template "": renders an empty host name`,
	}, {
		name:    "unparseable domain template",
		data:    map[string]string{"domain-template": "{{.Namespace}.{{.Name}}.{{.Domain}}"},
		wantErr: `invalid domain-template "{{.Namespace}.{{.Name}}.{{.Domain}}"`,
	}, {
		name:    "domain template with a path",
		data:    map[string]string{"domain-template": "{{.Domain}}/{{.Namespace}}/{{.Name}}."},
		wantErr: `renders "baz.com/bar/foo." for a sample route, not a valid DNS name`,
	}, {
		name:    "domain template with an unknown field",
		data:    map[string]string{"domain-template": "{{.Name}}.{{.NAmespace}}.{{.Domain}}"},
		wantErr: "can't evaluate field NAmespace",
	}, {
		name:    "tag template with an unknown field",
		data:    map[string]string{"tag-template": "{{.Tags}}-{{.Name}}"},
		wantErr: `invalid tag-template "{{.Tags}}-{{.Name}}"`,
	}, {
		name:    "bad http protocol",
		data:    map[string]string{"http-protocol": "sometimes"},
		wantErr: `http-protocol "sometimes" in config-network ConfigMap is not supported`,
	}, {
		name:    "negative rollout",
		data:    map[string]string{"rollout-duration": "-444"},
		wantErr: "rollout-duration must be a positive integer, but was -444",
	}, {
		name:    "bad rollout",
		data:    map[string]string{"rollout-duration": "mil novecientos"},
		wantErr: `failed to parse "rollout-duration"`,
	}, {
		name: "proxy limits",
		data: map[string]string{"max-request-header-bytes": "8192", "max-request-headers": "50", "max-request-line-bytes": "4096",
			"max-request-body-bytes": "1048576", "header-read-timeout": "5s", "idle-timeout": "2m", "body-idle-timeout": "0s",
			"max-connections": "1000"},
		want: func(n *NetworkConfig) {
			n.Limits = ProxyLimits{MaxRequestHeaderBytes: 8192, MaxRequestHeaders: 50, MaxRequestLineBytes: 4096,
				MaxRequestBodyBytes: 1 << 20, HeaderReadTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute,
				MaxConnections: 1000}
		},
	}, {
		name:    "negative header limit",
		data:    map[string]string{"max-request-headers": "-1"},
		wantErr: `max-request-headers must be a non-negative integer, was "-1"`,
	}, {
		name:    "tiny header bytes",
		data:    map[string]string{"max-request-header-bytes": "100"},
		wantErr: "max-request-header-bytes must be 0 or at least 1024, was 100",
	}, {
		name:    "bad idle timeout",
		data:    map[string]string{"idle-timeout": "forever"},
		wantErr: `idle-timeout must be a non-negative duration such as "30s", was "forever"`,
	}, {
		name:    "bad system-internal-tls",
		data:    map[string]string{"system-internal-tls": "maybe"},
		wantErr: `system-internal-tls with value: "maybe" in config-network ConfigMap is not supported`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig("")
			cfg.Network.IngressClass = "sentinel"
			err := ParseConfigMap(cm(ConfigMapNetwork, tt.data), cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				if cfg.Network.IngressClass != "sentinel" {
					t.Error("cfg changed by an invalid map")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := base
			if tt.want != nil {
				tt.want(&want)
			}
			if diff := cmp.Diff(want, cfg.Network); diff != "" {
				t.Errorf("Network (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseConfigDomain(t *testing.T) {
	tests := []struct {
		name    string
		data    map[string]string
		want    map[string]map[string]string
		wantErr string
	}{{
		name: "docs example",
		data: map[string]string{"example.org": "selector:\n  app: prod\n", "example.com": "", "_example": "junk: ["},
		want: map[string]map[string]string{"example.org": {"app": "prod"}, "example.com": {}},
	}, {
		name: "no default implies the cluster-local domain",
		data: map[string]string{"foo.com": "selector:\n  app: foo\n"},
		want: map[string]map[string]string{"foo.com": {"app": "foo"}, "svc.cluster.local": {}},
	}, {
		name: "empty map",
		want: map[string]map[string]string{"svc.cluster.local": {}},
	}, {
		name: "wildcard type is read and ignored",
		data: map[string]string{"bar.com": "selector:\n  app: bar\ntype: wildcard", "default.com": ""},
		want: map[string]map[string]string{"bar.com": {"app": "bar"}, "default.com": {}},
	}, {
		name:    "bad yaml",
		data:    map[string]string{"default.com": "bad: yaml: all: day"},
		wantErr: `ConfigMap config-domain: domain "default.com": invalid value "bad: yaml: all: day"`,
	}, {
		name:    "bad domain",
		data:    map[string]string{"Not A Domain": ""},
		wantErr: `invalid domain "Not A Domain"`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig("")
			err := ParseConfigMap(cm(ConfigMapDomain, tt.data), cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				if diff := cmp.Diff(DefaultConfig("").Domain, cfg.Domain); diff != "" {
					t.Errorf("cfg changed by an invalid map:\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, cfg.Domain.Domains); diff != "" {
				t.Errorf("Domains (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseConfigMapUninterpreted(t *testing.T) {
	cfg := DefaultConfig("")
	before := *cfg
	for _, name := range []string{"config-features", "config-deployment", "config-observability", "config-certmanager"} {
		if err := ParseConfigMap(cm(name, map[string]string{"anything": "goes"}), cfg); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if diff := cmp.Diff(&before, cfg); diff != "" {
		t.Errorf("cfg changed:\n%s", diff)
	}
	if err := ParseConfigMap(nil, cfg); err != nil {
		t.Error(err)
	}
}

func TestConfigDeployment(t *testing.T) {
	cfg := DefaultConfig("")
	if !cfg.Deployment.RegistriesSkippingTagResolving["ko.local"] || cfg.Deployment.DigestResolutionTimeout != 10*time.Second || cfg.Deployment.ProgressDeadline != 0 {
		t.Fatalf("defaults %+v", cfg.Deployment)
	}
	cm := &ConfigMap{Data: map[string]string{"registries-skipping-tag-resolving": "registry.local, 127.0.0.1:5000", "progress-deadline": "10m"}}
	cm.Name = ConfigMapDeployment
	if err := ParseConfigMap(cm, cfg); err != nil {
		t.Fatal(err)
	}
	d := cfg.Deployment
	if !d.RegistriesSkippingTagResolving["127.0.0.1:5000"] || !d.RegistriesSkippingTagResolving["registry.local"] || d.RegistriesSkippingTagResolving["ko.local"] || d.ProgressDeadline != 10*time.Minute {
		t.Errorf("parsed %+v", d)
	}
	cm.Data = map[string]string{"digest-resolution-timeout": "soon"}
	if err := ParseConfigMap(cm, cfg); err == nil || !strings.Contains(err.Error(), `failed to parse "digest-resolution-timeout"`) {
		t.Errorf("bad duration: %v", err)
	}
	if cfg.Deployment.ProgressDeadline != 10*time.Minute {
		t.Error("a bad map changed the config")
	}
}

// The queue-proxy reads the same limits from its environment.
func TestProxyLimitsEnvRoundTrip(t *testing.T) {
	want := ProxyLimits{MaxRequestHeaderBytes: 4096, MaxRequestHeaders: 7, MaxRequestLineBytes: 2048,
		MaxRequestBodyBytes: 99, HeaderReadTimeout: time.Second, IdleTimeout: time.Minute, BodyIdleTimeout: 3 * time.Second,
		MaxConnections: 12}
	env := want.Env()
	if env["GANTRY_HEADER_READ_TIMEOUT"] != "1s" {
		t.Fatalf("env %v", env)
	}
	got, err := ParseProxyLimits(func(k string) (string, bool) { v, ok := env[ProxyLimitEnv(k)]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestProgressDeadlineOrder(t *testing.T) {
	cfg := DeploymentConfig{ProgressDeadline: 45 * time.Second}
	for _, tc := range []struct {
		ann  string
		d    DeploymentConfig
		want time.Duration
	}{
		{"20s", cfg, 20 * time.Second},
		{"90", cfg, 90 * time.Second},
		{"", cfg, 45 * time.Second},
		{"soon", cfg, 45 * time.Second},
		{"", DeploymentConfig{}, OneMachineProgressDeadline},
	} {
		ann := map[string]string{}
		if tc.ann != "" {
			ann[AnnotationProgressDeadline] = tc.ann
		}
		if got := ProgressDeadline(ann, tc.d, OneMachineProgressDeadline); got != tc.want {
			t.Errorf("annotation %q, config %v: %v, want %v", tc.ann, tc.d.ProgressDeadline, got, tc.want)
		}
	}
}
