package api

import "k8s.io/apimachinery/pkg/api/resource"

// ConfigNamespace holds Knative's ConfigMaps, as in Knative.
const ConfigNamespace = "knative-serving"

// Names of the Knative ConfigMaps Gantry reads. Others (config-features,
// config-deployment, config-observability, ...) are stored and accepted as-is.
const (
	ConfigMapDefaults   = "config-defaults"
	ConfigMapDomain     = "config-domain"
	ConfigMapNetwork    = "config-network"
	ConfigMapAutoscaler = "config-autoscaler"
	ConfigMapGC         = "config-gc"
)

// Config is the stack-wide configuration assembled from the ConfigMaps.
type Config struct {
	Defaults   DefaultsConfig
	Domain     DomainConfig
	Network    NetworkConfig
	Autoscaler AutoscalerConfig
	GC         GCConfig
	Deployment DeploymentConfig
}

// DefaultsConfig is config-defaults.
type DefaultsConfig struct {
	RevisionTimeoutSeconds              int64
	MaxRevisionTimeoutSeconds           int64
	RevisionResponseStartTimeoutSeconds int64
	RevisionIdleTimeoutSeconds          int64
	ContainerConcurrency                int64
	ContainerConcurrencyMaxLimit        int64
	AllowContainerConcurrencyZero       bool
	UserContainerNameTemplate           string
	InitContainerNameTemplate           string

	// EnableServiceLinks is copied into pod specs that leave it unset (Kubernetes runtime only).
	EnableServiceLinks *bool

	// Default resource requests and limits for containers that set none; nil = no default.
	RevisionCPURequest              *resource.Quantity
	RevisionCPULimit                *resource.Quantity
	RevisionMemoryRequest           *resource.Quantity
	RevisionMemoryLimit             *resource.Quantity
	RevisionEphemeralStorageRequest *resource.Quantity
	RevisionEphemeralStorageLimit   *resource.Quantity
}

// DomainConfig is config-domain: domain suffix → label selector (empty selector = default).
type DomainConfig struct {
	Domains map[string]map[string]string
}

// NetworkConfig is config-network.
type NetworkConfig struct {
	DomainTemplate        string
	TagTemplate           string
	IngressClass          string
	DefaultExternalScheme string

	// HTTPProtocol is "enabled", "disabled" or "redirected" (to https).
	HTTPProtocol                  string
	RolloutDurationSeconds        int
	AutocreateClusterDomainClaims bool
	ExternalDomainTLS             bool
	CertificateClass              string
	// SystemInternalTLS and ClusterLocalDomainTLS are "enabled" or "disabled".
	SystemInternalTLS     string
	ClusterLocalDomainTLS string

	// Limits bound what clients may send to both proxies (config_network_limits.go).
	Limits ProxyLimits
}

// DefaultConfig returns Knative's defaults, with localDomain as the default domain
// (Gantry's one-machine default is "localhost").
func DefaultConfig(localDomain string) *Config {
	if localDomain == "" {
		localDomain = "localhost"
	}
	return &Config{
		Autoscaler: DefaultAutoscalerConfig(),
		GC:         DefaultGCConfig(),
		Deployment: DefaultDeploymentConfig(),
		Defaults: DefaultsConfig{
			RevisionTimeoutSeconds:              300,
			MaxRevisionTimeoutSeconds:           600,
			RevisionResponseStartTimeoutSeconds: 0,
			RevisionIdleTimeoutSeconds:          0,
			ContainerConcurrency:                0,
			ContainerConcurrencyMaxLimit:        1000,
			AllowContainerConcurrencyZero:       true,
			UserContainerNameTemplate:           "user-container",
			InitContainerNameTemplate:           "init-container",
			EnableServiceLinks:                  new(false),
		},
		Domain: DomainConfig{Domains: map[string]map[string]string{localDomain: {}}},
		Network: NetworkConfig{
			DomainTemplate:        "{{.Name}}.{{.Namespace}}.{{.Domain}}",
			TagTemplate:           "{{.Tag}}-{{.Name}}",
			IngressClass:          "gateway.gantry.dev",
			DefaultExternalScheme: "http",
			HTTPProtocol:          HTTPProtocolEnabled,
			CertificateClass:      "cert-manager.certificate.networking.knative.dev",
			SystemInternalTLS:     "disabled",
			ClusterLocalDomainTLS: "disabled",
			Limits:                DefaultProxyLimits(),
		},
	}
}

func init() {
	registerConfigMap(ConfigMapAutoscaler, func(data map[string]string, cfg *Config) error {
		c, err := ParseAutoscalerConfig(data)
		if err != nil {
			return err
		}
		cfg.Autoscaler = c
		return nil
	})
}
