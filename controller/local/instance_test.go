package local

import (
	"testing"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/controller/podspec"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The queue-proxy gets the runtime settings its benchmarks are measured with.
func TestQueueProxyEnvRuntimeSettings(t *testing.T) {
	t.Setenv("GOMAXPROCS", "")
	t.Setenv("GODEBUG", "")
	rev := &api.Revision{ObjectMeta: metav1.ObjectMeta{Name: "hello-00001", Namespace: "default",
		Labels: map[string]string{api.LabelService: "hello", api.LabelConfiguration: "hello"}}}
	in := &instance{name: "hello-00001-1", rev: rev, rt: &Runtime{}}
	env := in.queueProxyEnv(8080, &podspec.Container{}, map[string]string{"GANTRY_APP_PID": "42"})
	if env["GOMAXPROCS"] != "1" || env["GODEBUG"] != "schedtrace=2147483647" {
		t.Errorf("GOMAXPROCS=%q GODEBUG=%q", env["GOMAXPROCS"], env["GODEBUG"])
	}
	if env["USER_PORT"] != "8080" || env["GANTRY_APP_PID"] != "42" || env["SERVING_SERVICE"] != "hello" {
		t.Errorf("env %v", env)
	}
	t.Setenv("GODEBUG", "gctrace=1")
	if got := in.queueProxyEnv(8080, &podspec.Container{}, map[string]string{"GANTRY_APP_PID": "42"})["GODEBUG"]; got != "gctrace=1,schedtrace=2147483647" {
		t.Errorf("GODEBUG %q keeps the user's settings and adds the sysmon one", got)
	}
}
