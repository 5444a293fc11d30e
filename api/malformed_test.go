package api

import (
	"strings"
	"testing"
)

// TestMalformedInput feeds broken manifests through Load (Decode, SetDefaults,
// Validate) and checks the error says which document, which object and which
// field is wrong.
func TestMalformedInput(t *testing.T) {
	const good = "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: ok\nspec:\n  template:\n    spec:\n      containers:\n      - image: nginx\n---\n"
	tests := []struct {
		name string
		yaml string
		want []string // substrings the error must contain
	}{{
		name: "bad YAML",
		yaml: good + "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: [\n",
		want: []string{"document 2", "malformed YAML/JSON"},
	}, {
		name: "unknown kind",
		yaml: good + "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n",
		want: []string{"document 2", `Deployment "web"`, "unsupported kind"},
	}, {
		name: "missing kind",
		yaml: good + "apiVersion: serving.knative.dev/v1\nmetadata:\n  name: nokind\n",
		want: []string{"document 2", `"nokind"`, "missing field(s): kind"},
	}, {
		name: "missing apiVersion",
		yaml: good + "kind: Service\nmetadata:\n  name: noversion\n",
		want: []string{"document 2", `Service "noversion"`, "missing field(s): apiVersion"},
	}, {
		name: "wrong field type",
		yaml: good + "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: typed\nspec:\n  template:\n    spec:\n      timeoutSeconds: soon\n",
		want: []string{"document 2", `Service "typed"`, "timeoutSeconds"},
	}, {
		name: "invalid name",
		yaml: good + "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: Bad_Name\n  namespace: web\nspec:\n  template:\n    spec:\n      containers:\n      - image: nginx\n",
		want: []string{"document 2", "Service web/Bad_Name", "not a DNS 1035 label", "metadata.name"},
	}, {
		name: "invalid field",
		yaml: good + "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: slow\nspec:\n  template:\n    spec:\n      timeoutSeconds: 900\n      containers:\n      - image: nginx\n",
		want: []string{"document 2", "Service default/slow", "expected 0 <= 900 <= 600: spec.template.spec.timeoutSeconds"},
	}, {
		name: "invalid config map",
		yaml: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-network\n  namespace: knative-serving\ndata:\n  http-protocol: sometimes\n",
		want: []string{"document 1", "ConfigMap knative-serving/config-network", "http-protocol"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(strings.NewReader(tt.yaml), nil)
			if err == nil {
				t.Fatal("Load accepted malformed input")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestLoadAppliesConfigMaps checks a ConfigMap earlier in a file configures
// the objects after it.
func TestLoadAppliesConfigMaps(t *testing.T) {
	in := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-defaults\n  namespace: knative-serving\ndata:\n  max-revision-timeout-seconds: \"1200\"\n---\n" +
		"apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: slow\nspec:\n  template:\n    spec:\n      timeoutSeconds: 900\n      containers:\n      - image: nginx\n"
	cfg := DefaultConfig("")
	objs, err := Load(strings.NewReader(in), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || cfg.Defaults.MaxRevisionTimeoutSeconds != 1200 {
		t.Errorf("got %d objects, max timeout %d", len(objs), cfg.Defaults.MaxRevisionTimeoutSeconds)
	}
}
