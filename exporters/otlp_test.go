package exporters

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/exporters/otlptest"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
)

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSetupGRPC exports spans and bridged Prometheus metrics to a real
// OTLP/gRPC receiver.
func TestSetupGRPC(t *testing.T) {
	rcv, err := otlptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer rcv.Stop()
	cfg, err := ConfigFromEnv(envOf("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+rcv.Addr,
		"OTEL_TRACES_SAMPLER", "always_on", "OTEL_METRIC_EXPORT_INTERVAL", "100"))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	ctr := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "revision_request_count", Help: "h"}, []string{"response_code"})
	reg.MustRegister(ctr)
	ctr.WithLabelValues("200").Add(7)
	tel, err := Setup(context.Background(), Options{Config: cfg, Gatherer: reg, BatchTimeout: 50 * time.Millisecond,
		Resource: ResourceInfo{Namespace: "ns", Pod: "p1", KnService: "hello", Revision: "hello-00001"}})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	tr := tel.TracerProvider.Tracer("test")
	ctx, parent := tr.Start(context.Background(), "parent", trace.WithSpanKind(trace.SpanKindServer))
	_, child := tr.Start(ctx, "child")
	child.End()
	parent.End()
	waitUntil(t, "two spans", func() bool { return len(rcv.Spans()) == 2 })
	spans := rcv.Spans()
	if spans[0].Name != "child" || spans[0].ParentID() != spans[1].SpanID() || spans[0].Service != "hello" ||
		spans[0].Resource["kn.revision.name"] != "hello-00001" || spans[0].Resource["k8s.pod.name"] != "p1" {
		t.Errorf("spans %+v", spans)
	}
	waitUntil(t, "the counter over OTLP", func() bool {
		v, ok := rcv.LastSum("revision_request_count", map[string]string{"service.name": "hello"}, map[string]string{"response_code": "200"})
		return ok && v == 7
	})
}

// TestLocalStoreOverHTTP sends spans with the OTLP/HTTP exporter to the
// store's receiver, as a queue-proxy does under gantry up.
func TestLocalStoreOverHTTP(t *testing.T) {
	st := NewStore(StoreOptions{})
	srv := httptest.NewServer(st.ReceiverHandler())
	defer srv.Close()
	tel, err := Setup(context.Background(), Options{Config: Config{LocalTracesEndpoint: srv.URL + "/v1/traces", SamplingRatio: 1},
		Resource: ResourceInfo{KnService: "hello"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, sp := tel.TracerProvider.Tracer("t").Start(context.Background(), "GET")
	_, c := tel.TracerProvider.Tracer("t").Start(ctx, "queue.wait")
	c.End()
	sp.End()
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	id := sp.SpanContext().TraceID().String()
	tr, ok := st.Get(id)
	if !ok || len(tr.SpanList) != 2 || tr.Root != "GET" || tr.Service != "hello" || tr.SpanList[1].ParentID != tr.SpanList[0].SpanID {
		t.Fatalf("stored %+v %v", tr, ok)
	}
}

func TestSetupOff(t *testing.T) {
	tel, err := Setup(context.Background(), Options{})
	if err != nil || tel.TracerProvider != nil || tel.Meter != nil {
		t.Fatalf("%+v %v: want nothing", tel, err)
	}
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
