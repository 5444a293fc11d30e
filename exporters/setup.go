package exporters

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promBridge "go.opentelemetry.io/contrib/bridges/prometheus"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Options configures Setup. The zero value (with a Config from
// ConfigFromEnv) is valid.
type Options struct {
	Config   Config
	Resource ResourceInfo
	// Gatherer is bridged to OTLP metrics when Config.MetricsEnabled.
	Gatherer prometheus.Gatherer
	// Store, when set, also receives every sampled span of this process.
	Store  *Store
	Logger *slog.Logger
	// BatchTimeout bounds how long an ended span waits to be exported
	// (default: OTEL_BSP_SCHEDULE_DELAY, else 5s; the Store's 500ms).
	BatchTimeout time.Duration
}

// Telemetry is a process's OpenTelemetry pipeline.
type Telemetry struct {
	// TracerProvider is nil when tracing is off: callers skip all tracing work.
	TracerProvider trace.TracerProvider
	// SDK is the same provider, for tests and for ForceFlush; nil when off.
	SDK *sdktrace.TracerProvider
	// Meter is the meter provider bridging Gatherer, nil when metrics are off.
	Meter    *sdkmetric.MeterProvider
	shutdown []func(context.Context) error
}

// Propagator is W3C trace context plus baggage, what every hop injects and
// extracts.
var Propagator propagation.TextMapPropagator = propagation.NewCompositeTextMapPropagator(
	propagation.TraceContext{}, propagation.Baggage{})

// Setup builds the tracer provider (OTLP exporter, local store exporter,
// parent-based sampler) and the meter provider (Prometheus bridge, periodic
// OTLP export) that o.Config asks for. With nothing configured it returns a
// Telemetry whose providers are nil and whose Shutdown does nothing.
func Setup(ctx context.Context, o Options) (*Telemetry, error) {
	t := &Telemetry{}
	c := o.Config
	if c.Disabled {
		return t, nil
	}
	res := NewResource(o.Resource, c)
	if c.TracingEnabled() || o.Store != nil {
		var procs []sdktrace.TracerProviderOption
		if c.exportsTraces() {
			exp, err := newTraceExporter(ctx, c.TracesProtocol, c.TracesEndpoint, c.Headers)
			if err != nil {
				return nil, err
			}
			procs = append(procs, sdktrace.WithBatcher(exp, batchOpts(o.BatchTimeout)...))
		}
		if c.LocalTracesEndpoint != "" {
			exp, err := newTraceExporter(ctx, ProtocolHTTP, c.LocalTracesEndpoint, nil)
			if err != nil {
				return nil, err
			}
			procs = append(procs, sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(500*time.Millisecond)))
		}
		if o.Store != nil {
			procs = append(procs, sdktrace.WithBatcher(o.Store, sdktrace.WithBatchTimeout(500*time.Millisecond)))
		}
		tp := sdktrace.NewTracerProvider(append(procs, sdktrace.WithResource(res), sdktrace.WithSampler(c.NewSampler()))...)
		t.SDK, t.TracerProvider = tp, tp
		t.shutdown = append(t.shutdown, tp.Shutdown)
	}
	if c.MetricsEnabled() && o.Gatherer != nil {
		exp, err := newMetricExporter(ctx, c.MetricsProtocol, c.MetricsEndpoint, c.Headers)
		if err != nil {
			t.Shutdown(ctx)
			return nil, err
		}
		interval := c.MetricsInterval
		if interval <= 0 {
			interval = time.Minute
		}
		reader := sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(interval),
			sdkmetric.WithProducer(promBridge.NewMetricProducer(promBridge.WithGatherer(o.Gatherer))))
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithResource(res))
		t.Meter = mp
		t.shutdown = append(t.shutdown, mp.Shutdown)
	}
	return t, nil
}

func batchOpts(d time.Duration) []sdktrace.BatchSpanProcessorOption {
	if d > 0 {
		return []sdktrace.BatchSpanProcessorOption{sdktrace.WithBatchTimeout(d)}
	}
	return nil // the SDK reads OTEL_BSP_* itself
}

// Shutdown flushes and stops every exporter.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	var errs []error
	for i := len(t.shutdown) - 1; i >= 0; i-- {
		errs = append(errs, t.shutdown[i](ctx))
	}
	t.shutdown = nil
	return errors.Join(errs...)
}

// ForceFlush exports every ended span and the current metrics now.
func (t *Telemetry) ForceFlush(ctx context.Context) error {
	var errs []error
	if t.SDK != nil {
		errs = append(errs, t.SDK.ForceFlush(ctx))
	}
	if t.Meter != nil {
		errs = append(errs, t.Meter.ForceFlush(ctx))
	}
	return errors.Join(errs...)
}

func newTraceExporter(ctx context.Context, proto, endpoint string, headers map[string]string) (sdktrace.SpanExporter, error) {
	switch proto {
	case ProtocolGRPC:
		opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpointURL(endpoint)}
		if len(headers) > 0 {
			opts = append(opts, otlptracegrpc.WithHeaders(headers))
		}
		exp, err := otlptracegrpc.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("otlp traces exporter %s: %w", endpoint, err)
		}
		return exp, nil
	default:
		opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(endpoint)}
		if len(headers) > 0 {
			opts = append(opts, otlptracehttp.WithHeaders(headers))
		}
		exp, err := otlptracehttp.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("otlp traces exporter %s: %w", endpoint, err)
		}
		return exp, nil
	}
}

func newMetricExporter(ctx context.Context, proto, endpoint string, headers map[string]string) (sdkmetric.Exporter, error) {
	switch proto {
	case ProtocolGRPC:
		opts := []otlpmetricgrpc.Option{otlpmetricgrpc.WithEndpointURL(endpoint)}
		if len(headers) > 0 {
			opts = append(opts, otlpmetricgrpc.WithHeaders(headers))
		}
		exp, err := otlpmetricgrpc.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("otlp metrics exporter %s: %w", endpoint, err)
		}
		return exp, nil
	default:
		opts := []otlpmetrichttp.Option{otlpmetrichttp.WithEndpointURL(endpoint)}
		if len(headers) > 0 {
			opts = append(opts, otlpmetrichttp.WithHeaders(headers))
		}
		exp, err := otlpmetrichttp.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("otlp metrics exporter %s: %w", endpoint, err)
		}
		return exp, nil
	}
}
