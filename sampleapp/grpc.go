package sampleapp

import (
	"net/http"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
)

// grpcServer serves two real gRPC services that need no generated code of
// ours: grpc.health.v1.Health (unary Check, server-streaming Watch) and server
// reflection (a bidirectional stream), so gRPC through every hop can be tested.
func grpcServer(revision string) *grpc.Server {
	s := grpc.NewServer()
	h := health.NewServer()
	h.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	h.SetServingStatus("sample-app", healthpb.HealthCheckResponse_SERVING)
	if revision != "" {
		h.SetServingStatus(revision, healthpb.HealthCheckResponse_SERVING)
	}
	healthpb.RegisterHealthServer(s, h)
	reflection.Register(s)
	return s
}

// withGRPC sends gRPC requests (HTTP/2, application/grpc) to g, the rest to h.
func withGRPC(g *grpc.Server, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			g.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}
