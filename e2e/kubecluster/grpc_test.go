package kubecluster

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// gRPC (h2c) crosses the gateway pod, the revision's h2c Service port and
// the queue-proxy's 8013 to the app, as on one machine.
func TestGRPCInPods(t *testing.T) {
	k := connect(t)
	ns := k.namespace(t)
	k.warmService(t, ns, "grpc", `
          ports: [{name: h2c, containerPort: 8080}]
`)
	s := k.ready(t, ns, "grpc", 3*time.Minute)
	host, rev := hostOf(t, s), s.Status.LatestReadyRevisionName
	conn, err := grpc.NewClient(k.gateway, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithAuthority(host))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var resp *healthpb.HealthCheckResponse
	// The gateway pod learns the route from its own watch.
	if !poll(20*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: rev})
		return err == nil
	}) {
		t.Fatalf("gRPC health check of %s through the gateway: %v", rev, err)
	}
	if resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health of %s: %v, want SERVING", rev, resp.Status)
	}
}
