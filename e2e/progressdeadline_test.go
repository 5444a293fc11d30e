package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestProgressDeadlineFromConfig: config-deployment's progress-deadline is
// how long a revision without serving.knative.dev/progress-deadline has to
// become ready, as in Knative; the annotation still wins.
func TestProgressDeadlineFromConfig(t *testing.T) {
	s := startStack(t, t.TempDir())
	s.mustGantry(`apiVersion: v1
kind: ConfigMap
metadata: {name: config-deployment, namespace: knative-serving}
data: {progress-deadline: 3s}
`, "apply", "-f", "-")
	never := `readinessProbe: {httpGet: {path: "/?status=503"}}` // the sample app answers 503 there
	s.mustGantry(svcYAML("stuck", "gantry/sample-app", never, "", ""), "apply", "-f", "-")
	s.mustGantry(svcYAML("patient", "gantry/sample-app", never, "", "serving.knative.dev/progress-deadline: 7s"), "apply", "-f", "-")
	if m := s.waitRevisionReason("stuck-00001", "ProgressDeadlineExceeded", 60*time.Second); !strings.Contains(m, "within 3s") {
		t.Errorf("stuck-00001: %q, want the config's 3s", m)
	}
	if m := s.waitRevisionReason("patient-00001", "ProgressDeadlineExceeded", 60*time.Second); !strings.Contains(m, "within 7s") {
		t.Errorf("patient-00001: %q, want the annotation's 7s", m)
	}
}
