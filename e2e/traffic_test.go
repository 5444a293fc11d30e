package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
)

// splitYAML is a service whose template sets TARGET, with the given traffic block.
func splitYAML(name, target, port, traffic string) string {
	ports := ""
	if port != "" {
		ports = fmt.Sprintf("\n          ports:\n            - name: %s\n              containerPort: 8080", port)
	}
	return fmt.Sprintf(`apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: %s
spec:
  template:
    spec:
      containers:
        - image: gantry/sample-app%s
          env:
            - name: TARGET
              value: %q
%s`, name, ports, target, traffic)
}

// routePercents returns the route's resolved traffic: revision → percent.
func (s *stack) routePercents(route string) map[string]int64 {
	var r struct {
		Status struct {
			Traffic []struct {
				RevisionName string `json:"revisionName"`
				Percent      int64  `json:"percent"`
			} `json:"traffic"`
		} `json:"status"`
	}
	out := map[string]int64{}
	if err := s.getJSON("/api/v1/routes/default/"+route, &r); err != nil {
		return out
	}
	for _, t := range r.Status.Traffic {
		out[t.RevisionName] += t.Percent
	}
	return out
}

// share sends n requests to host and counts answers by revision.
func (s *stack) share(t *testing.T, host string, n int) map[string]int {
	t.Helper()
	counts := map[string]int{}
	client := &http.Client{Timeout: 10 * time.Second}
	for i := 0; i < n; i++ {
		req, _ := http.NewRequest(http.MethodGet, "http://"+s.gateway+"/", nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, b)
		}
		rev := resp.Header.Get("X-Revision")
		counts[rev]++
	}
	return counts
}

func TestTrafficSplitTagsRollback(t *testing.T) {
	s := startStack(t, "")
	host := "web.default.localhost"
	s.mustGantry(splitYAML("web", "one", "", ""), "apply", "-f", "-")
	s.waitServing(host, "Hello one!")
	// Second revision, 40/60, with tags; then check the observed split.
	s.mustGantry(splitYAML("web", "two", "", `  traffic:
    - revisionName: web-00001
      percent: 40
      tag: blue
    - latestRevision: true
      percent: 60
      tag: green
`), "apply", "-f", "-")
	waitFor(t, 30*time.Second, "the 40/60 split", func() bool {
		p := s.routePercents("web")
		return p["web-00001"] == 40 && p["web-00002"] == 60
	})
	counts := s.share(t, host, 2000)
	if p := float64(counts["web-00001"]) / 20; p < 36 || p > 44 {
		t.Errorf("web-00001 got %.1f%% of 2000 requests, want 40±4 (%v)", p, counts)
	}
	// gantry get routes lists each target with its percent, tag URL and the
	// share it received (sampled every 5s).
	waitFor(t, 15*time.Second, "get routes to show the observed share", func() bool {
		out, _ := s.gantry("", "get", "routes", "web")
		return strings.Contains(out, "http://blue-web.default.localhost") && strings.Contains(out, "40%") &&
			strings.Contains(out, "req/")
	})
	// Tags have their own hosts.
	s.waitServing("blue-web.default.localhost", "Hello one!")
	s.waitServing("green-web.default.localhost", "Hello two!")

	// A 0% target stays reachable through its tag.
	s.mustGantry(splitYAML("web", "two", "", `  traffic:
    - revisionName: web-00001
      percent: 0
      tag: old
    - latestRevision: true
      percent: 100
`), "apply", "-f", "-")
	waitFor(t, 30*time.Second, "web-00001 at 0%", func() bool {
		c := s.share(t, host, 20)
		return c["web-00002"] == 20
	})
	s.waitServing("old-web.default.localhost", "Hello one!")

	// Rollback: the old revision back to 100.
	s.mustGantry(splitYAML("web", "two", "", `  traffic:
    - revisionName: web-00001
      percent: 100
    - latestRevision: true
      percent: 0
`), "apply", "-f", "-")
	waitFor(t, 30*time.Second, "rollback to web-00001", func() bool {
		c := s.share(t, host, 20)
		return c["web-00001"] == 20
	})
	if revs := s.mustGantry("", "get", "revisions"); strings.Contains(revs, "web-00003") {
		t.Errorf("traffic changes created a revision:\n%s", revs)
	}
}

// TestTrafficShiftUnderLoad moves all traffic from one revision to another
// while requests keep coming: none may fail.
func TestTrafficShiftUnderLoad(t *testing.T) {
	s := startStack(t, "")
	host := "shift.default.localhost"
	s.mustGantry(splitYAML("shift", "a", "", ""), "apply", "-f", "-")
	s.waitServing(host, "Hello a!")
	s.mustGantry(splitYAML("shift", "b", "", `  traffic:
    - revisionName: shift-00001
      percent: 100
    - latestRevision: true
      percent: 0
      tag: next
`), "apply", "-f", "-")
	s.waitServing("next-shift.default.localhost", "Hello b!")

	var ok, failed atomic.Int64
	var lastErr atomic.Value
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var sawB atomic.Bool
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.gateway+"/?sleep=5", nil)
				req.Host = host
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
						lastErr.Store(err.Error())
					}
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					lastErr.Store(fmt.Sprintf("%d %s", resp.StatusCode, b))
					continue
				}
				ok.Add(1)
				if strings.Contains(string(b), "Hello b!") {
					sawB.Store(true)
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	s.mustGantry(splitYAML("shift", "b", "", `  traffic:
    - revisionName: shift-00001
      percent: 0
    - latestRevision: true
      percent: 100
`), "apply", "-f", "-")
	waitFor(t, 30*time.Second, "traffic on shift-00002", sawB.Load)
	// Keep the load on while the old revision's instance drains and stops.
	time.Sleep(3 * time.Second)
	cancel()
	wg.Wait()
	if failed.Load() > 0 {
		t.Errorf("%d of %d requests failed during the shift; last: %v", failed.Load(), ok.Load()+failed.Load(), lastErr.Load())
	}
	if ok.Load() < 50 {
		t.Errorf("only %d requests succeeded: the load did not run", ok.Load())
	}
}

// TestGRPCAndWebSocketThroughSplit sends gRPC (unary, server streaming and a
// bidirectional stream) and a WebSocket echo through gateway and queue-proxy
// to a route split across two h2c revisions.
func TestGRPCAndWebSocketThroughSplit(t *testing.T) {
	s := startStack(t, "")
	s.mustGantry(splitYAML("grpc", "g1", "h2c", ""), "apply", "-f", "-")
	waitFor(t, 30*time.Second, "grpc-00001 ready", func() bool {
		return s.routePercents("grpc")["grpc-00001"] == 100
	})
	s.mustGantry(splitYAML("grpc", "g2", "h2c", `  traffic:
    - revisionName: grpc-00001
      percent: 50
    - latestRevision: true
      percent: 50
`), "apply", "-f", "-")
	waitFor(t, 30*time.Second, "the 50/50 split", func() bool {
		return s.routePercents("grpc")["grpc-00002"] == 50
	})

	conn, err := grpc.NewClient(s.gateway, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithAuthority("grpc.default.localhost"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hc := healthpb.NewHealthClient(conn)
	seen := map[string]bool{}
	for i := 0; i < 40; i++ {
		// Each revision reports SERVING for its own name only.
		for _, rev := range []string{"grpc-00001", "grpc-00002"} {
			resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: rev})
			if err == nil && resp.Status == healthpb.HealthCheckResponse_SERVING {
				seen[rev] = true
			}
		}
	}
	if !seen["grpc-00001"] || !seen["grpc-00002"] {
		t.Errorf("unary gRPC reached %v, want both revisions of the split", seen)
	}
	// Server streaming: Watch sends the current status first.
	w, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{Service: "sample-app"})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := w.Recv(); err != nil || m.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Watch: %v %v", m, err)
	}
	// Bidirectional stream: several requests and answers on one stream.
	rc := reflectionpb.NewServerReflectionClient(conn)
	stream, err := rc.ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		names := fmt.Sprint(resp.GetListServicesResponse().GetService())
		if !strings.Contains(names, "grpc.health.v1.Health") {
			t.Fatalf("reflection listed %s", names)
		}
	}
	stream.CloseSend()

	// WebSocket echo through the same split route (HTTP/1.1 upgrade).
	cfg, err := websocket.NewConfig("ws://grpc.default.localhost/ws", "http://grpc.default.localhost/")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Dialer = nil
	for i := 0; i < 4; i++ {
		ws, err := dialWS(s.gateway, cfg)
		if err != nil {
			t.Fatalf("websocket dial: %v", err)
		}
		msg := fmt.Sprintf("echo %d", i)
		if _, err := ws.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		ws.SetDeadline(time.Now().Add(5 * time.Second))
		n, err := ws.Read(buf)
		if err != nil || string(buf[:n]) != msg {
			t.Fatalf("websocket echo: %q %v, want %q", buf[:n], err, msg)
		}
		ws.Close()
	}
}
