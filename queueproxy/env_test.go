package queueproxy

import (
	"strings"
	"testing"
	"time"
)

func TestLoadEnv(t *testing.T) {
	e, err := LoadEnv(testEnv(8080, "CONTAINER_CONCURRENCY", "10", "REVISION_TIMEOUT_SECONDS", "60",
		"REVISION_RESPONSE_START_TIMEOUT_SECONDS", "5", "QUEUE_SERVING_PORT", "8012",
		"SERVING_READINESS_PROBE", `{"httpGet":{"path":"healthz","port":0,"httpHeaders":[{"name":"X","value":"y"}]},"successThreshold":2}`))
	if err != nil {
		t.Fatal(err)
	}
	if e.UserPort != 8080 || e.ContainerConcurrency != 10 || e.RevisionTimeout != time.Minute ||
		e.ResponseStartTimeout != 5*time.Second || e.IdleTimeout != 0 || e.ServingPort != 8012 {
		t.Errorf("env %+v", e)
	}
	g := e.ReadinessProbe.HTTPGet
	if g == nil || g.Path != "/healthz" || g.Port != 8080 || g.Host != "127.0.0.1" || g.Scheme != "http" ||
		e.ReadinessProbe.SuccessThreshold != 2 {
		t.Errorf("probe %+v %+v", e.ReadinessProbe, g)
	}
	e, err = LoadEnv(testEnv(8080))
	if err != nil || e.ReadinessProbe.TCPSocket == nil || e.ReadinessProbe.TCPSocket.Port != 8080 ||
		e.RevisionTimeout != 300*time.Second {
		t.Errorf("defaults: %+v %v", e, err)
	}
	// Knative's multi-container array form and a named port.
	e, err = LoadEnv(testEnv(8080, "SERVING_READINESS_PROBE", `[{"tcpSocket":{"port":"http1"},"periodSeconds":3}]`))
	if err != nil || e.ReadinessProbe.TCPSocket == nil || e.ReadinessProbe.TCPSocket.Port != 8080 ||
		e.ReadinessProbe.PeriodSeconds != 3 {
		t.Errorf("array form: %+v %v", e.ReadinessProbe, err)
	}
}

func TestLoadEnvErrorsNameTheVariable(t *testing.T) {
	for _, tc := range [][]string{
		{"USER_PORT", ""},
		{"USER_PORT", "http"},
		{"USER_PORT", "70000"},
		{"CONTAINER_CONCURRENCY", "-1"},
		{"CONTAINER_CONCURRENCY", "ten"},
		{"REVISION_TIMEOUT_SECONDS", "1.5"},
		{"REVISION_RESPONSE_START_TIMEOUT_SECONDS", "x"},
		{"REVISION_IDLE_TIMEOUT_SECONDS", "-3"},
		{"QUEUE_SERVING_PORT", "0"},
		{"GANTRY_APP_PID", "pid"},
		{"SERVING_READINESS_PROBE", "{"},
		{"SERVING_READINESS_PROBE", `{"periodSeconds":1}`},
		{"SERVING_READINESS_PROBE", `{"httpGet":{"scheme":"FTP"}}`},
	} {
		_, err := LoadEnv(testEnv(8080, tc...))
		if err == nil || !strings.Contains(err.Error(), tc[0]) {
			t.Errorf("%s=%q: error %v does not name the variable", tc[0], tc[1], err)
		}
	}
}

func TestParseFlags(t *testing.T) {
	o, _, err := parseFlags([]string{"--metrics-port=0", "--drain-quiet-period=1s", "--app-pid=42"},
		testEnv(8080, "QUEUE_SERVING_PORT", "8111"))
	if err != nil {
		t.Fatal(err)
	}
	if o.ports != (Ports{HTTP: 8111, H2C: 8013, Admin: 8022, Stats: 9090, Metrics: 0}) || o.quiet != time.Second || o.appPID != 42 {
		t.Errorf("options %+v", o)
	}
	if _, _, err := parseFlags([]string{"--http-port=x"}, testEnv(8080)); err == nil {
		t.Error("bad flag accepted")
	}
	if _, _, err := parseFlags(nil, testEnv(8080, "USER_PORT", "")); err == nil || !strings.Contains(err.Error(), "USER_PORT") {
		t.Errorf("missing USER_PORT: %v", err)
	}
}
