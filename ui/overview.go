package ui

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/controller/reconcile"
	"github.com/gantry-dev/gantry/dashboards"
	"github.com/gantry-dev/gantry/metrics"
	"github.com/labstack/echo/v4"
)

// Metric is one number of a service with its recent history: Value is the
// latest (null when there is no data), Series a point per step of the page.
type Metric struct {
	Value  *float64 `json:"value"`
	Series Values   `json:"series"`
}

func newMetric(vals Values) Metric {
	m := Metric{Series: vals}
	if v, ok := vals.last(); ok {
		m.Value = &v
	}
	return m
}

// AlertRef names an active alert on a service's page or row.
type AlertRef struct {
	Name     string `json:"name"`
	State    string `json:"state"`
	Revision string `json:"revision,omitempty"`
	Summary  string `json:"summary,omitempty"`
}

// ServiceSummary is one row of the services page.
type ServiceSummary struct {
	Namespace           string     `json:"namespace"`
	Name                string     `json:"name"`
	URL                 string     `json:"url"`
	Ready               string     `json:"ready"` // True, False or Unknown
	Reason              string     `json:"reason,omitempty"`
	Message             string     `json:"message,omitempty"`
	LatestReadyRevision string     `json:"latestReadyRevision,omitempty"`
	Alerts              []AlertRef `json:"alerts"`
	RequestRate         Metric     `json:"requestRate"`  // requests/s
	SuccessRate         Metric     `json:"successRate"`  // share of non-5xx answers, 0–1
	LatencyP50          Metric     `json:"latencyP50Ms"` // ms
	LatencyP95          Metric     `json:"latencyP95Ms"`
	LatencyP99          Metric     `json:"latencyP99Ms"`
	ErrorRate5xx        Metric     `json:"errorRate5xx"` // 5xx/s
	ActualInstances     Metric     `json:"actualInstances"`
	DesiredInstances    Metric     `json:"desiredInstances"`
	CPUMsPerRequest     Metric     `json:"cpuMsPerRequest"`
	CostPerMillion      Metric     `json:"costPerMillionRequests"` // USD
}

// ServicesResponse is GET /api/ui/services.
type ServicesResponse struct {
	Range       string           `json:"range"`
	Start       time.Time        `json:"start"`
	End         time.Time        `json:"end"`
	StepSeconds float64          `json:"stepSeconds"`
	Sort        string           `json:"sort"`
	Desc        bool             `json:"desc"`
	Filter      string           `json:"filter,omitempty"`
	Total       int              `json:"total"` // services before the filter
	Services    []ServiceSummary `json:"services"`
	FiringCount int              `json:"firingAlerts"`
	Warnings    []string         `json:"warnings,omitempty"`
}

// overviewQueries are per revision; services add their revisions up.
var overviewQueries = []dashboards.Query{
	dashboards.RequestVolumeByRevision, dashboards.ErrorRatio5xxByRevision,
	dashboards.LatencyP50ByRevision, dashboards.LatencyP95ByRevision, dashboards.LatencyP99ByRevision,
	dashboards.ActualPods, dashboards.DesiredPods,
	dashboards.CPUMillisecondsPerRequest, dashboards.CostPerMillionRequests,
}

// sortKeys are the columns the services page sorts by.
var sortKeys = []string{"name", "namespace", "url", "ready", "alerts", "rate", "success", "p50", "p95", "p99", "errors", "instances", "cpu", "cost"}

type svcKey struct{ ns, name string }

// revByService groups a per-revision query's series by service.
func revByService(ss []series) map[svcKey]map[string]Values {
	out := map[svcKey]map[string]Values{}
	for _, s := range ss {
		k := svcKey{s.label("namespace_name"), s.label("service_name")}
		if out[k] == nil {
			out[k] = map[string]Values{}
		}
		out[k][s.label("revision_name")] = s.Values
	}
	return out
}

// combine folds the revisions of one service, point by point.
func combine(n int, revs map[string]Values, f func(i int, each func(func(rev string, v float64)))) {
	for i := 0; i < n; i++ {
		f(i, func(yield func(string, float64)) {
			for rev, vals := range revs {
				if v := vals[i]; !math.IsNaN(v) {
					yield(rev, v)
				}
			}
		})
	}
}

// serviceMetrics turns the per-revision results into a service's numbers:
// rates add up; the success rate is recomputed from the 5xx rates; CPU and
// cost per request are the revisions' values weighted by their request rates
// (exactly the service's totals over its requests); a latency percentile is
// the highest of the revisions serving requests (an upper bound of the
// service's: percentiles of separate histograms do not combine).
func serviceMetrics(row *ServiceSummary, n int, by map[string]map[svcKey]map[string]Values) {
	k := svcKey{row.Namespace, row.Name}
	rate := by[dashboards.RequestVolumeByRevision.ID][k]
	ratio := by[dashboards.ErrorRatio5xxByRevision.ID][k]

	total, errs, success := gaps(n), gaps(n), gaps(n)
	combine(n, rate, func(i int, each func(func(string, float64))) {
		sum, e, known := 0.0, 0.0, false
		each(func(rev string, r float64) {
			sum += r
			if q, ok := at(ratio[rev], i); ok {
				e, known = e+q*r, true
			} else if r == 0 {
				known = true
			}
		})
		total[i] = sumOrNaN(rate, i)
		if known {
			errs[i] = e
			if sum > 0 {
				success[i] = 1 - e/sum
			}
		}
	})
	row.RequestRate, row.ErrorRate5xx, row.SuccessRate = newMetric(total), newMetric(errs), newMetric(success)

	worst := func(q dashboards.Query) Metric {
		out := gaps(n)
		combine(n, by[q.ID][k], func(i int, each func(func(string, float64))) {
			each(func(rev string, v float64) {
				if r, ok := at(rate[rev], i); ok && r == 0 {
					return // a revision without requests has no latency to speak of
				}
				if math.IsNaN(out[i]) || v > out[i] {
					out[i] = v
				}
			})
		})
		return newMetric(out)
	}
	row.LatencyP50, row.LatencyP95, row.LatencyP99 = worst(dashboards.LatencyP50ByRevision), worst(dashboards.LatencyP95ByRevision), worst(dashboards.LatencyP99ByRevision)

	sum := func(q dashboards.Query) Metric {
		out := gaps(n)
		combine(n, by[q.ID][k], func(i int, each func(func(string, float64))) {
			each(func(_ string, v float64) {
				if math.IsNaN(out[i]) {
					out[i] = 0
				}
				out[i] += v
			})
		})
		return newMetric(out)
	}
	row.ActualInstances, row.DesiredInstances = sum(dashboards.ActualPods), sum(dashboards.DesiredPods)

	weighted := func(q dashboards.Query) Metric {
		out := gaps(n)
		combine(n, by[q.ID][k], func(i int, each func(func(string, float64))) {
			num, den := 0.0, 0.0
			each(func(rev string, v float64) {
				if r, ok := at(rate[rev], i); ok {
					num, den = num+v*r, den+r
				}
			})
			if den > 0 {
				out[i] = num / den
			}
		})
		return newMetric(out)
	}
	row.CPUMsPerRequest, row.CostPerMillion = weighted(dashboards.CPUMillisecondsPerRequest), weighted(dashboards.CostPerMillionRequests)
}

func at(v Values, i int) (float64, bool) {
	if i >= len(v) || math.IsNaN(v[i]) {
		return 0, false
	}
	return v[i], true
}

func sumOrNaN(revs map[string]Values, i int) float64 {
	s, ok := 0.0, false
	for _, v := range revs {
		if x, has := at(v, i); has {
			s, ok = s+x, true
		}
	}
	if !ok {
		return math.NaN()
	}
	return s
}

func readyOf(conds []api.Condition) (status, reason, msg string) {
	if c := reconcile.GetCondition(conds, api.ConditionReady); c != nil {
		return string(c.Status), c.Reason, c.Message
	}
	return "Unknown", "", ""
}

// activeAlerts indexes the pending and firing alerts by service.
func (s *server) activeAlerts() (map[svcKey][]AlertRef, []metrics.Alert) {
	if s.o.Alerts == nil {
		return nil, nil
	}
	all := s.o.Alerts()
	by := map[svcKey][]AlertRef{}
	for _, a := range all {
		k := svcKey{a.Labels["namespace_name"], a.Labels["service_name"]}
		ref := AlertRef{Name: a.Name, State: a.State, Revision: a.Labels["revision_name"], Summary: a.Annotations["summary"]}
		// One alert on one revision is one badge, though a rule may fire
		// with several label sets (the burn-rate alert's page and ticket
		// severities): keep the worst state.
		i := slices.IndexFunc(by[k], func(r AlertRef) bool { return r.Name == ref.Name && r.Revision == ref.Revision })
		switch {
		case i < 0:
			by[k] = append(by[k], ref)
		case ref.State == "firing" && by[k][i].State != "firing":
			by[k][i] = ref
		}
	}
	return by, all
}

func firing(as []AlertRef) bool {
	return slices.ContainsFunc(as, func(a AlertRef) bool { return a.State == "firing" })
}

// services builds the services page: every service (or those whose
// namespace, name or URL contains filter), sorted.
func (s *server) services(ctx context.Context, filter, sortKey string, desc bool, tr timeRange, now time.Time) (ServicesResponse, error) {
	objs, err := s.o.Store.List(api.KindService, "")
	if err != nil {
		return ServicesResponse{}, err
	}
	jobs := make([]queryJob, len(overviewQueries))
	for i, q := range overviewQueries {
		jobs[i] = queryJob{q: q}
	}
	res := s.runQueries(ctx, tr, now, jobs)
	by := map[string]map[svcKey]map[string]Values{}
	for _, q := range overviewQueries {
		by[q.ID] = revByService(res.get(q))
	}
	alerts, all := s.activeAlerts()
	out := ServicesResponse{Range: tr.Name, Start: res.grid.Start, End: res.grid.End(), StepSeconds: res.grid.Step.Seconds(),
		Sort: sortKey, Desc: desc, Filter: filter, Total: len(objs), Services: []ServiceSummary{}, Warnings: res.warnings}
	for _, a := range all {
		if a.State == "firing" {
			out.FiringCount++
		}
	}
	f := strings.ToLower(filter)
	for _, o := range objs {
		svc := o.(*api.Service)
		if f != "" && !strings.Contains(strings.ToLower(svc.Namespace+"/"+svc.Name+" "+svc.Status.URL), f) {
			continue
		}
		row := ServiceSummary{Namespace: svc.Namespace, Name: svc.Name, URL: svc.Status.URL,
			LatestReadyRevision: svc.Status.LatestReadyRevisionName, Alerts: alerts[svcKey{svc.Namespace, svc.Name}]}
		row.Ready, row.Reason, row.Message = readyOf(svc.Status.Conditions)
		if row.Alerts == nil {
			row.Alerts = []AlertRef{}
		}
		serviceMetrics(&row, res.grid.N, by)
		out.Services = append(out.Services, row)
	}
	sortServices(out.Services, sortKey, desc)
	return out, nil
}

func sortParams(c echo.Context) (string, bool, error) {
	key := cmp.Or(c.QueryParam("sort"), "name")
	if !slices.Contains(sortKeys, key) {
		return "", false, echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("sort %q: want one of %s", key, strings.Join(sortKeys, ", ")))
	}
	switch d := c.QueryParam("dir"); d {
	case "", "asc":
		return key, false, nil
	case "desc":
		return key, true, nil
	default:
		return "", false, echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("dir %q: want asc or desc", d))
	}
}

// sortValue is the number a column sorts by; ok is false for no data, which
// sorts last whatever the direction.
func sortValue(r *ServiceSummary, key string) (float64, bool) {
	var m Metric
	switch key {
	case "ready":
		return map[string]float64{"True": 2, "Unknown": 1, "False": 0}[r.Ready], true
	case "alerts":
		v := float64(len(r.Alerts))
		if firing(r.Alerts) {
			v += 1000
		}
		return v, true
	case "rate":
		m = r.RequestRate
	case "success":
		m = r.SuccessRate
	case "p50":
		m = r.LatencyP50
	case "p95":
		m = r.LatencyP95
	case "p99":
		m = r.LatencyP99
	case "errors":
		m = r.ErrorRate5xx
	case "instances":
		m = r.ActualInstances
	case "cpu":
		m = r.CPUMsPerRequest
	case "cost":
		m = r.CostPerMillion
	default:
		return 0, false
	}
	if m.Value == nil {
		return 0, false
	}
	return *m.Value, true
}

func sortServices(rows []ServiceSummary, key string, desc bool) {
	byName := func(a, b *ServiceSummary) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Namespace, b.Namespace))
	}
	if key == "namespace" {
		byName = func(a, b *ServiceSummary) int {
			return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
		}
	}
	if key == "url" {
		byName = func(a, b *ServiceSummary) int {
			return cmp.Or(cmp.Compare(a.URL, b.URL), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
		}
	}
	slices.SortStableFunc(rows, func(a, b ServiceSummary) int {
		if key == "name" || key == "namespace" || key == "url" {
			if desc {
				return byName(&b, &a)
			}
			return byName(&a, &b)
		}
		va, oka := sortValue(&a, key)
		vb, okb := sortValue(&b, key)
		switch {
		case oka != okb:
			if oka {
				return -1
			}
			return 1
		case va != vb:
			if desc {
				return cmp.Compare(vb, va)
			}
			return cmp.Compare(va, vb)
		}
		return byName(&a, &b)
	})
}

func (s *server) apiServices(c echo.Context) error {
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
	return c.JSON(http.StatusOK, resp)
}
