package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gantry-dev/gantry/dashboards"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/common/model"
	"golang.org/x/sync/errgroup"
)

// timeRange is one choice of the time range picker: the charts cover Dur
// with a point every Step, and rates are taken over Window (the value put in
// place of $__rate_interval).
type timeRange struct {
	Name   string
	Dur    time.Duration
	Step   time.Duration
	Window string
}

// ranges are the picker's choices; the step follows the range (61 or 121
// points). The first is the default: a newcomer's first requests
// show within seconds (a point every 5 s, rates over 30 s, six scrapes at
// the default interval) instead of after a 30 s step.
var ranges = []timeRange{
	{"5m", 5 * time.Minute, 5 * time.Second, "30s"},
	{"15m", 15 * time.Minute, 15 * time.Second, "1m"},
	{"1h", time.Hour, 30 * time.Second, "2m"},
	{"6h", 6 * time.Hour, 3 * time.Minute, "6m"},
	{"24h", 24 * time.Hour, 12 * time.Minute, "24m"},
}

// defaultRange is the pages' range without ?range=.
var defaultRange = ranges[0]

// rangeNames lists the choices for messages: "5m, 15m, 1h, 6h, 24h".
func rangeNames() string {
	var names []string
	for _, r := range ranges {
		names = append(names, r.Name)
	}
	return strings.Join(names, ", ")
}

// rangeParam reads ?range=, which defaults to defaultRange.
func rangeParam(c echo.Context) (timeRange, error) {
	v := c.QueryParam("range")
	if v == "" {
		return defaultRange, nil
	}
	for _, r := range ranges {
		if r.Name == v {
			return r, nil
		}
	}
	return timeRange{}, echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("range %q: want one of %s", v, rangeNames()))
}

// grid is the time axis of a set of range queries: n points from start,
// one every step.
type grid struct {
	Start time.Time
	Step  time.Duration
	N     int
}

// newGrid ends at now rounded down to the step, so that two refreshes a few
// seconds apart plot the same points.
func newGrid(tr timeRange, now time.Time) grid {
	end := now.Truncate(tr.Step)
	return grid{Start: end.Add(-tr.Dur), Step: tr.Step, N: int(tr.Dur/tr.Step) + 1}
}

func (g grid) End() time.Time     { return g.Start.Add(time.Duration(g.N-1) * g.Step) }
func (g grid) At(i int) time.Time { return g.Start.Add(time.Duration(i) * g.Step) }
func (g grid) index(t model.Time) int {
	return int(math.Round(float64(t.Time().Sub(g.Start)) / float64(g.Step)))
}

// Values are a series' points on a grid; NaN is a gap, written as null.
type Values []float64

// MarshalJSON writes gaps as null.
func (v Values) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 8*len(v)+2)
	b = append(b, '[')
	for i, f := range v {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			b = append(b, "null"...)
			continue
		}
		b = strconv.AppendFloat(b, f, 'g', 6, 64)
	}
	return append(b, ']'), nil
}

// UnmarshalJSON reads null as a gap.
func (v *Values) UnmarshalJSON(b []byte) error {
	var ps []*float64
	if err := json.Unmarshal(b, &ps); err != nil {
		return err
	}
	*v = make(Values, len(ps))
	for i, p := range ps {
		(*v)[i] = math.NaN()
		if p != nil {
			(*v)[i] = *p
		}
	}
	return nil
}

func gaps(n int) Values {
	v := make(Values, n)
	for i := range v {
		v[i] = math.NaN()
	}
	return v
}

// last is the newest point, or the one before when the newest scrape has not
// landed yet; ok is false when both are gaps.
func (v Values) last() (float64, bool) {
	for i := len(v) - 1; i >= 0 && i >= len(v)-3; i-- {
		if !math.IsNaN(v[i]) {
			return v[i], true
		}
	}
	return 0, false
}

// series is one result series on the grid.
type series struct {
	Labels model.Metric
	Values Values
}

func (s series) label(name string) string { return string(s.Labels[model.LabelName(name)]) }

// queryJob is one query to run for a page.
type queryJob struct {
	q   dashboards.Query
	sel dashboards.Selector
}

// queryResults are the results of a page's queries by query ID, and the
// problems met, shown on the page rather than failing it.
type queryResults struct {
	grid     grid
	mu       sync.Mutex
	byID     map[string][]series
	warnings []string
}

func (r *queryResults) get(q dashboards.Query) []series {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byID[q.ID]
}

func (r *queryResults) warn(msg string) {
	r.mu.Lock()
	r.warnings = append(r.warnings, msg)
	r.mu.Unlock()
}

// maxParallelQueries bounds the queries one page runs at once.
const maxParallelQueries = 4

// queryTimeout bounds all the queries of one page.
const queryTimeout = 15 * time.Second

// runQueries renders each query with the page's window and prices, and runs
// it over the grid. With no Querier there are no results and no warnings:
// every metric shows "no data".
func (s *server) runQueries(ctx context.Context, tr timeRange, now time.Time, jobs []queryJob) *queryResults {
	res := &queryResults{grid: newGrid(tr, now), byID: map[string][]series{}}
	if s.o.Querier == nil {
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	var g errgroup.Group
	g.SetLimit(maxParallelQueries)
	for _, j := range jobs {
		g.Go(func() error {
			expr, err := j.q.Render(dashboards.RenderOptions{Selector: j.sel, Window: tr.Window, Vars: s.prices})
			if err != nil {
				res.warn(err.Error())
				return nil
			}
			v, err := s.o.Querier.QueryRange(ctx, expr, res.grid.Start, res.grid.End(), res.grid.Step)
			if err != nil {
				res.warn(fmt.Sprintf("%s: %v", j.q.Title, err))
				return nil
			}
			ss := toSeries(v, res.grid)
			res.mu.Lock()
			res.byID[j.q.ID] = ss
			res.mu.Unlock()
			return nil
		})
	}
	_ = g.Wait()
	return res
}

// toSeries puts a range query's result on the grid.
func toSeries(v model.Value, g grid) []series {
	m, ok := v.(model.Matrix)
	if !ok {
		return nil
	}
	out := make([]series, 0, len(m))
	for _, ss := range m {
		vals := gaps(g.N)
		for _, p := range ss.Values {
			if i := g.index(p.Timestamp); i >= 0 && i < g.N {
				vals[i] = float64(p.Value)
			}
		}
		out = append(out, series{Labels: ss.Metric, Values: vals})
	}
	return out
}
