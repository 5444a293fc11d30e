package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRevisionGC: with config-gc keeping at most one non-active revision,
// exactly the revisions Knative's rules keep remain: the latest ready, the
// one marked no-gc, and the newest non-active one.
func TestRevisionGC(t *testing.T) {
	s := startStack(t, "")
	s.mustGantry(`apiVersion: v1
kind: ConfigMap
metadata:
  name: config-gc
data:
  retain-since-create-time: "disabled"
  retain-since-last-active-time: "disabled"
  min-non-active-revisions: "0"
  max-non-active-revisions: "1"
`, "apply", "-f", "-")
	for i := 1; i <= 4; i++ {
		ann := ""
		if i == 2 {
			ann = "\n    metadata:\n      annotations:\n        serving.knative.dev/no-gc: \"true\""
		}
		s.mustGantry(fmt.Sprintf(`apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: gc
spec:
  template:%s
    spec:
      containers:
        - image: gantry/sample-app
          env: [{name: TARGET, value: "v%d"}]
`, ann, i), "apply", "-f", "-")
		s.waitServing("gc.default.localhost", fmt.Sprintf("Hello v%d!", i))
	}
	want := []string{"gc-00002", "gc-00003", "gc-00004"}
	var last string
	waitFor(t, 30*time.Second, "GC to leave "+strings.Join(want, ", "), func() bool {
		var list struct {
			Items []struct {
				Metadata struct{ Name string } `json:"metadata"`
			} `json:"items"`
		}
		if err := s.getJSON("/api/v1/revisions?namespace=default&labelSelector=serving.knative.dev/service=gc", &list); err != nil {
			return false
		}
		var names []string
		for _, it := range list.Items {
			names = append(names, it.Metadata.Name)
		}
		last = strings.Join(names, ", ")
		return last == strings.Join(want, ", ")
	})
	if last != strings.Join(want, ", ") {
		t.Fatalf("revisions left: %s", last)
	}
	// The route still serves the latest.
	s.waitServing("gc.default.localhost", "Hello v4!")
}
