package ui

import (
	"cmp"
	"context"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/apiserver/wire"
	"github.com/gantry-dev/gantry/dashboards"
	"github.com/labstack/echo/v4"
)

// RequestError is one recent failed request of a service, as the
// queue-proxies (or the traces) saw it.
type RequestError struct {
	Time      time.Time `json:"time"`
	Revision  string    `json:"revision,omitempty"`
	Status    int       `json:"status"`
	Method    string    `json:"method,omitempty"`
	Path      string    `json:"path"`
	LatencyMs float64   `json:"latencyMs"`
	TraceID   string    `json:"traceId,omitempty"`
}

// RevisionSummary is one revision in a service's list.
type RevisionSummary struct {
	Name                 string            `json:"name"`
	Created              time.Time         `json:"created"`
	Age                  string            `json:"age"`
	Ready                string            `json:"ready"`
	Reason               string            `json:"reason,omitempty"`
	Message              string            `json:"message,omitempty"`
	Generation           string            `json:"generation,omitempty"`
	Image                string            `json:"image,omitempty"`
	Command              string            `json:"command,omitempty"`
	ContainerConcurrency int64             `json:"containerConcurrency"`
	TimeoutSeconds       int64             `json:"timeoutSeconds,omitempty"`
	Autoscaling          map[string]string `json:"autoscaling,omitempty"` // autoscaling.knative.dev/* annotations
	Env                  []string          `json:"env,omitempty"`         // names only: values may be secrets
	ActualReplicas       *int32            `json:"actualReplicas,omitempty"`
	DesiredReplicas      *int32            `json:"desiredReplicas,omitempty"`
	TrafficPercent       int64             `json:"trafficPercent"`
	RoutingState         string            `json:"routingState,omitempty"`
}

// ServiceDetail is GET /api/ui/services/NS/NAME.
type ServiceDetail struct {
	Namespace           string            `json:"namespace"`
	Name                string            `json:"name"`
	URL                 string            `json:"url"`
	Ready               string            `json:"ready"`
	Reason              string            `json:"reason,omitempty"`
	Message             string            `json:"message,omitempty"`
	LatestReadyRevision string            `json:"latestReadyRevision,omitempty"`
	Range               string            `json:"range"`
	Start               time.Time         `json:"start"`
	End                 time.Time         `json:"end"`
	StepSeconds         float64           `json:"stepSeconds"`
	Charts              []Chart           `json:"charts"`
	Traffic             *wire.Traffic     `json:"traffic"`
	Revisions           []RevisionSummary `json:"revisions"`
	Alerts              []AlertRef        `json:"alerts"`
	// RecentErrors is null when nothing reports them (no RecentErrors option).
	RecentErrors []RequestError `json:"recentErrors"`
	Warnings     []string       `json:"warnings,omitempty"`
}

// chartSpec is a chart of the service or revision page: its queries and how
// to name each result series.
type chartSpec struct {
	id, title, unit, desc string
	queries               []dashboards.Query
	name                  func(q dashboards.Query, s series, multi bool) string
}

// byRevisionName names a per-revision series by its revision, and by the
// query's legend suffix ("p99", "desired") when the chart has several queries.
func byRevisionName(q dashboards.Query, s series, multi bool) string {
	name := s.label("revision_name")
	if len(q.Legend) > len("{{revision_name}}") && strings.HasPrefix(q.Legend, "{{revision_name}} ") {
		suffix := strings.TrimPrefix(q.Legend, "{{revision_name}} ")
		if !multi {
			return suffix
		}
		return name + " " + suffix
	}
	return name
}

var serviceCharts = []chartSpec{
	{"requests", "Requests by response code class", dashboards.UnitRequestsPerSecond,
		dashboards.RequestVolumeByCodeClass.Description, []dashboards.Query{dashboards.RequestVolumeByCodeClass},
		func(_ dashboards.Query, s series, _ bool) string {
			return cmp.Or(s.label("response_code_class"), "unknown")
		}},
	{"latency", "Response time P50, P90, P95, P99", dashboards.UnitMilliseconds, dashboards.LatencyP99ByRevision.Description,
		[]dashboards.Query{dashboards.LatencyP50ByRevision, dashboards.LatencyP90ByRevision, dashboards.LatencyP95ByRevision, dashboards.LatencyP99ByRevision},
		byRevisionName},
	{"pods", "Pods: desired vs actual (panic mode shaded)", dashboards.UnitShort,
		"Pods the autoscaler wants and ready pods; shaded while the autoscaler is in panic mode.",
		[]dashboards.Query{dashboards.DesiredPods, dashboards.ActualPods}, byRevisionName},
	{"concurrency", "Concurrency per pod vs target", dashboards.UnitShort, dashboards.TargetConcurrencyPerPod.Description,
		[]dashboards.Query{dashboards.StableConcurrencyPerPod, dashboards.PanicConcurrencyPerPod, dashboards.TargetConcurrencyPerPod},
		byRevisionName},
	{"coldstarts", "Cold starts", dashboards.UnitOpsPerMinute, dashboards.ColdStartRate.Description,
		[]dashboards.Query{dashboards.ColdStartRate}, byRevisionName},
	{"cpu", "CPU per request", dashboards.UnitMilliseconds, dashboards.CPUMillisecondsPerRequest.Description,
		[]dashboards.Query{dashboards.CPUMillisecondsPerRequest}, byRevisionName},
	{"memory", "Memory per concurrent request", dashboards.UnitBytes, dashboards.MemoryPerConcurrentRequest.Description,
		[]dashboards.Query{dashboards.MemoryPerConcurrentRequest}, byRevisionName},
	{"cost", "Cost per million requests", dashboards.UnitUSD, dashboards.CostPerMillionRequests.Description,
		[]dashboards.Query{dashboards.CostPerMillionRequests}, byRevisionName},
}

// buildCharts runs the charts' queries (and PanicMode for the shading) for
// sel and keeps the series of the given revisions (nil keeps all): series
// without service_name, such as the activator's, follow the service that way.
func (s *server) buildCharts(ctx context.Context, specs []chartSpec, sel dashboards.Selector, revs []string, tr timeRange) ([]Chart, *queryResults) {
	var jobs []queryJob
	for _, c := range specs {
		for _, q := range c.queries {
			jobs = append(jobs, queryJob{q: q, sel: sel})
		}
	}
	jobs = append(jobs, queryJob{q: dashboards.PanicMode, sel: sel})
	res := s.runQueries(ctx, tr, s.now(), jobs)
	keep := func(sr series) bool {
		r := sr.label("revision_name")
		return revs == nil || r == "" || slices.Contains(revs, r)
	}
	multiRev := map[string]bool{}
	for _, c := range specs {
		for _, q := range c.queries {
			for _, sr := range res.get(q) {
				if keep(sr) {
					multiRev[sr.label("revision_name")] = true
				}
			}
		}
	}
	var charts []Chart
	for _, c := range specs {
		ch := Chart{ID: c.id, Title: c.title, Unit: c.unit, Description: c.desc, Series: []ChartSeries{}}
		for _, q := range c.queries {
			ss := slices.Clone(res.get(q))
			slices.SortFunc(ss, func(a, b series) int { return strings.Compare(a.Labels.String(), b.Labels.String()) })
			for _, sr := range ss {
				if keep(sr) {
					ch.Series = append(ch.Series, ChartSeries{Name: c.name(q, sr, len(multiRev) > 1), Values: sr.Values})
				}
			}
		}
		if c.id == "pods" {
			ch.ShadeLabel = "panic mode"
			ch.Shaded = panicSpans(res.get(dashboards.PanicMode), keep, res.grid)
		}
		charts = append(charts, ch)
	}
	return charts, res
}

// panicSpans are the periods when any kept revision was in panic mode.
func panicSpans(ss []series, keep func(series) bool, g grid) []Span {
	var out []Span
	start := -1
	for i := 0; i <= g.N; i++ {
		on := false
		for _, s := range ss {
			if i < g.N && keep(s) && !math.IsNaN(s.Values[i]) && s.Values[i] >= 1 {
				on = true
				break
			}
		}
		switch {
		case on && start < 0:
			start = i
		case !on && start >= 0:
			from, to := g.At(start).Add(-g.Step/2), g.At(i-1).Add(g.Step/2)
			out = append(out, Span{From: maxTime(from, g.Start), To: minTime(to, g.End())})
			start = -1
		}
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// serviceRevisions lists a service's revisions, newest first.
func (s *server) serviceRevisions(ns, name string, traffic *wire.Traffic, now time.Time) ([]RevisionSummary, error) {
	objs, err := s.o.Store.List(api.KindRevision, ns)
	if err != nil {
		return nil, err
	}
	percent := map[string]int64{}
	if traffic != nil {
		for _, t := range traffic.Targets {
			percent[t.RevisionName] += t.Percent
		}
	}
	out := []RevisionSummary{}
	for _, o := range objs {
		r := o.(*api.Revision)
		if r.Labels[api.LabelService] != name {
			continue
		}
		out = append(out, revisionSummary(r, percent[r.Name], now))
	}
	slices.SortFunc(out, func(a, b RevisionSummary) int {
		return cmp.Or(b.Created.Compare(a.Created), strings.Compare(b.Name, a.Name))
	})
	return out, nil
}

func revisionSummary(r *api.Revision, percent int64, now time.Time) RevisionSummary {
	rs := RevisionSummary{Name: r.Name, Created: r.CreationTimestamp.Time, Age: age(r.CreationTimestamp.Time, now),
		Generation: r.Labels[api.LabelConfigurationGen], ActualReplicas: r.Status.ActualReplicas, DesiredReplicas: r.Status.DesiredReplicas,
		TrafficPercent: percent, RoutingState: r.Labels[api.LabelRoutingState]}
	rs.Ready, rs.Reason, rs.Message = readyOf(r.Status.Conditions)
	if cc := r.Spec.ContainerConcurrency; cc != nil {
		rs.ContainerConcurrency = *cc
	}
	if t := r.Spec.TimeoutSeconds; t != nil {
		rs.TimeoutSeconds = *t
	}
	if len(r.Spec.Containers) > 0 {
		c := r.Spec.Containers[0]
		rs.Image = c.Image
		rs.Command = strings.Join(append(slices.Clone(c.Command), c.Args...), " ")
		for _, e := range c.Env {
			rs.Env = append(rs.Env, e.Name)
		}
	}
	for k, v := range r.Annotations {
		if strings.HasPrefix(k, "autoscaling.knative.dev/") {
			if rs.Autoscaling == nil {
				rs.Autoscaling = map[string]string{}
			}
			rs.Autoscaling[k] = v
		}
	}
	return rs
}

// maxRecentErrors bounds the recent errors a service page lists.
const maxRecentErrors = 20

func (s *server) serviceDetail(ctx context.Context, ns, name string, tr timeRange) (ServiceDetail, error) {
	o, err := s.o.Store.Get(api.KindService, ns, name)
	if err != nil {
		return ServiceDetail{}, err
	}
	svc := o.(*api.Service)
	now := s.now()
	d := ServiceDetail{Namespace: ns, Name: name, URL: svc.Status.URL, LatestReadyRevision: svc.Status.LatestReadyRevisionName, Range: tr.Name}
	d.Ready, d.Reason, d.Message = readyOf(svc.Status.Conditions)
	if t, err := s.trafficOf(ns, name); err == nil {
		d.Traffic = &t
	}
	if d.Revisions, err = s.serviceRevisions(ns, name, d.Traffic, now); err != nil {
		return ServiceDetail{}, err
	}
	revs := make([]string, len(d.Revisions))
	for i, r := range d.Revisions {
		revs[i] = r.Name
	}
	charts, res := s.buildCharts(ctx, serviceCharts, dashboards.Selector{Namespace: ns, Service: name}, revs, tr)
	d.Charts, d.Warnings = charts, res.warnings
	d.Start, d.End, d.StepSeconds = res.grid.Start, res.grid.End(), res.grid.Step.Seconds()
	alerts, _ := s.activeAlerts()
	d.Alerts = alerts[svcKey{ns, name}]
	if d.Alerts == nil {
		d.Alerts = []AlertRef{}
	}
	if s.o.RecentErrors != nil {
		d.RecentErrors = s.o.RecentErrors(ns, name, maxRecentErrors)
		if d.RecentErrors == nil {
			d.RecentErrors = []RequestError{}
		}
	}
	return d, nil
}

func (s *server) apiService(c echo.Context) error {
	tr, err := rangeParam(c)
	if err != nil {
		return err
	}
	d, err := s.serviceDetail(c.Request().Context(), c.Param("namespace"), c.Param("name"), tr)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}
