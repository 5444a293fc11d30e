package queueproxy

import (
	"net"
	"strconv"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
)

// gRPC through the h2c port against real services that need no codegen:
// health (unary and server streaming, status in trailers) and reflection
// (bidirectional streaming).
func TestGRPCThroughH2C(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)

	q := startQP(t, testEnv(ln.Addr().(*net.TCPAddr).Port, "CONTAINER_CONCURRENCY", "10",
		"SERVING_READINESS_PROBE", `{"grpc":{"port":0}}`))
	waitReady(t, q)
	cc, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(q.H2C), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx := t.Context()
	hc := healthpb.NewHealthClient(cc)

	resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("unary Check: %v %v", resp, err)
	}
	// A gRPC error travels in trailers.
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown service: %v, want NotFound", err)
	}

	// Server streaming: each status change arrives while the stream stays open.
	hs.SetServingStatus("svc", healthpb.HealthCheckResponse_SERVING)
	w, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{Service: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	next := map[healthpb.HealthCheckResponse_ServingStatus]healthpb.HealthCheckResponse_ServingStatus{
		healthpb.HealthCheckResponse_SERVING:     healthpb.HealthCheckResponse_NOT_SERVING,
		healthpb.HealthCheckResponse_NOT_SERVING: healthpb.HealthCheckResponse_SERVING,
	}
	want := healthpb.HealthCheckResponse_SERVING
	for range 4 {
		m, err := w.Recv()
		if err != nil || m.GetStatus() != want {
			t.Fatalf("watch: %v %v, want %v", m, err, want)
		}
		want = next[want]
		hs.SetServingStatus("svc", want)
	}

	// Bidirectional streaming: several request/response turns on one stream.
	rs, err := rpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := rs.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}}); err != nil {
			t.Fatal(err)
		}
		m, err := rs.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if n := len(m.GetListServicesResponse().GetService()); n < 2 {
			t.Fatalf("reflection listed %d services", n)
		}
	}
	if err := rs.CloseSend(); err != nil {
		t.Fatal(err)
	}
}
