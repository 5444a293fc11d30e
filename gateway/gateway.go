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
	tr        *gwTracer // nil: tracing off
	limits    h1.Limits

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
	g.tr = newGWTracer(o.TracerProvider)
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

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.tr != nil {
		var sw *spanWriter
		sw, r = g.tr.startServer(w, r)
		defer sw.end(r)
		w = sw
	}
	if code := max(g.limits.CheckHead(r), g.limits.CheckBody(r)); code != 0 {
		g.clientError(w, r, code)
		return
	}
	hr, ok := g.table.Load().lookup(r.Host)
	if ok {
		hr, ok = hr.match(r.URL.Path)
	}
	if !ok {
		g.errUnknownHost.Inc()
		g.fail(w, "gantry: no service for host "+quote(r.Host), http.StatusNotFound)
		return
	}
	tg, ok := hr.pickRandom()
	if tg != nil && tg.count != nil {
		tg.count.Add(1)
	}
	if !ok {
		g.errNoEndpoint.Inc()
		g.fail(w, "gantry: route "+hr.entry.Namespace+"/"+hr.entry.Route+" has no traffic targets", http.StatusServiceUnavailable)
		return
	}
	if g.tr != nil {
		g.tr.chose(r.Context(), &hr.entry, tg)
	}
	key := tg.key
	timeout := tg.Timeout
	if timeout <= 0 {
		timeout = g.timeout
	}
	throttle := tg.Throttle
	var act actSpan // tracing only
	ep, ok := g.pick(key)
	if !ok {
		// The activator's path: hold the request until an instance is ready.
		if g.tr != nil {
			r = g.tr.startActivator(r, tg, &act)
			defer act.end()
		}
		var waited time.Duration
		var code int
		h1.WatchClient(r.Context()) // a client that leaves the wait ends it
		ep, waited, code = g.act.wait(r.Context(), *tg, timeout, func() (Endpoint, bool) { return g.pick(key) })
		if g.tr != nil {
			g.tr.activated(r.Context(), act, waited, code)
		}
		switch code {
		case 0:
			w.Header().Set("Gantry-Cold-Start", "true")
			w.Header().Set("Gantry-Cold-Start-Ms", formatMillis(waited))
			throttle = tg.ContainerConcurrency > 0
		case h1.StatusClientClosed:
			g.count(code) // the client gave up
			return
		case http.StatusGatewayTimeout:
			g.errNoEndpoint.Inc()
			g.fail(w, "activator request timeout", http.StatusGatewayTimeout)
			return
		default:
			g.errNoEndpoint.Inc()
			g.fail(w, "gantry: too many requests waiting for revision "+key, http.StatusServiceUnavailable)
			return
		}
	}
	if throttle && tg.ContainerConcurrency > 0 {
		if g.tr != nil && act.sp == nil {
			r = g.tr.startActivator(r, tg, &act)
			defer act.end()
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
		if code == h1.StatusClientClosed {
			g.count(code)
			return
		}
		if code != 0 {
			g.errNoEndpoint.Inc()
			g.fail(w, "activator request timeout", http.StatusGatewayTimeout)
			return
		}
		defer release()
		if ep, ok = g.pick(key); !ok {
			g.errNoEndpoint.Inc()
			g.fail(w, "gantry: revision "+key+" lost its instances", http.StatusServiceUnavailable)
			return
		}
	}
	if tg.Tag != "" {
		r.Header.Set("Knative-Serving-Tag", tg.Tag)
	} else {
		r.Header.Del("Knative-Serving-Tag")
	}
	r.Header.Set("Knative-Serving-Revision", tg.Revision)
	r.Header.Set("Knative-Serving-Namespace", tg.Namespace)
	proxy, addr := g.proxy, ep.HTTP
	// Upgrades (WebSocket) are an HTTP/1.1 mechanism: they take the HTTP/1 port.
	if ep.H2C != "" && r.Header.Get("Upgrade") == "" && (tg.H2C || (tg.GRPC && isGRPC(r, tg.GRPCService))) {
		proxy, addr = g.h2Proxy, ep.H2C
	}
	if g.tr != nil {
		defer endClient(g.tr.startClient(r, addr), w.(*spanWriter))
	}
	body := h1.NewBody(w, r, g.limits)
	if body != nil {
		r.Body = body // a failed forward can then tell the client's fault (backendError)
	}
	if proxy == g.proxy && fastEligible(r) {
		host := r.Host
		if hr.entry.RewriteHost != "" {
			host = hr.entry.RewriteHost
		}
		if err := g.fast.serve(w, r, addr, host, g.count); err != nil {
			g.backendError(w, r, err)
		}
		return
	}
	proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, &upstream{addr: addr, host: hr.entry.RewriteHost, body: body})))
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
