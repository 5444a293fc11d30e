package exporters

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Protocols of an OTLP exporter, spelled as OTEL_EXPORTER_OTLP_PROTOCOL and
// Knative's tracing-protocol / metrics-protocol spell them.
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http/protobuf"
	ProtocolNone = "none"
)

// LocalTracesEndpointEnv names the OTLP/HTTP traces URL of gantry up's
// in-memory trace store; the local runtime sets it for each queue-proxy.
const LocalTracesEndpointEnv = "GANTRY_TRACES_LOCAL_ENDPOINT"

// Config is where traces and metrics go and how traces are sampled. The zero
// value exports nothing: tracing and OTLP metrics are off.
type Config struct {
	TracesProtocol  string // grpc | http/protobuf; "" or none: no OTLP trace export
	TracesEndpoint  string // full URL (http/protobuf: including /v1/traces)
	MetricsProtocol string // grpc | http/protobuf; "" or none: no OTLP metrics
	MetricsEndpoint string
	MetricsInterval time.Duration     // 0: 60s
	Headers         map[string]string // OTEL_EXPORTER_OTLP_HEADERS

	// LocalTracesEndpoint is an extra OTLP/HTTP traces URL (gantry up's store).
	LocalTracesEndpoint string

	// SamplingRatio is the parent-based trace-id ratio for new traces, in [0, 1].
	SamplingRatio float64
	// Sampler is an OTEL_TRACES_SAMPLER name; "" means parentbased_traceidratio.
	Sampler string

	ServiceName   string            // OTEL_SERVICE_NAME
	ResourceAttrs map[string]string // OTEL_RESOURCE_ATTRIBUTES
	Disabled      bool              // OTEL_SDK_DISABLED=true
}

// TracingEnabled reports whether spans go anywhere. When false the request
// path gets no tracer at all.
func (c Config) TracingEnabled() bool {
	if c.Disabled {
		return false
	}
	if c.Sampler == "always_off" || c.Sampler == "parentbased_always_off" {
		return false
	}
	return c.exportsTraces() || c.LocalTracesEndpoint != ""
}

func (c Config) exportsTraces() bool {
	return c.TracesEndpoint != "" && c.TracesProtocol != "" && c.TracesProtocol != ProtocolNone
}

// MetricsEnabled reports whether metrics are exported over OTLP.
func (c Config) MetricsEnabled() bool {
	return !c.Disabled && c.MetricsEndpoint != "" && c.MetricsProtocol != "" && c.MetricsProtocol != ProtocolNone
}

// NewSampler returns the configured sampler; the default is
// parentbased_traceidratio with SamplingRatio, as Knative samples.
func (c Config) NewSampler() sdktrace.Sampler {
	ratio := sdktrace.TraceIDRatioBased(c.SamplingRatio)
	switch c.Sampler {
	case "always_on":
		return sdktrace.AlwaysSample()
	case "always_off":
		return sdktrace.NeverSample()
	case "traceidratio":
		return ratio
	case "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample())
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample())
	}
	return sdktrace.ParentBased(ratio)
}

// ConfigFromEnv reads the standard OpenTelemetry SDK variables (and
// GANTRY_TRACES_LOCAL_ENDPOINT). Errors name the offending variable.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	c := Config{SamplingRatio: 1, ServiceName: get("OTEL_SERVICE_NAME"), LocalTracesEndpoint: get(LocalTracesEndpointEnv)}
	if strings.EqualFold(get("OTEL_SDK_DISABLED"), "true") {
		c.Disabled = true
	}
	proto := strings.ToLower(get("OTEL_EXPORTER_OTLP_PROTOCOL"))
	if proto == "" {
		proto = ProtocolHTTP // the specification's default
	}
	base := get("OTEL_EXPORTER_OTLP_ENDPOINT")
	var err error
	for _, sig := range []struct {
		name, path string
		proto, ep  *string
	}{{"TRACES", "/v1/traces", &c.TracesProtocol, &c.TracesEndpoint}, {"METRICS", "/v1/metrics", &c.MetricsProtocol, &c.MetricsEndpoint}} {
		p := strings.ToLower(get("OTEL_EXPORTER_OTLP_" + sig.name + "_PROTOCOL"))
		if p == "" {
			p = proto
		}
		if p != ProtocolGRPC && p != ProtocolHTTP && p != "http/json" {
			return c, fmt.Errorf("OTEL_EXPORTER_OTLP_%s_PROTOCOL=%q: want grpc or http/protobuf", sig.name, p)
		}
		if p == "http/json" {
			p = ProtocolHTTP // Go's exporters speak protobuf only
		}
		ep := get("OTEL_EXPORTER_OTLP_" + sig.name + "_ENDPOINT")
		if ep == "" && base != "" {
			ep = base
			if p == ProtocolHTTP {
				ep = strings.TrimSuffix(base, "/") + sig.path
			}
		}
		if ep != "" {
			if ep, err = normalizeEndpoint(ep, p); err != nil {
				return c, fmt.Errorf("OTEL_EXPORTER_OTLP_%s_ENDPOINT: %w", sig.name, err)
			}
		}
		*sig.proto, *sig.ep = p, ep
	}
	if strings.EqualFold(get("OTEL_TRACES_EXPORTER"), "none") {
		c.TracesEndpoint = ""
	}
	if strings.EqualFold(get("OTEL_METRICS_EXPORTER"), "none") {
		c.MetricsEndpoint = ""
	}
	if v := get("OTEL_METRIC_EXPORT_INTERVAL"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			return c, fmt.Errorf("OTEL_METRIC_EXPORT_INTERVAL=%q: want milliseconds > 0", v)
		}
		c.MetricsInterval = time.Duration(ms) * time.Millisecond
	}
	if c.Headers, err = parseKV(get("OTEL_EXPORTER_OTLP_HEADERS")); err != nil {
		return c, fmt.Errorf("OTEL_EXPORTER_OTLP_HEADERS: %w", err)
	}
	if c.ResourceAttrs, err = parseKV(get("OTEL_RESOURCE_ATTRIBUTES")); err != nil {
		return c, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	c.Sampler = strings.ToLower(get("OTEL_TRACES_SAMPLER"))
	switch c.Sampler {
	case "", "always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio":
	default:
		return c, fmt.Errorf("OTEL_TRACES_SAMPLER=%q: unsupported sampler", c.Sampler)
	}
	if v := get("OTEL_TRACES_SAMPLER_ARG"); v != "" && (c.Sampler == "traceidratio" || c.Sampler == "parentbased_traceidratio") {
		if c.SamplingRatio, err = parseRatio(v); err != nil {
			return c, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG: %w", err)
		}
	}
	return c, nil
}

// Knative's config-observability keys (knative.dev/pkg/observability).
const (
	ConfigMapObservability = "config-observability"

	keyTracingProtocol = "tracing-protocol"
	keyTracingEndpoint = "tracing-endpoint"
	keyTracingRate     = "tracing-sampling-rate"
	keyMetricsProtocol = "metrics-protocol"
	keyMetricsEndpoint = "metrics-endpoint"
	keyMetricsInterval = "metrics-export-interval"
)

// ApplyObservability overlays Knative's config-observability data on c, with
// Knative's rules: tracing-protocol none (the default) with no endpoint,
// grpc or http/protobuf with one, a sampling rate in [0, 1]. A map that does
// not mention tracing (or metrics) leaves that part of c as it was, so the
// OTEL_* variables still apply. metrics-protocol prometheus is Gantry's
// always-on 9091 endpoint and changes nothing here.
func (c *Config) ApplyObservability(data map[string]string) error {
	get := func(k string) string { return strings.TrimSpace(data[k]) }
	if p, ep := strings.ToLower(get(keyTracingProtocol)), get(keyTracingEndpoint); p != "" || ep != "" {
		switch p {
		case "", ProtocolNone:
			if ep != "" {
				return fmt.Errorf("%s: set while %s is none", keyTracingEndpoint, keyTracingProtocol)
			}
			c.TracesProtocol, c.TracesEndpoint = ProtocolNone, ""
		case ProtocolGRPC, ProtocolHTTP:
			if ep == "" {
				return fmt.Errorf("%s: required with %s %s", keyTracingEndpoint, keyTracingProtocol, p)
			}
			n, err := normalizeEndpoint(ep, p)
			if err != nil {
				return fmt.Errorf("%s: %w", keyTracingEndpoint, err)
			}
			c.TracesProtocol, c.TracesEndpoint = p, n
		default:
			return fmt.Errorf("%s %q: want none, grpc or http/protobuf", keyTracingProtocol, p)
		}
	}
	if v := get(keyTracingRate); v != "" {
		r, err := parseRatio(v)
		if err != nil {
			return fmt.Errorf("%s: %w", keyTracingRate, err)
		}
		c.SamplingRatio, c.Sampler = r, "parentbased_traceidratio"
	}
	if p, ep := strings.ToLower(get(keyMetricsProtocol)), get(keyMetricsEndpoint); p != "" || ep != "" {
		switch p {
		case "", ProtocolNone, "prometheus":
			c.MetricsProtocol, c.MetricsEndpoint = ProtocolNone, ""
		case ProtocolGRPC, ProtocolHTTP:
			if ep == "" {
				return fmt.Errorf("%s: required with %s %s", keyMetricsEndpoint, keyMetricsProtocol, p)
			}
			n, err := normalizeEndpoint(ep, p)
			if err != nil {
				return fmt.Errorf("%s: %w", keyMetricsEndpoint, err)
			}
			c.MetricsProtocol, c.MetricsEndpoint = p, n
		default:
			return fmt.Errorf("%s %q: want prometheus, none, grpc or http/protobuf", keyMetricsProtocol, p)
		}
	}
	if v := get(keyMetricsInterval); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("%s %q: want a positive duration", keyMetricsInterval, v)
		}
		c.MetricsInterval = d
	}
	return nil
}

// Env returns the OTEL_* variables that make a child process (a
// queue-proxy) export and sample as c does.
func (c Config) Env() map[string]string {
	env := map[string]string{}
	if c.exportsTraces() {
		env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = c.TracesEndpoint
		env["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] = c.TracesProtocol
	}
	if c.MetricsEnabled() {
		env["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"] = c.MetricsEndpoint
		env["OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"] = c.MetricsProtocol
		if c.MetricsInterval > 0 {
			env["OTEL_METRIC_EXPORT_INTERVAL"] = strconv.FormatInt(c.MetricsInterval.Milliseconds(), 10)
		}
	}
	if c.LocalTracesEndpoint != "" {
		env[LocalTracesEndpointEnv] = c.LocalTracesEndpoint
	}
	if c.TracingEnabled() {
		s := c.Sampler
		if s == "" {
			s = "parentbased_traceidratio"
		}
		env["OTEL_TRACES_SAMPLER"] = s
		env["OTEL_TRACES_SAMPLER_ARG"] = strconv.FormatFloat(c.SamplingRatio, 'g', -1, 64)
	}
	return env
}

// normalizeEndpoint turns an endpoint into a URL. A gRPC endpoint without a
// scheme (Knative's host:port form) is taken as plaintext http://.
func normalizeEndpoint(ep, proto string) (string, error) {
	if !strings.Contains(ep, "://") {
		if proto == ProtocolGRPC {
			ep = "http://" + ep
		} else {
			ep = "https://" + ep
		}
	}
	u, err := url.Parse(ep)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("%q: want an http:// or https:// URL", ep)
	}
	return u.String(), nil
}

func parseRatio(v string) (float64, error) {
	r, err := strconv.ParseFloat(v, 64)
	if err != nil || r < 0 || r > 1 {
		return 0, fmt.Errorf("%q: want a number in [0, 1]", v)
	}
	return r, nil
}

// parseKV reads the k1=v1,k2=v2 lists of OTEL_RESOURCE_ATTRIBUTES and
// OTEL_EXPORTER_OTLP_HEADERS (values percent-encoded).
func parseKV(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%q: want key=value", kv)
		}
		if dv, err := url.PathUnescape(strings.TrimSpace(v)); err == nil {
			v = dv
		}
		m[k] = v
	}
	return m, nil
}
