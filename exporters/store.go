package exporters

import (
	"context"
	"encoding/hex"
	"sort"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// Span is one stored span, flattened for the waterfall and the JSON API.
type Span struct {
	TraceID    string            `json:"traceId"`
	SpanID     string            `json:"spanId"`
	ParentID   string            `json:"parentSpanId,omitempty"`
	Name       string            `json:"name"`
	Kind       string            `json:"kind"`
	Service    string            `json:"service"`
	Start      time.Time         `json:"start"`
	End        time.Time         `json:"end"`
	DurationMS float64           `json:"durationMs"`
	Error      bool              `json:"error,omitempty"`
	Status     string            `json:"status,omitempty"` // the status message of a failed span
	Attributes map[string]string `json:"attributes,omitempty"`
}

// TraceSummary describes one trace in a list.
type TraceSummary struct {
	TraceID    string    `json:"traceId"`
	Root       string    `json:"root"`    // the root span's (or earliest span's) name
	Service    string    `json:"service"` // and its service
	Host       string    `json:"host,omitempty"`
	Path       string    `json:"path,omitempty"`
	StatusCode int       `json:"statusCode,omitempty"`
	Start      time.Time `json:"start"`
	DurationMS float64   `json:"durationMs"`
	Spans      int       `json:"spans"`
	Error      bool      `json:"error"`
}

// Trace is a stored trace, spans in start order.
type Trace struct {
	TraceSummary
	SpanList []Span `json:"spanList"`
}

// StoreOptions bounds a Store; the zero value is valid.
type StoreOptions struct {
	MaxTraces        int // default 1000: the oldest trace is dropped first
	MaxSpansPerTrace int // default 500: later spans of a trace are dropped
}

// Store keeps the most recent traces in memory, bounded by trace count and
// spans per trace. It is an sdktrace.SpanExporter (for the process's own
// spans) and an OTLP/HTTP receiver (ReceiverHandler, for other processes').
type Store struct {
	maxTraces, maxSpans int

	mu     sync.Mutex
	traces map[string]*storedTrace
	order  []string // trace ids, oldest first; a ring once full
	head   int      // index of the oldest id when len(order) == maxTraces
}

type storedTrace struct {
	spans   []Span
	dropped int
}

// NewStore returns an empty store.
func NewStore(o StoreOptions) *Store {
	if o.MaxTraces <= 0 {
		o.MaxTraces = 1000
	}
	if o.MaxSpansPerTrace <= 0 {
		o.MaxSpansPerTrace = 500
	}
	return &Store{maxTraces: o.MaxTraces, maxSpans: o.MaxSpansPerTrace, traces: map[string]*storedTrace{}}
}

var _ sdktrace.SpanExporter = (*Store)(nil)

// ExportSpans stores the process's own ended spans.
func (s *Store) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	out := make([]Span, 0, len(spans))
	for _, sp := range spans {
		out = append(out, fromSDK(sp))
	}
	s.Add(out...)
	return nil
}

// Shutdown implements sdktrace.SpanExporter.
func (s *Store) Shutdown(context.Context) error { return nil }

// Add stores spans, evicting the oldest traces beyond the bound.
func (s *Store) Add(spans ...Span) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sp := range spans {
		t := s.traces[sp.TraceID]
		if t == nil {
			t = &storedTrace{}
			s.traces[sp.TraceID] = t
			if len(s.order) < s.maxTraces {
				s.order = append(s.order, sp.TraceID)
			} else {
				delete(s.traces, s.order[s.head])
				s.order[s.head] = sp.TraceID
				s.head = (s.head + 1) % s.maxTraces
			}
		}
		if len(t.spans) >= s.maxSpans {
			t.dropped++
			continue
		}
		t.spans = append(t.spans, sp)
	}
}

// Len is the number of stored traces.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.traces)
}

// Get returns the trace with id (lower-case hex).
func (s *Store) Get(id string) (Trace, bool) {
	s.mu.Lock()
	t := s.traces[id]
	var spans []Span
	if t != nil {
		spans = append(spans, t.spans...)
	}
	s.mu.Unlock()
	if t == nil {
		return Trace{}, false
	}
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].Start.Before(spans[j].Start) })
	return Trace{TraceSummary: summarize(id, spans), SpanList: spans}, true
}

// ListOptions filters List.
type ListOptions struct {
	Limit     int    // default 100
	Service   string // only traces with a span of this service
	ErrorOnly bool
}

// List returns the most recent traces first.
func (s *Store) List(o ListOptions) []TraceSummary {
	if o.Limit <= 0 {
		o.Limit = 100
	}
	s.mu.Lock()
	ids := make([]string, 0, len(s.order))
	n := len(s.order)
	for i := 0; i < n; i++ { // newest first
		ids = append(ids, s.order[(s.head+n-1-i)%n])
	}
	snap := make(map[string][]Span, len(ids))
	for _, id := range ids {
		snap[id] = append([]Span(nil), s.traces[id].spans...)
	}
	s.mu.Unlock()
	var out []TraceSummary
	for _, id := range ids {
		spans := snap[id]
		sum := summarize(id, spans)
		if o.ErrorOnly && !sum.Error {
			continue
		}
		if o.Service != "" && !hasService(spans, o.Service) {
			continue
		}
		out = append(out, sum)
		if len(out) == o.Limit {
			break
		}
	}
	return out
}

func hasService(spans []Span, svc string) bool {
	for _, sp := range spans {
		if sp.Service == svc {
			return true
		}
	}
	return false
}

// summarize describes a trace by its root span (the span whose parent is not
// in the trace and that started first).
func summarize(id string, spans []Span) TraceSummary {
	sum := TraceSummary{TraceID: id, Spans: len(spans)}
	if len(spans) == 0 {
		return sum
	}
	ids := make(map[string]bool, len(spans))
	for _, sp := range spans {
		ids[sp.SpanID] = true
	}
	var root *Span
	start, end := spans[0].Start, spans[0].End
	for i := range spans {
		sp := &spans[i]
		if sp.Start.Before(start) {
			start = sp.Start
		}
		if sp.End.After(end) {
			end = sp.End
		}
		if sp.Error {
			sum.Error = true
		}
		if (sp.ParentID == "" || !ids[sp.ParentID]) && (root == nil || sp.Start.Before(root.Start)) {
			root = sp
		}
	}
	if root == nil {
		root = &spans[0]
	}
	sum.Root, sum.Service, sum.Start = root.Name, root.Service, start
	sum.DurationMS = float64(end.Sub(start).Microseconds()) / 1000
	sum.Host = root.Attributes[string(semconv.ServerAddressKey)]
	sum.Path = root.Attributes[string(semconv.URLPathKey)]
	if c, err := strconv.Atoi(root.Attributes[string(semconv.HTTPResponseStatusCodeKey)]); err == nil {
		sum.StatusCode = c
		if c >= 500 {
			sum.Error = true
		}
	}
	return sum
}

func fromSDK(sp sdktrace.ReadOnlySpan) Span {
	sc := sp.SpanContext()
	out := Span{TraceID: sc.TraceID().String(), SpanID: sc.SpanID().String(), Name: sp.Name(),
		Kind: sp.SpanKind().String(), Start: sp.StartTime(), End: sp.EndTime()}
	if p := sp.Parent(); p.IsValid() {
		out.ParentID = p.SpanID().String()
	}
	if st := sp.Status(); st.Code == codes.Error {
		out.Error, out.Status = true, st.Description
		if out.Status == "" {
			out.Status = "error"
		}
	}
	for _, kv := range sp.Resource().Attributes() {
		if kv.Key == semconv.ServiceNameKey {
			out.Service = kv.Value.Emit()
		}
	}
	if attrs := sp.Attributes(); len(attrs) > 0 {
		out.Attributes = make(map[string]string, len(attrs))
		for _, kv := range attrs {
			out.Attributes[string(kv.Key)] = kv.Value.Emit()
		}
	}
	out.DurationMS = float64(out.End.Sub(out.Start).Microseconds()) / 1000
	return out
}

// fromOTLP flattens an OTLP export request's spans.
func fromOTLP(rss []*tracepb.ResourceSpans) []Span {
	var out []Span
	for _, rs := range rss {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == string(semconv.ServiceNameKey) {
				service = anyString(kv.GetValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				s := Span{TraceID: hex.EncodeToString(sp.GetTraceId()), SpanID: hex.EncodeToString(sp.GetSpanId()),
					Name: sp.GetName(), Kind: otlpKind(sp.GetKind()), Service: service,
					Start: time.Unix(0, int64(sp.GetStartTimeUnixNano())), End: time.Unix(0, int64(sp.GetEndTimeUnixNano()))}
				if len(sp.GetParentSpanId()) > 0 {
					s.ParentID = hex.EncodeToString(sp.GetParentSpanId())
				}
				if sp.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR {
					s.Error, s.Status = true, sp.GetStatus().GetMessage()
					if s.Status == "" {
						s.Status = "error"
					}
				}
				if attrs := sp.GetAttributes(); len(attrs) > 0 {
					s.Attributes = make(map[string]string, len(attrs))
					for _, kv := range attrs {
						s.Attributes[kv.GetKey()] = anyString(kv.GetValue())
					}
				}
				s.DurationMS = float64(s.End.Sub(s.Start).Microseconds()) / 1000
				if len(sp.GetTraceId()) == 16 && len(sp.GetSpanId()) == 8 {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

func otlpKind(k tracepb.Span_SpanKind) string {
	switch k {
	case tracepb.Span_SPAN_KIND_SERVER:
		return "server"
	case tracepb.Span_SPAN_KIND_CLIENT:
		return "client"
	case tracepb.Span_SPAN_KIND_PRODUCER:
		return "producer"
	case tracepb.Span_SPAN_KIND_CONSUMER:
		return "consumer"
	}
	return "internal"
}

func anyString(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	}
	return ""
}
