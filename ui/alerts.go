package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-dev/gantry/dashboards"
	"github.com/labstack/echo/v4"
)

// AlertView is one pending or firing alert.
type AlertView struct {
	Name        string            `json:"name"`
	State       string            `json:"state"` // pending or firing
	Severity    string            `json:"severity,omitempty"`
	Namespace   string            `json:"namespace,omitempty"`
	Service     string            `json:"service,omitempty"`
	Revision    string            `json:"revision,omitempty"`
	Summary     string            `json:"summary,omitempty"`
	Description string            `json:"description,omitempty"`
	Labels      map[string]string `json:"labels"`
	ActiveAt    time.Time         `json:"activeAt"`
	Value       float64           `json:"value"`
	Expr        string            `json:"expr"`
	// GrafanaURL opens the dashboard panel that shows what the alert watches,
	// when a Grafana URL is configured.
	GrafanaURL string `json:"grafanaUrl,omitempty"`
}

// AlertsResponse is GET /api/ui/alerts.
type AlertsResponse struct {
	// Available is false when nothing evaluates rules (no metrics engine).
	Available bool        `json:"available"`
	Firing    int         `json:"firing"`
	Pending   int         `json:"pending"`
	Alerts    []AlertView `json:"alerts"`
}

// alertPanel finds the id of the overview panel that plots the 5xx ratio,
// the SLI of every generated alert, in the generated dashboard itself.
func alertPanel() (uid string, id uint32) {
	uid = "gantry-overview"
	d, err := dashboards.Dashboard(uid)
	if err != nil {
		return uid, 0
	}
	for _, p := range d.Panels {
		if p.Panel != nil && p.Panel.Title != nil && *p.Panel.Title == dashboards.ErrorRatio5xxByRevision.Title && p.Panel.Id != nil {
			return uid, *p.Panel.Id
		}
		if p.RowPanel != nil {
			for _, q := range p.RowPanel.Panels {
				if q.Title != nil && *q.Title == dashboards.ErrorRatio5xxByRevision.Title && q.Id != nil {
					return uid, *q.Id
				}
			}
		}
	}
	return uid, 0
}

// grafanaLink opens the alert's panel with the dashboard's variables set to
// the alert's revision.
func (s *server) grafanaLink(labels map[string]string) string {
	if s.o.GrafanaURL == "" {
		return ""
	}
	v := url.Values{"from": {"now-1h"}, "to": {"now"}}
	if s.panelID != 0 {
		v.Set("viewPanel", strconv.FormatUint(uint64(s.panelID), 10))
	}
	for _, k := range []string{"namespace", "service", "revision"} {
		if l := labels[k+"_name"]; l != "" {
			v.Set("var-"+k, l)
		}
	}
	return strings.TrimRight(s.o.GrafanaURL, "/") + "/d/" + s.panelUID + "/?" + v.Encode()
}

func (s *server) alerts(state string) AlertsResponse {
	resp := AlertsResponse{Available: s.o.Alerts != nil, Alerts: []AlertView{}}
	if s.o.Alerts == nil {
		return resp
	}
	for _, a := range s.o.Alerts() {
		switch a.State {
		case "firing":
			resp.Firing++
		case "pending":
			resp.Pending++
		}
		if state != "" && a.State != state {
			continue
		}
		resp.Alerts = append(resp.Alerts, AlertView{Name: a.Name, State: a.State, Severity: a.Labels["severity"],
			Namespace: a.Labels["namespace_name"], Service: a.Labels["service_name"], Revision: a.Labels["revision_name"],
			Summary: a.Annotations["summary"], Description: a.Annotations["description"], Labels: a.Labels,
			ActiveAt: a.ActiveAt, Value: a.Value, Expr: a.Expr, GrafanaURL: s.grafanaLink(a.Labels)})
	}
	// Firing first, then the oldest.
	slices.SortStableFunc(resp.Alerts, func(a, b AlertView) int {
		if (a.State == "firing") != (b.State == "firing") {
			if a.State == "firing" {
				return -1
			}
			return 1
		}
		return a.ActiveAt.Compare(b.ActiveAt)
	})
	return resp
}

func stateParam(c echo.Context) (string, error) {
	switch st := c.QueryParam("state"); st {
	case "", "firing", "pending":
		return st, nil
	default:
		return "", echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("state %q: want firing or pending", st))
	}
}

func (s *server) apiAlerts(c echo.Context) error {
	st, err := stateParam(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.alerts(st))
}

// Download is one generated file the UI offers.
type Download struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	URL         string `json:"url"`
}

func downloads() []Download {
	out := []Download{{Name: "gantry.rules.yml", Description: "Prometheus alerting and recording rules (what gantry up evaluates)", URL: "/downloads/rules.yml"}}
	for _, uid := range dashboards.DashboardUIDs() {
		title := uid
		if d, err := dashboards.Dashboard(uid); err == nil && d.Title != nil {
			title = *d.Title
		}
		out = append(out, Download{Name: uid + ".json", Description: "Grafana dashboard " + title, URL: "/downloads/dashboards/" + uid + ".json"})
	}
	return out
}

func (s *server) apiDownloads(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]any{"items": downloads()})
}

func (s *server) downloadDashboard(c echo.Context) error {
	file := c.Param("file")
	uid, ok := strings.CutSuffix(file, ".json")
	if !ok || !slices.Contains(dashboards.DashboardUIDs(), uid) {
		return echo.NewHTTPError(http.StatusNotFound, fmt.Sprintf("no dashboard %q (want one of %s.json)", file, strings.Join(dashboards.DashboardUIDs(), ".json, ")))
	}
	d, err := dashboards.Dashboard(uid)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep PromQL's <, > and & readable, as `gantry dashboards` writes them
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="`+uid+`.json"`)
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, buf.Bytes())
}

func (s *server) downloadRules(c echo.Context) error {
	var buf bytes.Buffer
	if err := dashboards.WriteRules(&buf, s.o.Rules); err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="gantry.rules.yml"`)
	return c.Blob(http.StatusOK, "application/yaml", buf.Bytes())
}
