// Command crdfix adjusts the CRDs controller-gen writes from the Go types to
// Knative's API rules, which the types alone cannot say: a container's name
// is optional in a revision template (defaulting names it user-container),
// so the containers list is not a map keyed by it; a probe's port is
// optional (it defaults to the serving container's).
//
//	go run ./internal/crdfix ../../deploy/crds/*.yaml
package main

import (
	"fmt"
	"os"
	"slices"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

func main() {
	for _, path := range os.Args[1:] {
		if err := fix(path); err != nil {
			fmt.Fprintln(os.Stderr, "crdfix:", err)
			os.Exit(1)
		}
	}
}

func fix(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(b, &crd); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for i := range crd.Spec.Versions {
		if s := crd.Spec.Versions[i].Schema; s != nil && s.OpenAPIV3Schema != nil {
			walk(s.OpenAPIV3Schema)
		}
	}
	out, err := yaml.Marshal(&crd)
	if err != nil {
		return err
	}
	// Keep controller-gen's layout: a document start, and no status stanza.
	var m map[string]any
	if err := yaml.Unmarshal(out, &m); err != nil {
		return err
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	out, err = yaml.Marshal(m)
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte("---\n"), out...), 0o644)
}

func walk(s *apiextensionsv1.JSONSchemaProps) {
	for name, p := range s.Properties {
		if (name == "containers" || name == "initContainers") && p.Items != nil && p.Items.Schema != nil {
			p.Items.Schema.Required = slices.DeleteFunc(p.Items.Schema.Required, func(r string) bool { return r == "name" })
			// A list keyed by name needs the name: keep the list atomic.
			p.XListType, p.XListMapKeys = nil, nil
		}
		// A probe's port may be left out (Knative defaults it to the
		// serving container's port): Knative's own manifests do.
		if name == "httpGet" || name == "tcpSocket" {
			p.Required = slices.DeleteFunc(p.Required, func(r string) bool { return r == "port" })
			if len(p.Required) == 0 {
				p.Required = nil
			}
		}
		walk(&p)
		s.Properties[name] = p
	}
	if s.Items != nil && s.Items.Schema != nil {
		walk(s.Items.Schema)
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		walk(s.AdditionalProperties.Schema)
	}
}
