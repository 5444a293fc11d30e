package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestPathsVisibilityAndMixedPorts: a custom HOST/PATH prefix by annotation,
// a cluster-local service reachable only by its internal host, and a service
// with both an http1 and an h2c port whose gRPC requests go to h2c.
func TestPathsVisibilityAndMixedPorts(t *testing.T) {
	s := startStack(t, "")
	s.mustGantry(`apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: coffee
  annotations:
    knative.aliyun.com/serving-ingress: cafe.example.test/coffee
spec:
  template:
    spec:
      containers:
        - image: gantry/sample-app
          env: [{name: TARGET, value: coffee}]
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: tea
  annotations:
    serving.gantry.dev/path: cafe.example.test/tea
spec:
  template:
    spec:
      containers:
        - image: gantry/sample-app
          env: [{name: TARGET, value: tea}]
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: internal
  labels:
    networking.knative.dev/visibility: cluster-local
spec:
  template:
    spec:
      containers:
        - image: gantry/sample-app
          env: [{name: TARGET, value: internal}]
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: grpcbin
  annotations:
    knative.alibabacloud.com/grpc: grpc.health.v1.Health
spec:
  template:
    spec:
      containers:
        - image: gantry/sample-app
          ports:
            - name: http1
              containerPort: 8080
            - name: h2c
              containerPort: 9000
`, "apply", "-f", "-")

	// Path prefixes on one host.
	s.waitServing("coffee.default.localhost", "Hello coffee!")
	if code, body, _ := s.request("cafe.example.test", "/coffee/menu"); code != 200 || !strings.Contains(body, "Hello coffee!") {
		t.Errorf("cafe.example.test/coffee/menu: %d %q", code, body)
	}
	waitFor(t, 20*time.Second, "cafe.example.test/tea", func() bool {
		code, body, _ := s.request("cafe.example.test", "/tea")
		return code == 200 && strings.Contains(body, "Hello tea!")
	})
	if code, _, _ := s.request("cafe.example.test", "/coffeebeans"); code != 404 {
		t.Errorf("/coffeebeans answered %d, want 404 (not under /coffee)", code)
	}

	// Cluster-local: only the internal host.
	s.waitServing("internal.default.svc.cluster.local", "Hello internal!")
	if code, _, _ := s.request("internal.default.localhost", "/"); code != 404 {
		t.Errorf("cluster-local service answered %d on its external host, want 404", code)
	}
	var svc serviceJSON
	if err := s.getJSON("/api/v1/services/default/internal", &svc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(svc.Status.URL, "http://internal.default.svc.cluster.local") {
		t.Errorf("cluster-local status.url = %q", svc.Status.URL)
	}

	// Both ports: plain HTTP to http1, gRPC to h2c.
	s.waitServing("grpcbin.default.localhost", "Hello World!")
	conn, err := grpc.NewClient(s.gateway, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithAuthority("grpcbin.default.localhost"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "grpcbin-00001"})
	if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("gRPC to the mixed service: %v %v", resp, err)
	}
	// (gRPC cannot cross the queue-proxy's HTTP/1 port to the app, so the
	// answer above proves the request took the h2c port.)
}
