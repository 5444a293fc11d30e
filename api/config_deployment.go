package api

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ConfigMapDeployment is Knative's config-deployment.
const ConfigMapDeployment = "config-deployment"

// DeploymentConfig is the part of config-deployment a runtime reads.
type DeploymentConfig struct {
	// RegistriesSkippingTagResolving: images from these registries run by
	// tag, not resolved to a digest (Knative's default: kind.local, ko.local,
	// dev.local).
	RegistriesSkippingTagResolving map[string]bool
	// DigestResolutionTimeout bounds one tag-to-digest resolution (10s).
	DigestResolutionTimeout time.Duration
	// ProgressDeadline is how long a revision has to become ready; 0 when
	// the map does not say: the runtime's default then (Knative's 600s on
	// Kubernetes, 120s under gantry up, to see a stuck revision sooner).
	ProgressDeadline time.Duration
}

// Defaults of progress-deadline when neither the revision nor
// config-deployment sets it: Knative's on Kubernetes, shorter under gantry up,
// to see a stuck revision sooner.
const (
	DefaultProgressDeadline    = 600 * time.Second
	OneMachineProgressDeadline = 120 * time.Second
)

// ProgressDeadline is how long a revision with annotations has to become
// ready: serving.knative.dev/progress-deadline, else d's progress-deadline,
// else fallback.
func ProgressDeadline(annotations map[string]string, d DeploymentConfig, fallback time.Duration) time.Duration {
	if v := annotations[AnnotationProgressDeadline]; v != "" {
		if dur, err := time.ParseDuration(v); err == nil && dur > 0 {
			return dur
		}
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
	}
	if d.ProgressDeadline > 0 {
		return d.ProgressDeadline
	}
	return fallback
}

// DefaultDeploymentConfig is Knative's default config-deployment.
func DefaultDeploymentConfig() DeploymentConfig {
	return DeploymentConfig{
		RegistriesSkippingTagResolving: map[string]bool{"kind.local": true, "ko.local": true, "dev.local": true},
		DigestResolutionTimeout:        10 * time.Second,
	}
}

func init() {
	registerConfigMap(ConfigMapDeployment, parseDeploymentInto)
}

func parseDeploymentInto(data map[string]string, cfg *Config) error {
	d := DefaultDeploymentConfig()
	if v, ok := data["registries-skipping-tag-resolving"]; ok {
		d.RegistriesSkippingTagResolving = map[string]bool{}
		for _, r := range strings.Split(v, ",") {
			if r = strings.TrimSpace(r); r != "" {
				d.RegistriesSkippingTagResolving[r] = true
			}
		}
	}
	for _, k := range []struct {
		key    string
		target *time.Duration
	}{{"digest-resolution-timeout", &d.DigestResolutionTimeout}, {"progress-deadline", &d.ProgressDeadline}} {
		v, ok := data[k.key]
		if !ok {
			continue
		}
		dur, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("failed to parse %q: %w", k.key, err)
		}
		if dur <= 0 {
			return fmt.Errorf("%s must be a positive duration, was %v", k.key, dur)
		}
		*k.target = dur
	}
	cfg.Deployment = d
	return nil
}
