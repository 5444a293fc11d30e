package api

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"text/template"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// parseDefaultsInto parses config-defaults (Knative's pkg/apis/config/defaults.go
// keys and checks) and stores it in cfg.Defaults.
func parseDefaultsInto(data map[string]string, cfg *Config) error {
	d, err := parseDefaults(data)
	if err != nil {
		return err
	}
	cfg.Defaults = d
	return nil
}

func parseDefaults(data map[string]string) (DefaultsConfig, error) {
	d := DefaultConfig("").Defaults

	parseStringKey(data, "container-name-template", &d.UserContainerNameTemplate)
	parseStringKey(data, "init-container-name-template", &d.InitContainerNameTemplate)

	// Knative's key is allow-container-concurrency-zero; the longer spelling is
	// accepted as an alias and loses to Knative's key when both are set.
	for _, key := range []string{"allow-container-concurrency-specified-to-zero", "allow-container-concurrency-zero"} {
		if err := parseBoolKey(data, key, &d.AllowContainerConcurrencyZero); err != nil {
			return d, err
		}
	}
	// enable-service-links is tri-state: true, false, or anything else = leave unset.
	if raw, ok := data["enable-service-links"]; ok {
		switch strings.ToLower(strings.TrimSpace(raw)) {
		case "true":
			d.EnableServiceLinks = new(true)
		case "false":
			d.EnableServiceLinks = new(false)
		default:
			d.EnableServiceLinks = nil
		}
	}
	for _, k := range []struct {
		key    string
		target *int64
	}{
		{"revision-timeout-seconds", &d.RevisionTimeoutSeconds},
		{"max-revision-timeout-seconds", &d.MaxRevisionTimeoutSeconds},
		{"revision-idle-timeout-seconds", &d.RevisionIdleTimeoutSeconds},
		{"container-concurrency", &d.ContainerConcurrency},
		{"container-concurrency-max-limit", &d.ContainerConcurrencyMaxLimit},
	} {
		if err := parseInt64Key(data, k.key, k.target); err != nil {
			return d, err
		}
	}
	for _, k := range []struct {
		key    string
		target **resource.Quantity
	}{
		{"revision-cpu-request", &d.RevisionCPURequest},
		{"revision-memory-request", &d.RevisionMemoryRequest},
		{"revision-ephemeral-storage-request", &d.RevisionEphemeralStorageRequest},
		{"revision-cpu-limit", &d.RevisionCPULimit},
		{"revision-memory-limit", &d.RevisionMemoryLimit},
		{"revision-ephemeral-storage-limit", &d.RevisionEphemeralStorageLimit},
	} {
		if err := parseQuantityKey(data, k.key, k.target); err != nil {
			return d, err
		}
	}

	// As in Knative, the response-start timeout defaults to the revision
	// timeout, which SetDefaults then does not apply (it is not smaller).
	d.RevisionResponseStartTimeoutSeconds = d.RevisionTimeoutSeconds
	if err := parseInt64Key(data, "revision-response-start-timeout-seconds", &d.RevisionResponseStartTimeoutSeconds); err != nil {
		return d, err
	}

	if d.RevisionTimeoutSeconds > d.MaxRevisionTimeoutSeconds {
		return d, fmt.Errorf("revision-timeout-seconds (%d) cannot be greater than max-revision-timeout-seconds (%d)",
			d.RevisionTimeoutSeconds, d.MaxRevisionTimeoutSeconds)
	}
	if d.RevisionResponseStartTimeoutSeconds > 0 && d.RevisionResponseStartTimeoutSeconds > d.RevisionTimeoutSeconds {
		return d, fmt.Errorf("revision-response-start-timeout-seconds (%d) cannot be greater than revision-timeout-seconds (%d)",
			d.RevisionResponseStartTimeoutSeconds, d.RevisionTimeoutSeconds)
	}
	if d.RevisionIdleTimeoutSeconds > 0 && d.RevisionIdleTimeoutSeconds > d.RevisionTimeoutSeconds {
		return d, fmt.Errorf("revision-idle-timeout-seconds (%d) cannot be greater than revision-timeout-seconds (%d)",
			d.RevisionIdleTimeoutSeconds, d.RevisionTimeoutSeconds)
	}
	if d.ContainerConcurrencyMaxLimit < 1 {
		return d, ErrOutOfBoundsValue(d.ContainerConcurrencyMaxLimit, 1, math.MaxInt32, "container-concurrency-max-limit")
	}
	if d.ContainerConcurrency < 0 || d.ContainerConcurrency > d.ContainerConcurrencyMaxLimit {
		return d, ErrOutOfBoundsValue(d.ContainerConcurrency, 0, d.ContainerConcurrencyMaxLimit, "container-concurrency")
	}
	for _, k := range [][2]string{
		{"container-name-template", d.UserContainerNameTemplate},
		{"init-container-name-template", d.InitContainerNameTemplate},
	} {
		if err := checkContainerNameTemplate(k[1]); err != nil {
			return d, fmt.Errorf("invalid %s %q: %w", k[0], k[1], err)
		}
	}
	return d, nil
}

// checkContainerNameTemplate renders tmpl for a sample object and checks that
// the result is a valid container name.
func checkContainerNameTemplate(tmpl string) error {
	name, err := renderContainerName(tmpl, metav1.ObjectMeta{Name: "foo", Namespace: "bar"})
	if err != nil {
		return err
	}
	if msgs := validation.IsDNS1123Label(name); len(msgs) > 0 {
		return fmt.Errorf("renders %q for a Service named foo, not a valid container name: %s", name, strings.Join(msgs, "; "))
	}
	return nil
}

// renderContainerName executes a container-name template against the
// metadata of the object that owns the template (the Service or Configuration).
func renderContainerName(tmpl string, meta metav1.ObjectMeta) (string, error) {
	t, err := template.New("container-template").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, meta); err != nil {
		return "", fmt.Errorf("error executing template: %w", err)
	}
	if buf.Len() == 0 {
		return "", errors.New("renders an empty name")
	}
	return buf.String(), nil
}
