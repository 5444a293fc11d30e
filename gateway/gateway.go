package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gantry-dev/gantry/internal/h1"
)

// Options configures a Gateway. The zero value is valid.
type Options struct {
	Logger   *slog.Logger
	Registry prometheus.Registerer // nil: metrics are not registered
	// OnColdStart is called (and must not block) when a request finds its
	// revision with no ready instance: the autoscaler should scale it up.
	OnColdStart func(namespace, revision string)
	// MaxBuffered bounds the requests waiting for an instance (default 10000).
	MaxBuffered int
	// DefaultTimeout bounds the wait for a target whose Timeout is zero (default 300s).
	DefaultTimeout time.Duration
	// TracerProvider, when set, traces each request (tracing.go); nil: off.
	TracerProvider TracerProvider
	// Limits bound what clients may send (config-network); zero: none.
	Limits h1.Limits
}

// Gateway routes requests by Host to revision instances.
type Gateway struct {
	table     atomic.Pointer[Table]
	endpoints atomic.Pointer[map[string]*endpointSet]
	proxy     *httputil.ReverseProxy // HTTP/1.1 to the queue-proxy's 8012
	h2Proxy   *httputil.ReverseProxy // prior-knowledge HTTP/2 to its 8013
	log       *slog.Logger
	act       *activator
	fast      fastProxy
	certs     atomic.Pointer[map[string]*tls.Certificate]
	counts    counters
	timeout   time.Duration
	limits    h1.Limits
	ph        phases // the request path (ServeHTTP), tracing around it when on

	requests                                  *prometheus.CounterVec
	byClass                                   [6]prometheus.Counter // 1xx..5xx, indexed by code/100
	routingErrors                             *prometheus.CounterVec
	errUnknownHost, errNoEndpoint, errBackend prometheus.Counter
	lastBackendErr                            atomic.Int64 // unix nanos, to log once per burst
}

type ctxKey struct{}

// upstream is what Rewrite needs to know about the chosen backend.
type upstream struct {
	addr string
	host string   // the Host header to send; "" keeps the client's
	body *h1.Body // nil: no request body
}

// New returns a gateway with an empty table.
func New(o Options) *Gateway {
	g := &Gateway{log: o.Logger, act: newActivator(o), timeout: o.DefaultTimeout, limits: o.Limits}
	g.ph = g.basePhases()
	if tr := newGWTracer(o.TracerProvider); tr != nil {
		g.ph = tr.wrap(g.ph)
	}
	if g.timeout <= 0 {
		g.timeout = 300 * time.Second
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	g.table.Store(&Table{hosts: map[string]*hostRoute{}})
	empty := map[string]*endpointSet{}
	g.endpoints.Store(&empty)
	g.routingErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gantry_gateway_routing_errors_total",
		Help: "Requests the gateway could not route, by reason.",
	}, []string{"reason"})
	g.errUnknownHost = g.routingErrors.WithLabelValues("unknown_host")
	g.errNoEndpoint = g.routingErrors.WithLabelValues("no_ready_instance")
	g.errBackend = g.routingErrors.WithLabelValues("backend_error")
	g.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gantry_gateway_requests_total",
		Help: "Requests the gateway answered, by response code class.",
	}, []string{"code_class"})
	for i := 1; i <= 5; i++ {
		g.byClass[i] = g.requests.WithLabelValues(strconv.Itoa(i) + "xx")
	}
	if o.Registry != nil {
		o.Registry.MustRegister(g.routingErrors, g.requests)
	}
	transport := newTransport(false)
	g.proxy = g.newProxy(transport)
	g.h2Proxy = g.newProxy(newTransport(true))
	return g
}

func newTransport(h2c bool) *http.Transport {
	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1000,
		MaxIdleConnsPerHost:   100,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ExpectContinueTimeout: time.Second,
	}
	if h2c {
		t.Protocols = new(http.Protocols)
		t.Protocols.SetUnencryptedHTTP2(true)
	}
	return t
}

func (g *Gateway) newProxy(transport http.RoundTripper) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			up, _ := pr.In.Context().Value(ctxKey{}).(*upstream)
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = up.addr
			pr.Out.Host = pr.In.Host // the app sees the host the client asked for
			if up.host != "" {
				pr.Out.Host = up.host
			}
			pr.SetXForwarded()
		},
		Transport:     transport,
		FlushInterval: -1, // stream every write: server-sent events, long polls
		ErrorHandler:  g.backendError,
		ModifyResponse: func(resp *http.Response) error {
			g.count(resp.StatusCode)
			return nil
		},
	}
}

// SetTable swaps in a new route table.
func (g *Gateway) SetTable(t *Table) {
	t.routes(func(hr *hostRoute) {
		if hr.entry.Tag != "" {
			return // tag hosts are not part of the split
		}
		for i := range hr.entry.Targets {
			tg := &hr.entry.Targets[i]
			tg.count = g.counts.get(tg.Namespace, hr.entry.Route, tg.Revision)
			// A cold-start series exists from the start, so its first sample is
			// an increase that rate() can see.
			g.act.coldStart.WithLabelValues(tg.Namespace, tg.Revision)
		}
	})
	g.table.Store(t)
}

// Table returns the current route table.
func (g *Gateway) Table() *Table { return g.table.Load() }

// SetEndpoints swaps in the ready addresses of every revision. Round-robin
// positions of revisions whose addresses did not change are kept.
func (g *Gateway) SetEndpoints(e Endpoints) {
	old := *g.endpoints.Load()
	m := make(map[string]*endpointSet, len(e))
	for k, addrs := range e {
		if o, ok := old[k]; ok && equalEndpoints(o.addrs, addrs) {
			m[k] = o
			continue
		}
		m[k] = &endpointSet{addrs: append([]Endpoint(nil), addrs...)}
	}
	g.endpoints.Store(&m)
	g.act.endpointsChanged()
	live := make(map[string]bool)
	for _, set := range m {
		for _, ep := range set.addrs {
			live[ep.HTTP], live[ep.Unix] = true, true
		}
	}
	g.fast.setLive(live)
}

func equalEndpoints(a, b []Endpoint) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The request path, top to bottom: refuse what is over the limits, route
// by host and path to a revision, wait for an instance when none is ready
// (or when the revision is throttled), forward. Each step is a phase;
// tracing (tracing.go) is one wrapper around the phases, put on in New.
type phases struct {
	serve    func(w http.ResponseWriter, r *http.Request)
	route    func(w http.ResponseWriter, r *http.Request) (*hostRoute, *Target, bool)
	activate func(w http.ResponseWriter, r *http.Request, tg *Target, ready bool) (*http.Request, activation)
	forward  func(w http.ResponseWriter, r *http.Request, call backendCall)
}

func (g *Gateway) basePhases() phases {
	return phases{serve: g.serve, route: g.route, activate: g.activate, forward: g.forward}
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if v, ok := r.Header[ProbeHeader]; ok && len(v) == 1 && v[0] == "probe" {
		g.answerProbe(w, r)
		return
	}
	h1.ShareTrailers(r)
	g.ph.serve(w, r)
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) {
	if code := max(g.limits.CheckHead(r), g.limits.CheckBody(r)); code != 0 {
		g.clientError(w, r, code)
		return
	}
	hr, tg, ok := g.ph.route(w, r)
	if !ok {
		return
	}
	ep, ready := g.pick(tg.key)
	if !ready || tg.Throttle && tg.ContainerConcurrency > 0 {
		var a activation
		if r, a = g.ph.activate(w, r, tg, ready); a.code != 0 {
			return
		}
		if a.release != nil {
			defer a.release()
		}
		ep = a.ep
	}
	g.ph.forward(w, r, g.backendFor(r, hr, tg, ep))
}

// route picks the revision for r; false means r was answered (404, 503).
func (g *Gateway) route(w http.ResponseWriter, r *http.Request) (*hostRoute, *Target, bool) {
	hr, ok := g.table.Load().lookup(r.Host)
	if ok {
		hr, ok = hr.match(r.URL.Path)
	}
	if !ok {
		g.errUnknownHost.Inc()
		g.fail(w, "gantry: no service for host "+quote(r.Host), http.StatusNotFound)
		return nil, nil, false
	}
	tg, ok := hr.pickNext()
	if tg != nil && tg.count != nil {
		tg.count.Add(1)
	}
	if !ok {
		g.errNoEndpoint.Inc()
		g.fail(w, "gantry: route "+hr.entry.Namespace+"/"+hr.entry.Route+" has no traffic targets", http.StatusServiceUnavailable)
		return hr, tg, false
	}
	return hr, tg, true
}

// activation is how the activator's part ended: code 0 with an instance
// (and a throttle slot to release, if any), or the status r was answered.
type activation struct {
	ep      Endpoint
	release func() // nil: nothing to release
	waited  time.Duration
	cold    bool // waited for a first ready instance
	code    int
}

// activate holds r until tg has a ready instance and, for a throttled
// revision, a free slot (containerConcurrency per instance).
func (g *Gateway) activate(w http.ResponseWriter, r *http.Request, tg *Target, ready bool) (*http.Request, activation) {
	key := tg.key
	timeout := tg.Timeout
	if timeout <= 0 {
		timeout = g.timeout
	}
	throttle := tg.Throttle
	var a activation
	if !ready {
		h1.WatchClient(r.Context()) // a client that leaves the wait ends it
		a.ep, a.waited, a.code = g.act.wait(r.Context(), *tg, timeout, func() (Endpoint, bool) { return g.pick(key) })
		switch a.code {
		case 0:
			a.cold = true
			w.Header().Set("Gantry-Cold-Start", "true")
			w.Header().Set("Gantry-Cold-Start-Ms", formatMillis(a.waited))
			throttle = tg.ContainerConcurrency > 0
		case h1.StatusClientClosed:
			g.count(a.code) // the client gave up
			return r, a
		case http.StatusGatewayTimeout:
			g.errNoEndpoint.Inc()
			g.fail(w, "activator request timeout", a.code)
			return r, a
		default:
			g.errNoEndpoint.Inc()
			g.fail(w, "gantry: too many requests waiting for revision "+key, a.code)
			return r, a
		}
	}
	if !throttle || tg.ContainerConcurrency <= 0 {
		return r, a
	}
	// Release no more than containerConcurrency per ready instance.
	cc := tg.ContainerConcurrency
	capacity := func() int {
		if set := (*g.endpoints.Load())[key]; set != nil {
			return cc * len(set.addrs)
		}
		return 0
	}
	timer := time.NewTimer(timeout)
	h1.WatchClient(r.Context())
	release, code := g.act.acquire(r.Context(), key, capacity, timer.C)
	timer.Stop()
	switch {
	case code == h1.StatusClientClosed:
		g.count(code)
		a.code = code
		return r, a
	case code != 0:
		g.errNoEndpoint.Inc()
		a.code = http.StatusGatewayTimeout
		g.fail(w, "activator request timeout", a.code)
		return r, a
	}
	ep, ok := g.pick(key)
	if !ok {
		release()
		g.errNoEndpoint.Inc()
		a.code = http.StatusServiceUnavailable
		g.fail(w, "gantry: revision "+key+" lost its instances", a.code)
		return r, a
	}
	a.ep, a.release = ep, release
	return r, a
}

// backendCall is where and how a request goes to the queue-proxy.
type backendCall struct {
	addr string
	unix string // the queue-proxy's Unix socket for the fast path; "": addr
	host string // Host to send
	h2c  bool   // prior-knowledge HTTP/2 to the queue-proxy's h2c port
}

// backendFor sets the Knative headers on r and picks the port: gRPC (and
// h2c revisions) to the h2c port, the rest, upgrades included, to HTTP/1.
func (g *Gateway) backendFor(r *http.Request, hr *hostRoute, tg *Target, ep Endpoint) backendCall {
	if tg.hdrTag != nil {
		r.Header["Knative-Serving-Tag"] = tg.hdrTag
	} else {
		delete(r.Header, "Knative-Serving-Tag")
	}
	r.Header["Knative-Serving-Revision"] = tg.hdrRevision
	r.Header["Knative-Serving-Namespace"] = tg.hdrNamespace
	call := backendCall{addr: ep.HTTP, unix: ep.Unix, host: r.Host}
	if hr.entry.RewriteHost != "" {
		call.host = hr.entry.RewriteHost
	}
	if ep.H2C != "" && r.Header.Get("Upgrade") == "" && (tg.H2C || (tg.GRPC && isGRPC(r, tg.GRPCService))) {
		call.addr, call.unix, call.h2c = ep.H2C, "", true
	}
	return call
}

// forward sends r to the queue-proxy: the fast path for HTTP/1 (bodies
// included), httputil.ReverseProxy for h2c, upgrades and Expect.
func (g *Gateway) forward(w http.ResponseWriter, r *http.Request, call backendCall) {
	body := h1.NewBody(w, r, g.limits)
	if body != nil {
		r.Body = body // a failed forward can then tell the client's fault (backendError)
	}
	if !call.h2c && h1.Forwards(r) {
		addr := call.addr
		if call.unix != "" {
			addr = call.unix
		}
		if err := g.fast.serve(w, r, addr, call.host, g.count); err != nil {
			g.backendError(w, r, err)
		}
		return
	}
	proxy := g.proxy
	if call.h2c {
		proxy = g.h2Proxy
	}
	up := &upstream{addr: call.addr, body: body}
	if call.host != r.Host {
		up.host = call.host
	}
	proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, up)))
}

// isGRPC tells a gRPC request (for service, when set) by its content type and path.
func isGRPC(r *http.Request, service string) bool {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
		return false
	}
	return service == "" || strings.HasPrefix(r.URL.Path, "/"+service+"/")
}

// count records an answered request by code class, with pre-resolved counters.
func (g *Gateway) count(code int) {
	if c := code / 100; c >= 1 && c <= 5 {
		g.byClass[c].Inc()
	}
}

// fail answers a request the gateway could not route.
func (g *Gateway) fail(w http.ResponseWriter, msg string, code int) {
	g.count(code)
	http.Error(w, msg, code)
}

// clientError refuses a request for what the client sent. The rest of a
// body is not worth reading (nor always possible): the server closes.
func (g *Gateway) clientError(w http.ResponseWriter, r *http.Request, code int) {
	if r.ContentLength != 0 {
		w.Header().Set("Connection", "close")
	}
	g.fail(w, http.StatusText(code), code)
}

// pick chooses a ready instance of the revision with Endpoints key key.
func (g *Gateway) pick(key string) (Endpoint, bool) {
	if set := (*g.endpoints.Load())[key]; set != nil {
		return set.pick()
	}
	return Endpoint{}, false
}

// backendError answers a forward that failed before the response began.
// A failure of the client's making (a malformed, oversized, stalled or
// abandoned body) is a 4xx, never the backend's 502.
func (g *Gateway) backendError(w http.ResponseWriter, r *http.Request, err error) {
	code := 0
	if b, ok := r.Body.(*h1.Body); ok {
		code = b.ClientStatus()
	} else if up, ok := r.Context().Value(ctxKey{}).(*upstream); ok {
		code = up.body.ClientStatus() // ReverseProxy hands over its own wrapper
	}
	if code == 0 && errors.Is(err, context.Canceled) {
		code = h1.StatusClientClosed
	}
	switch code {
	case 0:
	case h1.StatusClientClosed:
		g.count(code) // nobody to answer
		return
	default:
		g.clientError(w, r, code)
		return
	}
	g.errBackend.Inc()
	now := time.Now().UnixNano()
	if last := g.lastBackendErr.Load(); now-last > int64(time.Second) && g.lastBackendErr.CompareAndSwap(last, now) {
		g.log.Warn("backend request failed", "host", r.Host, "backend", r.URL.Host, "err", err)
	}
	g.fail(w, "gantry: revision instance unreachable", http.StatusBadGateway)
}

func quote(s string) string {
	if len(s) > 256 {
		s = s[:256]
	}
	return "\"" + s + "\""
}
