// Package otlptest is an in-process OTLP/gRPC collector for tests: it
// implements the trace and metrics collector services of
// go.opentelemetry.io/proto/otlp and keeps everything it receives.
package otlptest

import (
	"context"
	"encoding/hex"
	"net"
	"strconv"
	"sync"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
)

// Receiver collects OTLP exports.
type Receiver struct {
	coltracepb.UnimplementedTraceServiceServer

	Addr string // host:port
	srv  *grpc.Server

	mu      sync.Mutex
	spans   []Span
	metrics []*metricpb.ResourceMetrics
	changed chan struct{}
}

// Span is a received span with its resource's service.name.
type Span struct {
	*tracepb.Span
	Service  string
	Resource map[string]string
}

// TraceID is the span's trace id in hex.
func (s Span) TraceID() string { return hex.EncodeToString(s.GetTraceId()) }

// SpanID is the span's id in hex.
func (s Span) SpanID() string { return hex.EncodeToString(s.GetSpanId()) }

// ParentID is the parent span id in hex, "" for a root.
func (s Span) ParentID() string { return hex.EncodeToString(s.GetParentSpanId()) }

// Attr returns a span attribute as a string.
func (s Span) Attr(key string) string {
	for _, kv := range s.GetAttributes() {
		if kv.GetKey() == key {
			return AnyString(kv.GetValue())
		}
	}
	return ""
}

// Start listens on 127.0.0.1:0 and serves until Stop.
func Start() (*Receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Receiver{Addr: ln.Addr().String(), srv: grpc.NewServer(), changed: make(chan struct{})}
	coltracepb.RegisterTraceServiceServer(r.srv, r)
	colmetricpb.RegisterMetricsServiceServer(r.srv, metricsServer{r: r})
	go r.srv.Serve(ln)
	return r, nil
}

// Stop stops the server.
func (r *Receiver) Stop() { r.srv.Stop() }

// Export implements the trace service.
func (r *Receiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		res := map[string]string{}
		for _, kv := range rs.GetResource().GetAttributes() {
			res[kv.GetKey()] = AnyString(kv.GetValue())
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				r.spans = append(r.spans, Span{Span: sp, Service: res["service.name"], Resource: res})
			}
		}
	}
	r.notifyLocked()
	r.mu.Unlock()
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (r *Receiver) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// Spans returns every span received so far.
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// metricsServer adapts the metrics service, whose Export method has the
// same name as the trace service's.
type metricsServer struct {
	colmetricpb.UnimplementedMetricsServiceServer
	r *Receiver
}

func (m metricsServer) Export(_ context.Context, req *colmetricpb.ExportMetricsServiceRequest) (*colmetricpb.ExportMetricsServiceResponse, error) {
	m.r.mu.Lock()
	m.r.metrics = append(m.r.metrics, req.GetResourceMetrics()...)
	m.r.notifyLocked()
	m.r.mu.Unlock()
	return &colmetricpb.ExportMetricsServiceResponse{}, nil
}

// ResourceMetrics returns every metrics export received so far, oldest first.
func (r *Receiver) ResourceMetrics() []*metricpb.ResourceMetrics {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*metricpb.ResourceMetrics(nil), r.metrics...)
}

// Changed is closed on the next export.
func (r *Receiver) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

// LastSum returns the value of the latest data point of the sum metric
// name whose attributes include want (and the resource attributes
// resWant), and whether there was one.
func (r *Receiver) LastSum(name string, resWant, want map[string]string) (float64, bool) {
	var v float64
	found := false
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rm := range r.metrics {
		if !match(rm.GetResource().GetAttributes(), resWant) {
			continue
		}
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				if m.GetName() != name {
					continue
				}
				for _, dp := range m.GetSum().GetDataPoints() {
					if match(dp.GetAttributes(), want) {
						v, found = dp.GetAsDouble(), true
					}
				}
				for _, dp := range m.GetHistogram().GetDataPoints() {
					if match(dp.GetAttributes(), want) {
						v, found = float64(dp.GetCount()), true
					}
				}
			}
		}
	}
	return v, found
}

func match(kvs []*commonpb.KeyValue, want map[string]string) bool {
	n := 0
	for _, kv := range kvs {
		if w, ok := want[kv.GetKey()]; ok && w == AnyString(kv.GetValue()) {
			n++
		}
	}
	return n == len(want)
}

// AnyString renders an attribute value.
func AnyString(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_BoolValue:
		if x.BoolValue {
			return "true"
		}
		return "false"
	}
	return ""
}
