package apiserver

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/apiserver/wire"
	"github.com/gantry-dev/gantry/controller"
	"github.com/gantry-dev/gantry/dashboards"
	"github.com/gantry-dev/gantry/metrics"
	"github.com/gantry-dev/gantry/store"
	"github.com/gantry-dev/gantry/ui"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/apimachinery/pkg/labels"
)

// maxApplyBytes bounds an apply request body.
const maxApplyBytes = 8 << 20

// SDTarget is one group of Prometheus HTTP service discovery.
type SDTarget = wire.SDTarget

// Options configures the API and the pages served with it. Store and Config
// are required. The fields after Logger only concern the pages (ui.Options).
type Options struct {
	Store    *store.Store
	Config   func() *api.Config
	Gatherer prometheus.Gatherer // control-plane metrics on /metrics
	// SDTargets lists scrape targets for /api/v1/sd.
	SDTargets func() []SDTarget
	// Instances lists a revision's instances for /api/v1/revisions/NS/NAME/instances.
	Instances func(namespace, revision string) any
	// Requests reports the requests a route's main host sent each revision
	// recently, and over how long, for /api/v1/routes/NS/NAME/traffic.
	Requests func(namespace, route string) (map[string]uint64, time.Duration)
	// AuthToken, when set, is required of every request but /healthz and
	// static files (see wire.RequireToken).
	AuthToken string
	Logger    *slog.Logger

	Querier                 metrics.Querier
	Alerts                  func() []metrics.Alert
	Decisions               func(namespace, revision string) any
	RecentErrors            func(namespace, service string, limit int) []ui.RequestError
	GrafanaURL              string
	CPUPricePerVCPUSecond   float64
	MemoryPricePerGiBSecond float64
	Rules                   dashboards.RuleOptions
	Now                     func() time.Time
}

type server struct {
	o Options

	// Watches end when the http.Server serving them shuts down, so that an
	// open `gantry get -w` does not hold up Shutdown; stopping is closed then.
	stopOnce   sync.Once
	stopping   chan struct{}
	registered sync.Map // *http.Server → true once RegisterOnShutdown is called
}

// stopWatchesOn arranges for watches to end when srv shuts down.
func (s *server) stopWatchesOn(srv *http.Server) {
	if _, loaded := s.registered.LoadOrStore(srv, true); !loaded {
		srv.RegisterOnShutdown(func() { s.stopOnce.Do(func() { close(s.stopping) }) })
	}
}

// Route is one route of the API, as docs/api.md lists it.
type Route struct {
	Method, Path string
}

// routes is the API's table; Routes and New both read it so that the docs
// test sees what is served.
func (s *server) routes() []struct {
	Route
	h echo.HandlerFunc
} {
	type r = struct {
		Route
		h echo.HandlerFunc
	}
	out := []r{
		{Route{http.MethodPost, "/api/v1/apply"}, s.apply},
		{Route{http.MethodGet, "/api/v1/sd"}, s.sd},
		{Route{http.MethodGet, "/api/v1/:resource"}, s.list},
		{Route{http.MethodGet, "/api/v1/:resource/:namespace/:name"}, s.get},
		{Route{http.MethodGet, "/api/v1/revisions/:namespace/:name/instances"}, s.instances},
		{Route{http.MethodGet, "/api/v1/routes/:namespace/:name/traffic"}, s.traffic},
		{Route{http.MethodDelete, "/api/v1/:resource/:namespace/:name"}, s.delete},
		{Route{http.MethodGet, "/healthz"}, func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") }},
	}
	if s.o.Gatherer != nil {
		out = append(out, r{Route{http.MethodGet, "/metrics"},
			echo.WrapHandler(promhttp.HandlerFor(s.o.Gatherer, promhttp.HandlerOpts{EnableOpenMetrics: true}))})
	}
	return out
}

// Routes lists the API's routes (with /metrics), in Echo's :param syntax.
func Routes() []Route {
	s := &server{o: Options{Gatherer: prometheus.NewRegistry()}}
	var out []Route
	for _, r := range s.routes() {
		out = append(out, r.Route)
	}
	return out
}

// New returns the handler of the API and the web pages, behind the auth
// token when one is set.
func New(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &server{o: o, stopping: make(chan struct{})}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = wire.ErrorHandler(o.Logger, nil)
	for _, r := range s.routes() {
		e.Add(r.Method, r.Path, r.h)
	}
	pages := ui.New(ui.Options{Store: o.Store, Config: o.Config, Instances: o.Instances, Requests: o.Requests,
		Logger: o.Logger, Querier: o.Querier, Alerts: o.Alerts, Decisions: o.Decisions, RecentErrors: o.RecentErrors,
		GrafanaURL: o.GrafanaURL, CPUPricePerVCPUSecond: o.CPUPricePerVCPUSecond,
		MemoryPricePerGiBSecond: o.MemoryPricePerGiBSecond, Rules: o.Rules, Now: o.Now})
	mux := http.NewServeMux()
	mux.Handle("/", pages)
	mux.Handle("/api/v1/", e)
	mux.Handle("/healthz", e)
	mux.Handle("/metrics", e)
	return wire.RequireToken(o.AuthToken, mux)
}

type applyResponse struct {
	Results []controller.Applied `json:"results"`
}

func (s *server) apply(c echo.Context) error {
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxApplyBytes+1))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "read body: "+err.Error())
	}
	if len(body) > maxApplyBytes {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("manifest larger than %d bytes", maxApplyBytes))
	}
	objs, err := api.Decode(strings.NewReader(string(body)))
	if err != nil {
		return controller.Invalid("%v", err)
	}
	res, err := controller.Apply(s.o.Store, s.o.Config(), objs)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, applyResponse{Results: res})
}

func kindParam(c echo.Context) (string, error) {
	k, ok := api.KindForResource(c.Param("resource"))
	if !ok {
		return "", echo.NewHTTPError(http.StatusNotFound, fmt.Sprintf("unknown resource %q (want services, configurations, revisions, routes, domainmappings, configmaps)", c.Param("resource")))
	}
	return k, nil
}

type listResponse struct {
	Items []api.Object `json:"items"`
}

func (s *server) list(c echo.Context) error {
	kind, err := kindParam(c)
	if err != nil {
		return err
	}
	var selector labels.Selector
	if sel := c.QueryParam("labelSelector"); sel != "" {
		if selector, err = labels.Parse(sel); err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "labelSelector: "+err.Error())
		}
	}
	if w := c.QueryParam("watch"); w == "true" || w == "1" {
		return s.watch(c, kind, selector)
	}
	items, err := s.o.Store.List(kind, c.QueryParam("namespace"))
	if err != nil {
		return err
	}
	if selector != nil {
		items = filterLabels(items, selector)
	}
	if items == nil {
		items = []api.Object{}
	}
	for i := range items {
		items[i] = api.Redacted(items[i]) // Secret values never leave the server
	}
	return c.JSON(http.StatusOK, listResponse{Items: items})
}

// filterLabels keeps objects matching a Kubernetes label selector.
func filterLabels(items []api.Object, sel labels.Selector) []api.Object {
	var out []api.Object
	for _, o := range items {
		if sel.Matches(labels.Set(o.GetLabels())) {
			out = append(out, o)
		}
	}
	return out
}

func (s *server) get(c echo.Context) error {
	kind, err := kindParam(c)
	if err != nil {
		return err
	}
	o, err := s.o.Store.Get(kind, c.Param("namespace"), c.Param("name"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, api.Redacted(o)) // Secret values never leave the server
}

func (s *server) instances(c echo.Context) error {
	if _, err := s.o.Store.Get(api.KindRevision, c.Param("namespace"), c.Param("name")); err != nil {
		return err
	}
	var v any = []any{}
	if s.o.Instances != nil {
		v = s.o.Instances(c.Param("namespace"), c.Param("name"))
	}
	return c.JSON(http.StatusOK, map[string]any{"items": v})
}

func (s *server) delete(c echo.Context) error {
	kind, err := kindParam(c)
	if err != nil {
		return err
	}
	if kind == api.KindConfiguration || kind == api.KindRoute {
		// Objects a Service owns come back on the next pass; say so instead.
		if o, err := s.o.Store.Get(kind, c.Param("namespace"), c.Param("name")); err == nil && len(o.GetOwnerReferences()) > 0 {
			ref := o.GetOwnerReferences()[0]
			return echo.NewHTTPError(http.StatusConflict, fmt.Sprintf("%s %s/%s is owned by %s %q: delete that instead", kind, c.Param("namespace"), c.Param("name"), ref.Kind, ref.Name))
		}
	}
	if err := s.o.Store.Delete(kind, c.Param("namespace"), c.Param("name")); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"deleted": kind + " " + c.Param("namespace") + "/" + c.Param("name")})
}

func (s *server) sd(c echo.Context) error {
	var t []SDTarget
	if s.o.SDTargets != nil {
		t = s.o.SDTargets()
	}
	if t == nil {
		t = []SDTarget{}
	}
	return c.JSON(http.StatusOK, t)
}

func (s *server) traffic(c echo.Context) error {
	resp, err := wire.RouteTraffic(s.o.Store, s.o.Requests, c.Param("namespace"), c.Param("name"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, resp)
}
