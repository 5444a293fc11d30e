package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// maxDocumentBytes bounds one YAML/JSON document so a bad file cannot exhaust memory.
const maxDocumentBytes = 4 << 20

// Decode reads every YAML or JSON document in r (several per file, separated by
// "---", or a kind: List) into typed objects. Namespaces default to "default".
// The first bad document fails the whole decode with an error naming it.
func Decode(r io.Reader) ([]Object, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(r, maxDocumentBytes)
	var out []Object
	for i := 1; ; i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("document %d: malformed YAML/JSON: %w", i, err)
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || string(raw) == "null" {
			continue // an empty document between two "---"
		}
		objs, err := decodeOne(raw)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		out = append(out, objs...)
	}
	return out, nil
}

type typeAndName struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Items []json.RawMessage `json:"items"`
}

func decodeOne(raw []byte) ([]Object, error) {
	var tn typeAndName
	if err := json.Unmarshal(raw, &tn); err != nil {
		return nil, fmt.Errorf("not an object: %w", err)
	}
	if tn.Kind == "" {
		if tn.Metadata.Name != "" {
			// Name the object, so the user can find it in a long file.
			return nil, fmt.Errorf("object %q: missing field(s): kind", tn.Metadata.Name)
		}
		return nil, errors.New("missing field(s): kind")
	}
	if tn.APIVersion == "" {
		return nil, fmt.Errorf("%s %q: missing field(s): apiVersion", tn.Kind, tn.Metadata.Name)
	}
	if tn.Kind == "List" {
		var out []Object
		for j, item := range tn.Items {
			objs, err := decodeOne(item)
			if err != nil {
				return nil, fmt.Errorf("items[%d]: %w", j, err)
			}
			out = append(out, objs...)
		}
		return out, nil
	}
	gv, err := schema.ParseGroupVersion(tn.APIVersion)
	if err != nil {
		return nil, fmt.Errorf("%s %q: invalid apiVersion %q", tn.Kind, tn.Metadata.Name, tn.APIVersion)
	}
	if !supported(gv, tn.Kind) {
		return nil, fmt.Errorf("%s %q: unsupported kind %s (Gantry applies serving.knative.dev Service, Configuration, Revision, Route, DomainMapping and v1 ConfigMap, Secret)",
			tn.Kind, tn.Metadata.Name, gv.WithKind(tn.Kind).String())
	}
	obj, err := New(tn.Kind)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, obj); err != nil {
		return nil, fmt.Errorf("%s %q: %s", tn.Kind, tn.Metadata.Name, cleanJSONError(err))
	}
	// Keep the group Gantry stores under; v1alpha1 DomainMappings become v1beta1.
	want, _ := New(tn.Kind)
	obj.GetObjectKind().SetGroupVersionKind(want.GetObjectKind().GroupVersionKind())
	if obj.GetNamespace() == "" {
		obj.SetNamespace("default")
		// Knative's ConfigMaps live in knative-serving; a manifest that names
		// no namespace means them.
		if tn.Kind == KindConfigMap && strings.HasPrefix(tn.Metadata.Name, "config-") {
			obj.SetNamespace(ConfigNamespace)
		}
	}
	return []Object{obj}, nil
}

func supported(gv schema.GroupVersion, kind string) bool {
	switch kind {
	case KindService, KindConfiguration, KindRevision, KindRoute:
		return (gv.Group == GroupKnative || gv.Group == GroupGantry) && gv.Version == "v1"
	case KindDomainMapping:
		return (gv.Group == GroupKnative || gv.Group == GroupGantry) && (gv.Version == "v1beta1" || gv.Version == "v1alpha1" || gv.Version == "v1")
	case KindConfigMap, KindSecret:
		return gv.Group == "" && gv.Version == "v1"
	}
	return false
}

// cleanJSONError turns encoding/json's Go-flavoured errors into field paths.
func cleanJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("invalid value at %s: got %s, want %s", te.Field, te.Value, strings.TrimPrefix(te.Type.String(), "*"))
	}
	return err.Error()
}
