package queueproxy

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// latencyBucketsMS are Knative's request latency buckets, in milliseconds.
var latencyBucketsMS = []float64{5, 10, 20, 40, 60, 80, 100, 150, 200, 250, 300, 350, 400, 450,
	500, 600, 700, 800, 900, 1000, 2000, 5000, 10000, 20000, 50000, 100000}

const (
	routeTagDefault   = "DEFAULT"
	routeTagUndefined = "UNDEFINED"
	// maxRouteTags bounds the series a client can create with made-up tag headers.
	maxRouteTags = 64
	maxCode      = 999
)

// Metrics holds the request metrics served on the metrics port, with
// Knative's names and labels. Children are resolved once per (route tag,
// status code) and then reached with an atomic load, so recording a request
// neither allocates nor locks.
type Metrics struct {
	reg      *prometheus.Registry
	reqCount *prometheus.CounterVec
	reqLat   *prometheus.HistogramVec
	appCount *prometheus.CounterVec
	appLat   *prometheus.HistogramVec

	app        codeSet
	defaultTag *codeSet
	tags       sync.Map // route tag → *codeSet
	ntags      atomic.Int32
}

// codeSet is the children of one label combination, indexed by status code.
type codeSet struct {
	count *prometheus.CounterVec
	lat   *prometheus.HistogramVec
	tag   []string // nil for the app metrics, which have no route_tag
	mu    sync.Mutex
	codes [maxCode + 1]atomic.Pointer[child]
}

type child struct {
	count prometheus.Counter
	lat   prometheus.Observer
}

func (cs *codeSet) get(code int) *child {
	if code < 0 || code > maxCode {
		code = 0
	}
	if c := cs.codes[code].Load(); c != nil {
		return c
	}
	cs.mu.Lock() // once per code seen
	defer cs.mu.Unlock()
	if c := cs.codes[code].Load(); c != nil {
		return c
	}
	lv := append([]string{strconv.Itoa(code), strconv.Itoa(code/100) + "xx"}, cs.tag...)
	c := &child{count: cs.count.WithLabelValues(lv...), lat: cs.lat.WithLabelValues(lv...)}
	cs.codes[code].Store(c)
	return c
}

// MetricsOptions configures NewMetrics; the zero value is usable.
type MetricsOptions struct {
	QueueDepth func() float64 // nil: no revision_queue_depth (no breaker)
	AppPID     func() int     // the app's process, 0 when unknown
}

// NewMetrics registers the request and resource metrics for env e.
func NewMetrics(e Env, o MetricsOptions) *Metrics {
	service := e.Service
	if service == "" {
		service = "unknown"
	}
	constLabels := prometheus.Labels{
		"namespace_name":     e.Namespace,
		"service_name":       service,
		"configuration_name": e.Configuration,
		"revision_name":      e.Revision,
		"pod_name":           e.Pod,
		"container_name":     "queue-proxy",
	}
	reqLabels := []string{"response_code", "response_code_class", "route_tag"}
	appLabels := []string{"response_code", "response_code_class"}
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.reqCount = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "revision_request_count", Help: "The number of requests that are routed to queue-proxy",
		ConstLabels: constLabels}, reqLabels)
	m.reqLat = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "revision_request_latencies", Help: "The response time in millisecond",
		ConstLabels: constLabels, Buckets: latencyBucketsMS}, reqLabels)
	m.appCount = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "revision_app_request_count", Help: "The number of requests that are routed to user-container",
		ConstLabels: constLabels}, appLabels)
	m.appLat = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "revision_app_request_latencies", Help: "The response time in millisecond",
		ConstLabels: constLabels, Buckets: latencyBucketsMS}, appLabels)
	m.reg.MustRegister(m.reqCount, m.reqLat, m.appCount, m.appLat)
	if o.QueueDepth != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "revision_queue_depth", Help: "The current number of items in the serving and waiting queue",
			ConstLabels: constLabels}, o.QueueDepth))
	}
	m.reg.MustRegister(newProcessCollector(e, o.AppPID))
	m.app = codeSet{count: m.appCount, lat: m.appLat}
	m.defaultTag = m.newTagSet(routeTagDefault)
	m.tags.Store(routeTagDefault, m.defaultTag)
	return m
}

func (m *Metrics) newTagSet(tag string) *codeSet {
	return &codeSet{count: m.reqCount, lat: m.reqLat, tag: []string{tag}}
}

func (m *Metrics) tagSet(tag string) *codeSet {
	if tag == "" || tag == routeTagDefault {
		return m.defaultTag
	}
	if v, ok := m.tags.Load(tag); ok {
		return v.(*codeSet)
	}
	if m.ntags.Add(1) > maxRouteTags {
		m.ntags.Add(-1)
		tag = routeTagUndefined
		if v, ok := m.tags.Load(tag); ok {
			return v.(*codeSet)
		}
	}
	v, loaded := m.tags.LoadOrStore(tag, m.newTagSet(tag))
	if loaded && tag != routeTagUndefined {
		m.ntags.Add(-1)
	}
	return v.(*codeSet)
}

// RecordRequest counts a request at the queue level (queue wait included).
func (m *Metrics) RecordRequest(tag string, code int, d time.Duration, traceID string) {
	record(m.tagSet(tag).get(code), d, traceID)
}

// RecordAppRequest counts a request as the app saw it (after the breaker).
func (m *Metrics) RecordAppRequest(code int, d time.Duration, traceID string) {
	record(m.app.get(code), d, traceID)
}

func record(c *child, d time.Duration, traceID string) {
	ms := float64(d) / float64(time.Millisecond)
	if traceID == "" {
		c.count.Inc()
		c.lat.Observe(ms)
		return
	}
	// Only the latency buckets carry the exemplar: Knative's counter names
	// have no _total suffix, and OpenMetrics parsers (Prometheus's among
	// them) refuse exemplars on such a counter, failing the whole scrape.
	c.count.Inc()
	c.lat.(prometheus.ExemplarObserver).ObserveWithExemplar(ms, prometheus.Labels{"trace_id": traceID})
}

// Handler serves the registry, in OpenMetrics when the scraper asks for it
// (exemplars are only shown there).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// Registry exposes the registry, for tests and for callers adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }
