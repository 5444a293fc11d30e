package ui

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-dev/gantry/dashboards"
	"github.com/labstack/echo/v4"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

func staticFiles() fs.FS {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	return sub
}

func readyClass(ready string) string {
	switch ready {
	case "True":
		return "ok"
	case "False":
		return "bad"
	}
	return "unknown"
}

var funcs = template.FuncMap{
	"readyClass": readyClass,
	"fmtv":       formatValue,
	"fmtp": func(v *float64, unit string) string {
		if v == nil {
			return "–"
		}
		return formatValue(*v, unit)
	},
	"join": strings.Join,
	"add":  func(a, b int) int { return a + b },
}

// pages are the page templates, each parsed with the layout.
var pages = func() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, name := range []string{"services", "service", "revision", "alerts", "downloads", "error"} {
		out[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(templateFS,
			"templates/layout.html", "templates/charts.html", "templates/"+name+".html"))
	}
	return out
}()

// page is what every page's layout shows.
type page struct {
	Title, Nav, APIPath, Now string
	FiringAlerts             int
	Problems                 []string
}

func (s *server) newPage(title, nav, apiPath string) page {
	p := page{Title: title, Nav: nav, APIPath: apiPath, Now: s.now().Local().Format("15:04:05")}
	if s.o.Alerts != nil {
		for _, a := range s.o.Alerts() {
			if a.State == "firing" {
				p.FiringAlerts++
			}
		}
	}
	return p
}

// render executes a page into a buffer first, so that a template error
// becomes a 500 instead of half a page.
func render(c echo.Context, code int, name string, data any) error {
	var buf bytes.Buffer
	if err := pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		return err
	}
	return c.HTMLBlob(code, buf.Bytes())
}

// column is a sortable column of the services page.
type column struct {
	Key, Label, Unit, Href, Sorted string
	Num                            bool
}

type cell struct {
	Text  string
	Sort  string
	Spark template.HTML
}

type serviceRow struct {
	ServiceSummary
	Host, Search, ReadyClass string
	ReadyRank, AlertRank     int
	Firing                   bool
	Cells                    []cell
}

type servicesPage struct {
	page
	ServicesResponse
	Columns    []column
	Rows       []serviceRow
	Ranges     []string
	RangeLabel string // "5 minutes"
	// RangeQuery keeps the filter and sort in the range links ("q=x&sort=p99&dir=desc&").
	RangeQuery template.URL
}

// keptQuery is the services page's filter and sort, for its range links.
func keptQuery(q url.Values) string {
	kept := url.Values{}
	for _, k := range []string{"q", "sort", "dir"} {
		if v := q.Get(k); v != "" {
			kept.Set(k, v)
		}
	}
	return kept.Encode()
}

// rangeLabel names a range in words for the page's status line.
func rangeLabel(tr timeRange) string {
	switch {
	case tr.Dur >= time.Hour:
		if h := int(tr.Dur.Hours()); h > 1 {
			return strconv.Itoa(h) + " hours"
		}
		return "hour"
	default:
		return strconv.Itoa(int(tr.Dur.Minutes())) + " minutes"
	}
}

var serviceColumns = []column{
	{Key: "name", Label: "Service"}, {Key: "url", Label: "URL"}, {Key: "ready", Label: "Ready"}, {Key: "alerts", Label: "Alerts"},
	{Key: "rate", Label: "Requests", Unit: "/s", Num: true}, {Key: "success", Label: "Success", Num: true},
	{Key: "p50", Label: "P50", Num: true}, {Key: "p95", Label: "P95", Num: true}, {Key: "p99", Label: "P99", Num: true},
	{Key: "errors", Label: "5xx", Unit: "/s", Num: true}, {Key: "instances", Label: "Instances", Unit: "actual/desired", Num: true},
	{Key: "cpu", Label: "CPU", Unit: "per request", Num: true}, {Key: "cost", Label: "Cost", Unit: "per 1M requests", Num: true},
}

func metricCell(m Metric, unit string) cell {
	c := cell{Text: "no data", Spark: sparkline(m.Series)}
	if m.Value != nil {
		c.Text = formatValue(*m.Value, unit)
		c.Sort = strconv.FormatFloat(*m.Value, 'g', -1, 64)
	}
	return c
}

func (s *server) servicesPage(c echo.Context) error {
	key, desc, err := sortParams(c)
	if err != nil {
		return err
	}
	tr, err := rangeParam(c)
	if err != nil {
		return err
	}
	resp, err := s.services(c.Request().Context(), c.QueryParam("q"), key, desc, tr, s.now())
	if err != nil {
		return err
	}
	p := servicesPage{page: s.newPage("Services", "services", "/api/ui/services"), ServicesResponse: resp, RangeLabel: rangeLabel(tr)}
	for _, r := range ranges {
		p.Ranges = append(p.Ranges, r.Name)
	}
	if kept := keptQuery(c.QueryParams()); kept != "" {
		p.RangeQuery = template.URL(kept + "&")
	}
	p.Problems = resp.Warnings
	for _, col := range serviceColumns {
		dir := "asc"
		if col.Num {
			dir = "desc" // big numbers first is what one looks for
		}
		if col.Key == key {
			p.Columns = append(p.Columns, col)
			last := &p.Columns[len(p.Columns)-1]
			last.Sorted = map[bool]string{false: "ascending", true: "descending"}[desc]
			dir = map[bool]string{false: "desc", true: "asc"}[desc]
		} else {
			p.Columns = append(p.Columns, col)
		}
		q := url.Values{"sort": {col.Key}, "dir": {dir}}
		if resp.Filter != "" {
			q.Set("q", resp.Filter)
		}
		if tr != defaultRange {
			q.Set("range", tr.Name)
		}
		p.Columns[len(p.Columns)-1].Href = "/?" + q.Encode()
	}
	for _, r := range resp.Services {
		row := serviceRow{ServiceSummary: r, ReadyClass: readyClass(r.Ready), Firing: firing(r.Alerts),
			Host:   strings.TrimPrefix(strings.TrimPrefix(r.URL, "http://"), "https://"),
			Search: strings.ToLower(r.Namespace + "/" + r.Name + " " + r.URL)}
		v, _ := sortValue(&r, "ready")
		row.ReadyRank = int(v)
		v, _ = sortValue(&r, "alerts")
		row.AlertRank = int(v)
		inst := metricCell(r.ActualInstances, dashboards.UnitShort)
		if r.ActualInstances.Value != nil || r.DesiredInstances.Value != nil {
			inst.Text = fmtPtr(r.ActualInstances.Value) + " / " + fmtPtr(r.DesiredInstances.Value)
		}
		row.Cells = []cell{
			metricCell(r.RequestRate, dashboards.UnitShort),
			metricCell(r.SuccessRate, dashboards.UnitPercentUnit),
			metricCell(r.LatencyP50, dashboards.UnitMilliseconds),
			metricCell(r.LatencyP95, dashboards.UnitMilliseconds),
			metricCell(r.LatencyP99, dashboards.UnitMilliseconds),
			metricCell(r.ErrorRate5xx, dashboards.UnitShort),
			inst,
			metricCell(r.CPUMsPerRequest, dashboards.UnitMilliseconds),
			metricCell(r.CostPerMillion, dashboards.UnitUSD),
		}
		p.Rows = append(p.Rows, row)
	}
	return render(c, http.StatusOK, "services", p)
}

func fmtPtr(v *float64) string {
	if v == nil {
		return "–"
	}
	return short(*v)
}

type detailPage struct {
	page
	Ranges     []string
	RangeQuery string // kept in the range links: none on a detail page
	ChartViews []chartView
}

func (s *server) newDetailPage(title, apiPath string, charts []Chart, start time.Time, step float64, n int) detailPage {
	p := detailPage{page: s.newPage(title, "services", apiPath)}
	for _, r := range ranges {
		p.Ranges = append(p.Ranges, r.Name)
	}
	g := grid{Start: start, Step: time.Duration(step * float64(time.Second)), N: n}
	for _, ch := range charts {
		p.ChartViews = append(p.ChartViews, renderChart(ch, g))
	}
	return p
}

type servicePage struct {
	detailPage
	ServiceDetail
	ReadyClass  string
	ErrorsKnown bool
}

func (s *server) servicePage(c echo.Context) error {
	tr, err := rangeParam(c)
	if err != nil {
		return err
	}
	d, err := s.serviceDetail(c.Request().Context(), c.Param("namespace"), c.Param("name"), tr)
	if err != nil {
		return err
	}
	api := "/api/ui/services/" + d.Namespace + "/" + d.Name + "?range=" + tr.Name
	p := servicePage{detailPage: s.newDetailPage(d.Name, api, d.Charts, d.Start, d.StepSeconds, int(tr.Dur/tr.Step)+1),
		ServiceDetail: d, ReadyClass: readyClass(d.Ready), ErrorsKnown: d.RecentErrors != nil}
	p.Problems = d.Warnings
	return render(c, http.StatusOK, "service", p)
}

type revisionPage struct {
	detailPage
	RevisionDetail
}

func (s *server) revisionPage(c echo.Context) error {
	tr, err := rangeParam(c)
	if err != nil {
		return err
	}
	d, err := s.revisionDetail(c.Request().Context(), c.Param("namespace"), c.Param("name"), tr)
	if err != nil {
		return err
	}
	api := "/api/ui/revisions/" + d.Namespace + "/" + d.Name + "?range=" + tr.Name
	p := revisionPage{detailPage: s.newDetailPage(d.Name, api, d.Charts, d.Start, d.StepSeconds, int(tr.Dur/tr.Step)+1), RevisionDetail: d}
	p.Problems = d.Warnings
	return render(c, http.StatusOK, "revision", p)
}

type alertsPage struct {
	page
	AlertsResponse
	State   string
	Grafana bool
}

func (s *server) alertsPage(c echo.Context) error {
	st, err := stateParam(c)
	if err != nil {
		return err
	}
	api := "/api/ui/alerts"
	if st != "" {
		api += "?state=" + st
	}
	return render(c, http.StatusOK, "alerts", alertsPage{page: s.newPage("Alerts", "alerts", api), AlertsResponse: s.alerts(st),
		State: st, Grafana: s.o.GrafanaURL != ""})
}

func (s *server) downloadsPage(c echo.Context) error {
	return render(c, http.StatusOK, "downloads", struct {
		page
		Items []Download
	}{s.newPage("Downloads", "downloads", "/api/ui/downloads"), downloads()})
}

// errorPage shows an error to a browser.
func (s *server) errorPage(c echo.Context, code int, msg string) error {
	return render(c, code, "error", struct {
		page
		Status  string
		Message string
	}{s.newPage(http.StatusText(code), "", "/api/ui/services"), strconv.Itoa(code) + " " + http.StatusText(code), msg})
}
