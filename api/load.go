package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Load decodes every document in r (as Decode does), applies SetDefaults and
// checks each object with Validate. ConfigMaps are applied to cfg with
// ParseConfigMap as they come, so a file can configure the objects after it
// (cfg nil means DefaultConfig("")). The first problem stops the load; its
// error names the document, the object and the fields:
//
//	document 2: Service default/hello: missing field(s): spec.template.spec.containers[0].image
func Load(r io.Reader, cfg *Config) ([]Object, error) {
	if cfg == nil {
		cfg = DefaultConfig("")
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(r, maxDocumentBytes)
	var out []Object
	for i := 1; ; i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("document %d: malformed YAML/JSON: %w", i, err)
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		objs, err := Decode(bytes.NewReader(raw))
		if err != nil {
			// Decode numbers this lone document 1; report its place in r.
			if inner := errors.Unwrap(err); inner != nil {
				err = inner
			}
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		for _, obj := range objs {
			SetDefaults(obj, cfg)
			err = Validate(obj, cfg)
			if cm, ok := obj.(*ConfigMap); ok && err == nil {
				err = ParseConfigMap(cm, cfg)
			}
			if err != nil {
				return nil, fmt.Errorf("document %d: %s: %w", i, RefOf(obj), err)
			}
		}
		out = append(out, objs...)
	}
}
