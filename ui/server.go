package ui

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/apiserver/wire"
	"github.com/gantry-dev/gantry/dashboards"
	"github.com/gantry-dev/gantry/metrics"
	"github.com/gantry-dev/gantry/store"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// TokenEnv, CheckAddr and RequireToken moved to package apiserver/wire with
// the API; these names stay so that callers keep building.
const TokenEnv = wire.TokenEnv

// ErrNeedToken: see wire.ErrNeedToken.
var ErrNeedToken = wire.ErrNeedToken

// CheckAddr: see wire.CheckAddr.
func CheckAddr(addr, token string) error { return wire.CheckAddr(addr, token) }

// RequireToken: see wire.RequireToken.
func RequireToken(token string, h http.Handler) http.Handler { return wire.RequireToken(token, h) }

// SDTarget: see wire.SDTarget.
type SDTarget = wire.SDTarget

// TrafficRow: see wire.TrafficRow.
type TrafficRow = wire.TrafficRow

// Options configures the pages. Store and Config are required.
type Options struct {
	Store  *store.Store
	Config func() *api.Config
	// Instances lists a revision's instances.
	Instances func(namespace, revision string) any
	// Requests reports the requests a route's main host sent each revision
	// recently, and over how long (the traffic table's observed share).
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
	// static files (see wire.RequireToken).
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

// New returns the handler of the web pages, their JSON under /api/ui/, the
// downloads and the static files. The API beside them is package apiserver.
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
	e.HTTPErrorHandler = wire.ErrorHandler(o.Logger, s.errorPage)
	e.Use(middleware.GzipWithConfig(middleware.GzipConfig{Skipper: func(c echo.Context) bool {
		// Only the pages and their JSON are big; keep the rest as it was.
		p := c.Request().URL.Path
		return !(p == "/" || strings.HasPrefix(p, "/services/") || strings.HasPrefix(p, "/revisions/") ||
			strings.HasPrefix(p, "/api/ui/") || strings.HasPrefix(p, "/static/"))
	}}))
	s.uiRoutes(e)
	return wire.RequireToken(o.AuthToken, e)
}

// trafficOf lists a route's traffic targets with the share of requests each
// received.
func (s *server) trafficOf(namespace, name string) (wire.Traffic, error) {
	return wire.RouteTraffic(s.o.Store, s.o.Requests, namespace, name)
}
