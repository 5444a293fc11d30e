package ui

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/controller"
	"github.com/gantry-dev/gantry/dashboards"
	"github.com/gantry-dev/gantry/metrics"
	"github.com/gantry-dev/gantry/store"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/apimachinery/pkg/labels"
)

// maxApplyBytes bounds an apply request body.
const maxApplyBytes = 8 << 20

// SDTarget is one group of Prometheus HTTP service discovery.
type SDTarget struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// Options configures the server. Store and Config are required.
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
	Logger   *slog.Logger

	// Querier runs the pages' PromQL (the embedded engine or a remote
	// Prometheus). Nil: every metric shows "no data"; the pages still work.
	Querier metrics.Querier
	// Alerts lists the pending and firing alerts. Nil: no rules are evaluated.
	Alerts func() []metrics.Alert
	// Decisions lists a revision's last autoscaler decisions, oldest first
	// (scaling.Scaler.Decisions).
	Decisions func(namespace, revision string) any
	// RecentErrors lists a service's latest failed requests, newest first, at
	// most limit. Nil: the service page says they are not reported.
	RecentErrors func(namespace, service string, limit int) []RequestError
	// AuthToken, when set, is required of every request but /healthz and
	// static files (see RequireToken).
	AuthToken string
	// GrafanaURL (http://grafana:3000) adds a link from each alert to the
	// dashboard panel of what it watches.
	GrafanaURL string
	// Prices of the cost column and charts; zero means the dashboards'
	// defaults (DefaultCPUPrice, DefaultMemoryPrice).
	CPUPricePerVCPUSecond   float64
	MemoryPricePerGiBSecond float64
	// Rules are the options of the alert rules offered for download: pass
	// the ones the embedded engine evaluates.
	Rules dashboards.RuleOptions
	// Now is the clock of the pages; nil means time.Now.
	Now func() time.Time
}

type server struct {
	o        Options
	prices   map[string]string
	panelUID string
	panelID  uint32
}

func (s *server) now() time.Time { return s.o.Now() }

// New returns the API and UI handler.
func New(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &server{o: o, prices: map[string]string{}}
	if o.CPUPricePerVCPUSecond > 0 {
		s.prices[dashboards.VarCPUPrice] = strconv.FormatFloat(o.CPUPricePerVCPUSecond, 'g', -1, 64)
	}
	if o.MemoryPricePerGiBSecond > 0 {
		s.prices[dashboards.VarMemPrice] = strconv.FormatFloat(o.MemoryPricePerGiBSecond, 'g', -1, 64)
	}
	s.panelUID, s.panelID = alertPanel()
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.Use(middleware.GzipWithConfig(middleware.GzipConfig{Skipper: func(c echo.Context) bool {
		// Only the pages and their JSON are big; keep the rest as it was.
		p := c.Request().URL.Path
		return !(p == "/" || strings.HasPrefix(p, "/services/") || strings.HasPrefix(p, "/revisions/") ||
			strings.HasPrefix(p, "/api/ui/") || strings.HasPrefix(p, "/static/"))
	}}))
	e.POST("/api/v1/apply", s.apply)
	e.GET("/api/v1/sd", s.sd)
	e.GET("/api/v1/:resource", s.list)
	e.GET("/api/v1/:resource/:namespace/:name", s.get)
	e.GET("/api/v1/revisions/:namespace/:name/instances", s.instances)
	e.GET("/api/v1/routes/:namespace/:name/traffic", s.traffic)
	e.DELETE("/api/v1/:resource/:namespace/:name", s.delete)
	if o.Gatherer != nil {
		e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{EnableOpenMetrics: true})))
	}
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	s.uiRoutes(e)
	return RequireToken(o.AuthToken, e)
}

// apiError is the one JSON shape of every API error.
type apiError struct {
	Error string `json:"error"`
}

// errorHandler maps errors to HTTP statuses in one place.
func (s *server) errorHandler(err error, c echo.Context) {
	code, msg := http.StatusInternalServerError, err.Error()
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		code, msg = he.Code, fmt.Sprint(he.Message)
	case errors.Is(err, controller.ErrInvalid):
		code = http.StatusBadRequest
	case errors.Is(err, store.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, store.ErrConflict):
		code = http.StatusConflict
	}
	if code >= 500 {
		s.o.Logger.Error("api request failed", "path", c.Path(), "err", err)
	}
	if c.Response().Committed {
		return
	}
	if wantsHTML(c.Request()) {
		if perr := s.errorPage(c, code, msg); perr == nil {
			return
		}
	}
	_ = c.JSON(code, apiError{Error: msg})
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
	items, err := s.o.Store.List(kind, c.QueryParam("namespace"))
	if err != nil {
		return err
	}
	if sel := c.QueryParam("labelSelector"); sel != "" {
		selector, err := labels.Parse(sel)
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "labelSelector: "+err.Error())
		}
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
	if kind == api.KindRevision || kind == api.KindConfiguration || kind == api.KindRoute {
		// Objects a Service owns come back on the next pass; say so instead.
		if o, err := s.o.Store.Get(kind, c.Param("namespace"), c.Param("name")); err == nil {
			if len(o.GetOwnerReferences()) > 0 && kind != api.KindRevision {
				ref := o.GetOwnerReferences()[0]
				return echo.NewHTTPError(http.StatusConflict, fmt.Sprintf("%s %s/%s is owned by %s %q: delete that instead", kind, c.Param("namespace"), c.Param("name"), ref.Kind, ref.Name))
			}
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

// TrafficRow is one traffic target with the share of requests it received.
type TrafficRow struct {
	RevisionName   string  `json:"revisionName"`
	Percent        int64   `json:"percent"`
	Tag            string  `json:"tag,omitempty"`
	URL            string  `json:"url,omitempty"`
	LatestRevision bool    `json:"latestRevision"`
	Requests       uint64  `json:"requests"`
	ObservedShare  float64 `json:"observedShare"` // percent of the route's requests
}

type trafficResponse struct {
	Route         string       `json:"route"`
	URL           string       `json:"url"`
	WindowSeconds float64      `json:"windowSeconds"`
	Targets       []TrafficRow `json:"targets"`
}

func (s *server) traffic(c echo.Context) error {
	resp, err := s.trafficOf(c.Param("namespace"), c.Param("name"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, resp)
}

// trafficOf lists a route's traffic targets with the share of requests each
// received.
func (s *server) trafficOf(namespace, name string) (trafficResponse, error) {
	o, err := s.o.Store.Get(api.KindRoute, namespace, name)
	if err != nil {
		return trafficResponse{}, err
	}
	r := o.(*api.Route)
	var counts map[string]uint64
	var window time.Duration
	if s.o.Requests != nil {
		counts, window = s.o.Requests(r.Namespace, r.Name)
	}
	var total uint64
	for _, n := range counts {
		total += n
	}
	resp := trafficResponse{Route: r.Name, URL: r.Status.URL, WindowSeconds: window.Seconds(), Targets: []TrafficRow{}}
	seen := map[string]bool{}
	for _, t := range r.Status.Traffic {
		row := TrafficRow{RevisionName: t.RevisionName, Tag: t.Tag, URL: t.URL, LatestRevision: t.LatestRevision != nil && *t.LatestRevision}
		if t.Percent != nil {
			row.Percent = *t.Percent
		}
		if !seen[t.RevisionName] {
			// A revision listed twice (say, by name and as latest) received its
			// requests once: count them on its first row.
			seen[t.RevisionName] = true
			row.Requests = counts[t.RevisionName]
			if total > 0 {
				row.ObservedShare = 100 * float64(row.Requests) / float64(total)
			}
		}
		resp.Targets = append(resp.Targets, row)
	}
	return resp, nil
}
