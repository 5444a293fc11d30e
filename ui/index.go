package ui

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// uiRoutes adds the web pages, their JSON and the downloads. The JSON lives
// under /api/ui/ so that it cannot clash with Gantry's /api/v1/{resource} or
// with the Prometheus API mounted beside it.
func (s *server) uiRoutes(e *echo.Echo) {
	e.GET("/", s.servicesPage)
	e.GET("/services/:namespace/:name", s.servicePage)
	e.GET("/revisions/:namespace/:name", s.revisionPage)
	e.GET("/alerts", s.alertsPage)
	e.GET("/downloads", s.downloadsPage)
	e.GET("/downloads/rules.yml", s.downloadRules)
	e.GET("/downloads/dashboards/:file", s.downloadDashboard)
	e.StaticFS("/static", staticFiles())

	e.GET("/api/ui/services", s.apiServices)
	e.GET("/api/ui/services/:namespace/:name", s.apiService)
	e.GET("/api/ui/revisions/:namespace/:name", s.apiRevision)
	e.GET("/api/ui/alerts", s.apiAlerts)
	e.GET("/api/ui/downloads", s.apiDownloads)
	e.Any("/api/ui/*", func(c echo.Context) error {
		return echo.NewHTTPError(http.StatusNotFound, "no such UI endpoint "+c.Request().URL.Path+
			" (want /api/ui/services, /api/ui/services/NS/NAME, /api/ui/revisions/NS/NAME, /api/ui/alerts, /api/ui/downloads)")
	})
}
