package local

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gantry-dev/gantry/controller/podspec"
	"github.com/gantry-dev/gantry/controller/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
)

// kubeletProber runs the probes the kubelet runs on Kubernetes: startup and
// liveness (restart the container when they fail), and an exec readiness
// probe, which the queue-proxy cannot run. httpGet, tcpSocket and grpc
// readiness probes stay with the queue-proxy, as in Knative.
type kubeletProber struct {
	app                    runtime.App
	startup, live, readyEx *probeState
	startedAt              time.Time
	isStarted              bool
}

type probeState struct {
	p                   *corev1.Probe
	next                time.Time
	successes, failures int32
	ok                  bool
}

func newProber(app runtime.App, c *podspec.Container) *kubeletProber {
	k := &kubeletProber{app: app, startedAt: time.Now()}
	mk := func(p *corev1.Probe) *probeState {
		if p == nil {
			return nil
		}
		return &probeState{p: p, next: k.startedAt.Add(time.Duration(p.InitialDelaySeconds) * time.Second)}
	}
	k.startup, k.live = mk(c.StartupProbe), mk(c.LivenessProbe)
	if c.ReadinessProbe != nil && c.ReadinessProbe.Exec != nil {
		k.readyEx = mk(c.ReadinessProbe)
	}
	k.isStarted = k.startup == nil
	return k
}

func defaulted(v, def int32) int32 {
	if v <= 0 {
		return def
	}
	return v
}

// due runs s's probe when its period has come and updates its counters; it
// reports whether the probe ran.
func (k *kubeletProber) due(ctx context.Context, s *probeState, now time.Time, defPeriod time.Duration) bool {
	if now.Before(s.next) {
		return false
	}
	period := time.Duration(s.p.PeriodSeconds) * time.Second
	if period <= 0 {
		period = defPeriod
	}
	s.next = now.Add(period)
	if k.check(ctx, s.p) {
		s.failures = 0
		if s.successes++; s.successes >= defaulted(s.p.SuccessThreshold, 1) {
			s.ok = true
		}
	} else {
		s.successes = 0
		if s.failures++; s.failures >= defaulted(s.p.FailureThreshold, 3) {
			s.ok = false
		}
	}
	return true
}

// started reports whether the startup probe (if any) has passed.
func (k *kubeletProber) started(ctx context.Context, now time.Time) bool {
	if k.isStarted {
		return true
	}
	k.due(ctx, k.startup, now, 10*time.Second)
	k.isStarted = k.startup.ok
	return k.isStarted
}

// liveness returns why the container must be restarted, or "".
func (k *kubeletProber) liveness(ctx context.Context, now time.Time) string {
	if !k.isStarted {
		s := k.startup
		if s.failures >= defaulted(s.p.FailureThreshold, 3) {
			return fmt.Sprintf("startup probe failed %d times", s.failures)
		}
		return ""
	}
	s := k.live
	if s == nil {
		return ""
	}
	k.due(ctx, s, now, 10*time.Second)
	if s.failures >= defaulted(s.p.FailureThreshold, 3) {
		return fmt.Sprintf("liveness probe failed %d times", s.failures)
	}
	return ""
}

// ready runs an exec readiness probe; without one it is true.
func (k *kubeletProber) ready(ctx context.Context, now time.Time) bool {
	s := k.readyEx
	if s == nil {
		return true
	}
	// Aggressive until first ready, as Knative probes readiness.
	def := time.Second
	if !s.ok {
		s.next = now
	}
	k.due(ctx, s, now, def)
	return s.ok
}

// check runs p once against the app.
func (k *kubeletProber) check(ctx context.Context, p *corev1.Probe) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(defaulted(p.TimeoutSeconds, 1))*time.Second)
	defer cancel()
	addr := k.app.Addr()
	switch {
	case p.Exec != nil:
		code, _, err := k.app.Exec(ctx, p.Exec.Command)
		return err == nil && code == 0
	case p.TCPSocket != nil:
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return false
		}
		c.Close()
		return true
	case p.HTTPGet != nil:
		g := p.HTTPGet
		scheme := strings.ToLower(string(g.Scheme))
		if scheme == "" {
			scheme = "http"
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+addr+g.Path, nil)
		if err != nil {
			return false
		}
		req.Header.Set("User-Agent", "kube-probe/gantry")
		for _, h := range g.HTTPHeaders {
			req.Header.Add(h.Name, h.Value)
		}
		resp, err := probeClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode >= 200 && resp.StatusCode < 400
	case p.GRPC != nil:
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return false
		}
		defer cc.Close()
		var svc string
		if p.GRPC.Service != nil {
			svc = *p.GRPC.Service
		}
		resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
	}
	return true
}

// probeClient is the kubelet's: no keep-alive, no redirects followed, TLS
// unverified.
var probeClient = &http.Client{
	Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}
