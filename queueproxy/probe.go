package queueproxy

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Knative's probe conventions.
const (
	probeHeader       = "K-Network-Probe"
	hashHeader        = "K-Network-Hash"
	kubeletHeader     = "K-Kubelet-Probe"
	proxyHeader       = "K-Proxy-Request"
	tagHeader         = "Knative-Serving-Tag"
	probeValueQueue   = "queue"
	probeValueProbe   = "probe"
	proxyValue        = "activator"
	kubeProbeUAPrefix = "kube-probe/"
	activatorUAPrefix = "Knative-Activator-Probe"
	autoscaleUAPrefix = "Knative-Autoscaling-Probe"
	queueProbeUA      = "Knative-Queue-Proxy-Probe"
)

// Knative's "aggressive" probing, used while the app is not yet ready and
// whenever its probe has periodSeconds 0.
const (
	aggressiveInterval = 50 * time.Millisecond
	aggressiveTimeout  = 100 * time.Millisecond
	pollTimeout        = 10 * time.Second
)

type probeKind uint8

const (
	notProbe    probeKind = iota
	hashProbe             // K-Network-Probe: probe, answered with the echoed hash
	healthProbe           // readiness of this instance
)

// classifyProbe tells probes from traffic with a few header lookups; probes
// never reach the breaker, the stats or the request metrics.
func classifyProbe(r *http.Request) probeKind {
	h := r.Header
	if v := h[probeHeader]; len(v) > 0 && v[0] != "" {
		if v[0] == probeValueProbe {
			return hashProbe
		}
		return healthProbe
	}
	if _, ok := h[kubeletHeader]; ok {
		return healthProbe
	}
	if ua := h["User-Agent"]; len(ua) > 0 {
		if strings.HasPrefix(ua[0], kubeProbeUAPrefix) || strings.HasPrefix(ua[0], activatorUAPrefix) ||
			strings.HasPrefix(ua[0], autoscaleUAPrefix) {
			return healthProbe
		}
	}
	return notProbe
}

// serveProbe answers a probe request of kind k.
func serveProbe(w http.ResponseWriter, r *http.Request, k probeKind, d *Drainer, p *Prober) {
	if k == hashProbe {
		hash := r.Header.Get(hashHeader)
		if hash == "" {
			http.Error(w, "no hash header", http.StatusBadRequest)
			return
		}
		w.Header().Set(hashHeader, hash)
		w.WriteHeader(http.StatusOK)
		return
	}
	serveHealth(w, r, d, p)
}

// serveHealth is this instance's readiness: draining first, then the app's probe.
func serveHealth(w http.ResponseWriter, r *http.Request, d *Drainer, p *Prober) {
	if d.Draining() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	if v := r.Header.Get(probeHeader); v != "" && v != probeValueQueue {
		http.Error(w, "unexpected probe header value: "+v, http.StatusBadRequest)
		return
	}
	if !p.Wait(r.Context()) {
		http.Error(w, "app not ready", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte(probeValueQueue))
}

// Prober runs the app's readiness probe in the background: aggressively until
// the app first passes, then every periodSeconds (1s when 0), falling back to
// aggressive probing after failureThreshold failures.
type Prober struct {
	probe Probe
	log   *slog.Logger
	// WaitTimeout bounds how long a health check waits for an app that is not
	// ready yet when probing is aggressive (Knative's poll timeout, 10s).
	WaitTimeout time.Duration

	ready   atomic.Bool
	mu      sync.Mutex
	readyCh chan struct{} // closed while ready

	httpClient *http.Client
}

// NewProber returns a prober of p; Run must be called for it to ever be ready.
func NewProber(p Probe, log *slog.Logger) *Prober {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pr := &Prober{probe: p, log: log, WaitTimeout: pollTimeout, readyCh: make(chan struct{})}
	if p.HTTPGet != nil {
		pr.httpClient = &http.Client{
			Transport: &http.Transport{
				Proxy:             nil,
				DisableKeepAlives: true,
				TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // as the kubelet does
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return pr
}

// Ready reports the latest probe verdict.
func (p *Prober) Ready() bool { return p.ready.Load() }

// Wait reports readiness; while probing aggressively it waits up to
// WaitTimeout (or until ctx ends) for the app to become ready.
func (p *Prober) Wait(ctx context.Context) bool {
	if p.ready.Load() {
		return true
	}
	if p.probe.PeriodSeconds > 0 || p.WaitTimeout <= 0 {
		return false
	}
	p.mu.Lock()
	ch := p.readyCh
	p.mu.Unlock()
	t := time.NewTimer(p.WaitTimeout)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return p.ready.Load()
}

func (p *Prober) set(ready bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ready.Load() == ready {
		return
	}
	p.ready.Store(ready)
	if ready {
		close(p.readyCh)
	} else {
		p.readyCh = make(chan struct{})
	}
	p.log.Info("app readiness changed", "ready", ready)
}

// Run probes until ctx ends.
func (p *Prober) Run(ctx context.Context) {
	period := time.Duration(p.probe.PeriodSeconds) * time.Second
	if period <= 0 {
		period = time.Second
	}
	timeout := time.Duration(p.probe.TimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = time.Second
	}
	successes, failures := 0, 0
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !p.Ready() {
			if p.check(ctx, aggressiveTimeout) {
				successes++
			} else {
				successes = 0
			}
			if successes >= p.probe.SuccessThreshold {
				p.set(true)
				successes, failures = 0, 0
				t.Reset(period)
			} else {
				t.Reset(aggressiveInterval)
			}
			continue
		}
		if p.check(ctx, timeout) {
			failures = 0
		} else if failures++; failures >= p.probe.FailureThreshold {
			p.set(false)
			failures = 0
			t.Reset(aggressiveInterval)
			continue
		}
		t.Reset(period)
	}
}

// check runs the probe once.
func (p *Prober) check(ctx context.Context, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case p.probe.TCPSocket != nil:
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(p.probe.TCPSocket.Host, strconv.Itoa(int(p.probe.TCPSocket.Port))))
		if err != nil {
			return false
		}
		c.Close()
		return true
	case p.probe.HTTPGet != nil:
		g := p.probe.HTTPGet
		url := g.Scheme + "://" + net.JoinHostPort(g.Host, strconv.Itoa(int(g.Port))) + g.Path
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false
		}
		req.Header.Set("User-Agent", queueProbeUA)
		req.Header.Set(probeHeader, probeValueQueue)
		for _, h := range g.HTTPHeaders {
			req.Header.Add(h.Name, h.Value)
		}
		resp, err := p.httpClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode >= 200 && resp.StatusCode < 400
	case p.probe.GRPC != nil:
		cc, err := grpc.NewClient(net.JoinHostPort(p.probe.GRPC.Host, strconv.Itoa(p.probe.GRPC.Port)),
			grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return false
		}
		defer cc.Close()
		var svc string
		if p.probe.GRPC.Service != nil {
			svc = *p.probe.GRPC.Service
		}
		resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
	}
	return false
}
