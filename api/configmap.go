package api

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// exampleKey is the ConfigMap key Knative uses for documentation; never parsed.
const exampleKey = "_example"

// configMapParser parses one ConfigMap's data into cfg. It must leave cfg
// untouched when it returns an error.
type configMapParser func(data map[string]string, cfg *Config) error

// configMapParsers maps a ConfigMap name to its parser. Other files of this
// package (config-autoscaler, config-gc) add theirs with registerConfigMap.
var configMapParsers = map[string]configMapParser{
	ConfigMapDefaults: parseDefaultsInto,
	ConfigMapDomain:   parseDomainInto,
	ConfigMapNetwork:  parseNetworkInto,
}

// registerConfigMap makes ParseConfigMap interpret the ConfigMap called name.
// Call it from an init function.
func registerConfigMap(name string, p configMapParser) {
	configMapParsers[name] = p
}

// ParseConfigMap validates a Knative ConfigMap and, when the whole map is
// valid, replaces the matching section of cfg with it (a section not named in
// the map returns to Knative's default, as in Knative). ConfigMaps Gantry does
// not interpret (config-features, config-observability, ...) are accepted and
// leave cfg unchanged. Keys named "_example" are ignored.
func ParseConfigMap(cm *ConfigMap, cfg *Config) error {
	if cm == nil {
		return nil
	}
	p, ok := configMapParsers[cm.Name]
	if !ok {
		return nil
	}
	if cfg == nil {
		cfg = DefaultConfig("")
	}
	data := make(map[string]string, len(cm.Data))
	for k, v := range cm.Data {
		if k != exampleKey {
			data[k] = v
		}
	}
	if err := p(data, cfg); err != nil {
		return fmt.Errorf("ConfigMap %s: %w", cm.Name, err)
	}
	return nil
}

// Helpers that parse one key, if present, with Knative's error wording
// (`failed to parse "key": ...`).

func parseInt64Key(data map[string]string, key string, target *int64) error {
	raw, ok := data[key]
	if !ok {
		return nil
	}
	v, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
	if err != nil {
		return fmt.Errorf("failed to parse %q: %w", key, err)
	}
	*target = v
	return nil
}

func parseBoolKey(data map[string]string, key string, target *bool) error {
	raw, ok := data[key]
	if !ok {
		return nil
	}
	v, err := strconv.ParseBool(strings.TrimSpace(raw))
	if err != nil {
		return fmt.Errorf("failed to parse %q: %w", key, err)
	}
	*target = v
	return nil
}

func parseStringKey(data map[string]string, key string, target *string) {
	if raw, ok := data[key]; ok {
		*target = strings.TrimSpace(raw)
	}
}

func parseQuantityKey(data map[string]string, key string, target **resource.Quantity) error {
	raw, ok := data[key]
	if !ok {
		return nil
	}
	q, err := resource.ParseQuantity(strings.TrimSpace(raw))
	if err != nil {
		return fmt.Errorf("failed to parse %q: %w", key, err)
	}
	*target = &q
	return nil
}
