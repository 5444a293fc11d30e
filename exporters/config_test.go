package exporters

import (
	"testing"
	"time"
)

func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestConfigFromEnv(t *testing.T) {
	c, err := ConfigFromEnv(envOf())
	if err != nil || c.TracingEnabled() || c.MetricsEnabled() {
		t.Fatalf("empty env: %+v %v: want everything off", c, err)
	}
	c, err = ConfigFromEnv(envOf("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/",
		"OTEL_TRACES_SAMPLER", "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG", "0.01",
		"OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod,team=a%20b", "OTEL_SERVICE_NAME", "svc",
		"OTEL_METRIC_EXPORT_INTERVAL", "1500", "OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer x"))
	if err != nil {
		t.Fatal(err)
	}
	if c.TracesProtocol != ProtocolHTTP || c.TracesEndpoint != "http://collector:4318/v1/traces" ||
		c.MetricsEndpoint != "http://collector:4318/v1/metrics" || !c.TracingEnabled() || !c.MetricsEnabled() {
		t.Errorf("endpoints: %+v", c)
	}
	if c.SamplingRatio != 0.01 || c.ServiceName != "svc" || c.ResourceAttrs["team"] != "a b" ||
		c.MetricsInterval != 1500*time.Millisecond || c.Headers["authorization"] != "Bearer x" {
		t.Errorf("settings: %+v", c)
	}
	if got := c.NewSampler().Description(); got != "ParentBased{root:TraceIDRatioBased{0.01},remoteParentSampled:AlwaysOnSampler,remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler,localParentNotSampled:AlwaysOffSampler}" {
		t.Errorf("sampler %s", got)
	}
	c, err = ConfigFromEnv(envOf("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:4317", "OTEL_METRICS_EXPORTER", "none"))
	if err != nil || c.TracesEndpoint != "http://t:4317" || c.TracesProtocol != ProtocolGRPC || c.MetricsEnabled() {
		t.Errorf("grpc: %+v %v", c, err)
	}
	c, _ = ConfigFromEnv(envOf("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318", "OTEL_SDK_DISABLED", "true"))
	if c.TracingEnabled() {
		t.Error("OTEL_SDK_DISABLED ignored")
	}
	for _, bad := range [][]string{
		{"OTEL_EXPORTER_OTLP_PROTOCOL", "thrift"},
		{"OTEL_TRACES_SAMPLER", "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG", "2"},
		{"OTEL_TRACES_SAMPLER", "jaeger_remote"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://x"},
		{"OTEL_METRIC_EXPORT_INTERVAL", "soon"},
	} {
		if _, err := ConfigFromEnv(envOf(bad...)); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestApplyObservability(t *testing.T) {
	var c Config
	if err := c.ApplyObservability(map[string]string{"tracing-protocol": "grpc", "tracing-endpoint": "otel:4317",
		"tracing-sampling-rate": "0.5", "metrics-protocol": "http/protobuf", "metrics-endpoint": "http://otel:4318/v1/metrics",
		"metrics-export-interval": "10s"}); err != nil {
		t.Fatal(err)
	}
	if c.TracesEndpoint != "http://otel:4317" || c.SamplingRatio != 0.5 || c.MetricsEndpoint != "http://otel:4318/v1/metrics" ||
		c.MetricsInterval != 10*time.Second || !c.TracingEnabled() || !c.MetricsEnabled() {
		t.Errorf("%+v", c)
	}
	env := c.Env()
	if env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] != "http://otel:4317" || env["OTEL_TRACES_SAMPLER_ARG"] != "0.5" ||
		env["OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"] != "http/protobuf" || env["OTEL_METRIC_EXPORT_INTERVAL"] != "10000" {
		t.Errorf("env %v", env)
	}
	// Round trip through the child's environment.
	back, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil || back.TracesEndpoint != c.TracesEndpoint || back.SamplingRatio != 0.5 || back.TracesProtocol != ProtocolGRPC {
		t.Errorf("round trip %+v %v", back, err)
	}
	if err := c.ApplyObservability(map[string]string{"tracing-protocol": "none"}); err != nil || c.TracingEnabled() {
		t.Errorf("none: %+v %v", c, err)
	}
	for _, bad := range []map[string]string{
		{"tracing-endpoint": "http://x"},
		{"tracing-protocol": "grpc"},
		{"tracing-protocol": "zipkin", "tracing-endpoint": "http://x"},
		{"tracing-sampling-rate": "1.1"},
		{"tracing-sampling-rate": "-1"},
		{"metrics-protocol": "grpc"},
		{"metrics-export-interval": "0s"},
	} {
		var c Config
		if err := c.ApplyObservability(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestResource(t *testing.T) {
	c := Config{ResourceAttrs: map[string]string{"k8s.cluster.name": "c1"}}
	res := NewResource(ResourceInfo{Namespace: "default", Pod: "hello-00001-1", KnService: "hello",
		Configuration: "hello", Revision: "hello-00001", Container: "queue-proxy"}, c)
	got := map[string]string{}
	for _, kv := range res.Attributes() {
		got[string(kv.Key)] = kv.Value.Emit()
	}
	for k, v := range map[string]string{"service.name": "hello", "k8s.namespace.name": "default", "k8s.pod.name": "hello-00001-1",
		"kn.revision.name": "hello-00001", "kn.service.name": "hello", "k8s.container.name": "queue-proxy", "k8s.cluster.name": "c1"} {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	c.ServiceName = "override"
	for _, kv := range NewResource(ResourceInfo{KnService: "hello"}, c).Attributes() {
		if kv.Key == "service.name" && kv.Value.Emit() != "override" {
			t.Errorf("OTEL_SERVICE_NAME not applied: %s", kv.Value.Emit())
		}
	}
}
