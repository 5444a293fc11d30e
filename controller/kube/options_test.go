package kube

import "testing"

func TestDefaultAutoscalerURL(t *testing.T) {
	env := map[string]string{}
	get := func(k string) string { return env[k] }
	if got, want := defaultAutoscalerURL("gantry-system", get), "http://gantry-autoscaler.gantry-system.svc:8082"; got != want {
		t.Errorf("without service variables: got %q, want %q", got, want)
	}
	env["GANTRY_AUTOSCALER_SERVICE_HOST"] = "10.96.4.7"
	if got, want := defaultAutoscalerURL("gantry-system", get), "http://gantry-autoscaler.gantry-system.svc:8082"; got != want {
		t.Errorf("host without the poke port: got %q, want %q", got, want)
	}
	env["GANTRY_AUTOSCALER_SERVICE_PORT_POKE"] = "8082"
	if got, want := defaultAutoscalerURL("gantry-system", get), "http://10.96.4.7:8082"; got != want {
		t.Errorf("with service variables: got %q, want %q", got, want)
	}
	env["GANTRY_AUTOSCALER_SERVICE_HOST"] = "fd00::12"
	if got, want := defaultAutoscalerURL("gantry-system", get), "http://[fd00::12]:8082"; got != want {
		t.Errorf("IPv6: got %q, want %q", got, want)
	}
}
