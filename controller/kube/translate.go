package kube

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Translate reads YAML or JSON documents and writes them as YAML for
// kubectl apply on a cluster running Gantry: Knative's serving.knative.dev
// Service, Configuration, Revision, Route and DomainMapping become
// serving.gantry.dev/v1 (items of a List too); every other document passes
// through unchanged. Labels and annotations keep Knative's keys.
func Translate(r io.Reader, w io.Writer) error {
	dec := utilyaml.NewYAMLOrJSONDecoder(r, 4<<20)
	first := true
	for i := 1; ; i++ {
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("document %d: %w", i, err)
		}
		if doc == nil {
			continue
		}
		translateDoc(doc)
		b, err := yaml.Marshal(doc)
		if err != nil {
			return fmt.Errorf("document %d: %w", i, err)
		}
		if !first {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		first = false
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
}

func translateDoc(doc map[string]any) {
	av, _ := doc["apiVersion"].(string)
	kind, _ := doc["kind"].(string)
	if kind == "List" || kind == "" {
		if items, ok := doc["items"].([]any); ok {
			for _, it := range items {
				if m, ok := it.(map[string]any); ok {
					translateDoc(m)
				}
			}
		}
		return
	}
	doc["apiVersion"] = TranslateAPIVersion(av, kind)
	// A DomainMapping's ref names a Knative Service: point it at Gantry's.
	if spec, ok := doc["spec"].(map[string]any); ok && kind == "DomainMapping" {
		if ref, ok := spec["ref"].(map[string]any); ok {
			if rav, _ := ref["apiVersion"].(string); rav != "" {
				rk, _ := ref["kind"].(string)
				ref["apiVersion"] = TranslateAPIVersion(rav, rk)
			}
		}
	}
}

// TranslateJSON is Translate for one JSON object.
func TranslateJSON(in []byte) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(in, &doc); err != nil {
		return nil, err
	}
	translateDoc(doc)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(buf.Bytes()), nil
}
