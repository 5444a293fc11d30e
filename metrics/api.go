package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
)

// maxPoints bounds a range query's points per series, as in Prometheus.
const maxPoints = 11000

// buildVersion is the Prometheus release whose engine this is (module v0.316.0).
const buildVersion = "3.16.0"

// APIHandler serves a subset of Prometheus's HTTP API, with Prometheus's
// JSON, so Grafana's Prometheus data source, promtool-like scripts and the UI
// can use the embedded engine:
//
//	GET|POST /api/v1/query            query, time, timeout
//	GET|POST /api/v1/query_range      query, start, end, step, timeout
//	GET      /api/v1/alerts
//	GET      /api/v1/rules            type=alert|record
//	GET|POST /api/v1/labels           match[], start, end, limit
//	GET      /api/v1/label/NAME/values match[], start, end, limit
//	GET|POST /api/v1/series           match[], start, end, limit
//	GET      /api/v1/metadata         (empty)
//	GET      /api/v1/status/buildinfo
//
// Paths are relative to the handler: mount it with http.StripPrefix under
// a prefix such as /prom, which then is the Grafana data source URL.
func (db *DB) APIHandler() http.Handler {
	a := &apiServer{db: db, now: time.Now}
	mux := http.NewServeMux()
	for path, f := range map[string]apiFunc{
		"/api/v1/query":       a.query,
		"/api/v1/query_range": a.queryRange,
		"/api/v1/labels":      a.labelNames,
		"/api/v1/series":      a.series,
	} {
		mux.Handle("GET "+path, f)
		mux.Handle("POST "+path, f)
	}
	mux.Handle("GET /api/v1/label/{name}/values", apiFunc(a.labelValues))
	mux.Handle("GET /api/v1/alerts", apiFunc(a.alerts))
	mux.Handle("GET /api/v1/rules", apiFunc(a.rules))
	mux.Handle("GET /api/v1/metadata", apiFunc(func(*http.Request) (any, error) { return map[string]any{}, nil }))
	mux.Handle("GET /api/v1/status/buildinfo", apiFunc(a.buildInfo))
	mux.Handle("/", apiFunc(func(r *http.Request) (any, error) {
		return nil, &apiError{typ: "not_found", status: http.StatusNotFound, err: fmt.Errorf("no such endpoint: %s %s", r.Method, r.URL.Path)}
	}))
	return mux
}

type apiServer struct {
	db  *DB
	now func() time.Time
}

// response is Prometheus's API envelope.
type response struct {
	Status    string   `json:"status"`
	Data      any      `json:"data,omitempty"`
	ErrorType string   `json:"errorType,omitempty"`
	Error     string   `json:"error,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
	Infos     []string `json:"infos,omitempty"`
}

// queryData is the data of query and query_range.
type queryData struct {
	ResultType parser.ValueType `json:"resultType"`
	Result     parser.Value     `json:"result"`
	warnings   []string
	infos      []string
}

type apiError struct {
	typ    string
	status int
	err    error
}

func (e *apiError) Error() string { return e.err.Error() }
func (e *apiError) Unwrap() error { return e.err }

func badData(err error) error {
	return &apiError{typ: "bad_data", status: http.StatusBadRequest, err: err}
}

// toAPIError maps an error to Prometheus's error type and HTTP status, in
// this one place.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var (
		canceled promql.ErrQueryCanceled
		timeout  promql.ErrQueryTimeout
		store    promql.ErrStorage
		tooMany  promql.ErrTooManySamples
		perr     parser.ParseErrors
		pe       *parser.ParseErr
	)
	switch {
	case errors.As(err, &perr), errors.As(err, &pe), errors.Is(err, ErrBadStep):
		return &apiError{"bad_data", http.StatusBadRequest, err}
	case errors.As(err, &timeout), errors.Is(err, context.DeadlineExceeded):
		return &apiError{"timeout", http.StatusServiceUnavailable, err}
	case errors.As(err, &canceled), errors.Is(err, context.Canceled):
		return &apiError{"canceled", 499, err}
	case errors.As(err, &store):
		return &apiError{"internal", http.StatusInternalServerError, err}
	case errors.As(err, &tooMany):
		return &apiError{"execution", http.StatusUnprocessableEntity, err}
	}
	return &apiError{"execution", http.StatusUnprocessableEntity, err}
}

type apiFunc func(r *http.Request) (any, error)

func (f apiFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	data, err := f(r)
	w.Header().Set("Content-Type", "application/json")
	var resp response
	status := http.StatusOK
	if err != nil {
		ae := toAPIError(err)
		status = ae.status
		resp = response{Status: "error", ErrorType: ae.typ, Error: ae.err.Error()}
	} else {
		resp = response{Status: "success", Data: data}
		if qd, ok := data.(*queryData); ok {
			resp.Warnings, resp.Infos = qd.warnings, qd.infos
		}
	}
	b, merr := json.Marshal(resp)
	if merr != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(response{Status: "error", ErrorType: "internal", Error: merr.Error()})
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (a *apiServer) withTimeout(r *http.Request) (context.Context, context.CancelFunc, error) {
	if s := r.FormValue("timeout"); s != "" {
		d, err := parseDuration(s)
		if err != nil {
			return nil, nil, badData(fmt.Errorf("invalid parameter \"timeout\": %w", err))
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		return ctx, cancel, nil
	}
	ctx, cancel := context.WithCancel(r.Context())
	return ctx, cancel, nil
}

func (a *apiServer) query(r *http.Request) (any, error) {
	ts, err := timeParam(r, "time", a.now())
	if err != nil {
		return nil, err
	}
	ctx, cancel, err := a.withTimeout(r)
	if err != nil {
		return nil, err
	}
	defer cancel()
	res, err := a.db.instant(ctx, r.FormValue("query"), ts)
	if err != nil {
		return nil, err
	}
	return newQueryData(res), nil
}

func (a *apiServer) queryRange(r *http.Request) (any, error) {
	start, err := timeParam(r, "start", time.Time{})
	if err != nil {
		return nil, err
	}
	end, err := timeParam(r, "end", time.Time{})
	if err != nil {
		return nil, err
	}
	if r.FormValue("start") == "" || r.FormValue("end") == "" {
		return nil, badData(errors.New("start and end are required"))
	}
	if end.Before(start) {
		return nil, badData(errors.New("invalid parameter \"end\": end timestamp must not be before start time"))
	}
	step, err := parseDuration(r.FormValue("step"))
	if err != nil {
		return nil, badData(fmt.Errorf("invalid parameter \"step\": %w", err))
	}
	if step <= 0 {
		return nil, badData(fmt.Errorf("invalid parameter \"step\": %w", ErrBadStep))
	}
	if end.Sub(start)/step > maxPoints {
		return nil, badData(errors.New("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"))
	}
	ctx, cancel, err := a.withTimeout(r)
	if err != nil {
		return nil, err
	}
	defer cancel()
	res, err := a.db.rangeQuery(ctx, r.FormValue("query"), start, end, step)
	if err != nil {
		return nil, err
	}
	return newQueryData(res), nil
}

func newQueryData(r evalResult) *queryData {
	v := r.value
	// An empty result is [], never null, as in Prometheus.
	switch x := v.(type) {
	case promql.Vector:
		if x == nil {
			v = promql.Vector{}
		}
	case promql.Matrix:
		if x == nil {
			v = promql.Matrix{}
		}
	}
	return &queryData{ResultType: v.Type(), Result: v, warnings: r.warnings, infos: r.infos}
}

// selectParams parses match[], start, end and limit of the metadata endpoints.
func (a *apiServer) selectParams(r *http.Request, matchRequired bool) (matchers [][]*labels.Matcher, mint, maxt int64, limit int, err error) {
	if err := r.ParseForm(); err != nil {
		return nil, 0, 0, 0, badData(err)
	}
	ms := r.Form["match[]"]
	if matchRequired && len(ms) == 0 {
		return nil, 0, 0, 0, badData(errors.New("no match[] parameter provided"))
	}
	if len(ms) > 0 {
		if matchers, err = a.db.parser.ParseMetricSelectors(ms); err != nil {
			return nil, 0, 0, 0, badData(err)
		}
	}
	mint, maxt = math.MinInt64, math.MaxInt64
	if r.FormValue("start") != "" {
		t, err := timeParam(r, "start", time.Time{})
		if err != nil {
			return nil, 0, 0, 0, err
		}
		mint = t.UnixMilli()
	}
	if r.FormValue("end") != "" {
		t, err := timeParam(r, "end", time.Time{})
		if err != nil {
			return nil, 0, 0, 0, err
		}
		maxt = t.UnixMilli()
	}
	if s := r.FormValue("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 0 {
			return nil, 0, 0, 0, badData(errors.New("limit must be a non-negative number"))
		}
	}
	return matchers, mint, maxt, limit, nil
}

func (a *apiServer) labelNames(r *http.Request) (any, error) {
	return a.labelQuery(r, "")
}

func (a *apiServer) labelValues(r *http.Request) (any, error) {
	name := r.PathValue("name")
	if name == "" {
		return nil, badData(errors.New("no label name"))
	}
	return a.labelQuery(r, name)
}

// labelQuery lists label names (name == "") or the values of label name.
func (a *apiServer) labelQuery(r *http.Request, name string) (any, error) {
	matchers, mint, maxt, limit, err := a.selectParams(r, false)
	if err != nil {
		return nil, err
	}
	q, err := a.db.tsdb.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	if len(matchers) == 0 {
		matchers = [][]*labels.Matcher{nil}
	}
	set := map[string]struct{}{}
	hints := &storage.LabelHints{Limit: limit}
	for _, ms := range matchers {
		var vals []string
		if name == "" {
			vals, _, err = q.LabelNames(r.Context(), hints, ms...)
		} else {
			vals, _, err = q.LabelValues(r.Context(), name, hints, ms...)
		}
		if err != nil {
			return nil, err
		}
		for _, v := range vals {
			set[v] = struct{}{}
		}
	}
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	slices.Sort(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (a *apiServer) series(r *http.Request) (any, error) {
	matchers, mint, maxt, limit, err := a.selectParams(r, true)
	if err != nil {
		return nil, err
	}
	q, err := a.db.tsdb.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	hints := &storage.SelectHints{Start: mint, End: maxt, Func: "series", Limit: limit}
	seen := map[string]labels.Labels{}
	for _, ms := range matchers {
		ss := q.Select(r.Context(), false, hints, ms...)
		for ss.Next() {
			ls := ss.At().Labels()
			seen[ls.String()] = ls
		}
		if err := ss.Err(); err != nil {
			return nil, err
		}
	}
	out := make([]labels.Labels, 0, len(seen))
	for _, ls := range seen {
		out = append(out, ls)
	}
	slices.SortFunc(out, labels.Compare)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Alerts and rules, in the JSON of Prometheus's API.
type apiAlert struct {
	Labels      labels.Labels `json:"labels"`
	Annotations labels.Labels `json:"annotations"`
	State       string        `json:"state"`
	ActiveAt    *time.Time    `json:"activeAt,omitempty"`
	Value       string        `json:"value"`
}

type apiRuleGroup struct {
	Name           string    `json:"name"`
	File           string    `json:"file"`
	Rules          []any     `json:"rules"`
	Interval       float64   `json:"interval"`
	Limit          int       `json:"limit"`
	EvaluationTime float64   `json:"evaluationTime"`
	LastEvaluation time.Time `json:"lastEvaluation"`
}

type apiAlertingRule struct {
	State          string        `json:"state"`
	Name           string        `json:"name"`
	Query          string        `json:"query"`
	Duration       float64       `json:"duration"`
	KeepFiringFor  float64       `json:"keepFiringFor"`
	Labels         labels.Labels `json:"labels"`
	Annotations    labels.Labels `json:"annotations"`
	Alerts         []*apiAlert   `json:"alerts"`
	Health         string        `json:"health"`
	LastError      string        `json:"lastError,omitempty"`
	EvaluationTime float64       `json:"evaluationTime"`
	LastEvaluation time.Time     `json:"lastEvaluation"`
	Type           string        `json:"type"`
}

type apiRecordingRule struct {
	Name           string        `json:"name"`
	Query          string        `json:"query"`
	Labels         labels.Labels `json:"labels"`
	Health         string        `json:"health"`
	LastError      string        `json:"lastError,omitempty"`
	EvaluationTime float64       `json:"evaluationTime"`
	LastEvaluation time.Time     `json:"lastEvaluation"`
	Type           string        `json:"type"`
}

func toAPIAlerts(as []*rules.Alert) []*apiAlert {
	out := make([]*apiAlert, 0, len(as))
	for _, a := range as {
		activeAt := a.ActiveAt
		out = append(out, &apiAlert{Labels: a.Labels, Annotations: a.Annotations, State: a.State.String(),
			ActiveAt: &activeAt, Value: strconv.FormatFloat(a.Value, 'e', -1, 64)})
	}
	return out
}

func (a *apiServer) alerts(*http.Request) (any, error) {
	var all []*apiAlert
	for _, r := range a.db.ruleMgr.AlertingRules() {
		all = append(all, toAPIAlerts(r.ActiveAlerts())...)
	}
	if all == nil {
		all = []*apiAlert{}
	}
	return map[string]any{"alerts": all}, nil
}

func (a *apiServer) rules(r *http.Request) (any, error) {
	typ := r.FormValue("type")
	if typ != "" && typ != "alert" && typ != "record" {
		return nil, badData(fmt.Errorf("invalid parameter \"type\": %q, want alert or record", typ))
	}
	groups := []*apiRuleGroup{}
	for _, g := range a.db.ruleGroups() {
		ag := &apiRuleGroup{Name: g.Name(), File: g.File(), Rules: []any{}, Interval: g.Interval().Seconds(),
			Limit: g.Limit(), EvaluationTime: g.GetEvaluationTime().Seconds(), LastEvaluation: g.GetLastEvaluation()}
		for _, rule := range g.Rules() {
			lastErr := ""
			if err := rule.LastError(); err != nil {
				lastErr = err.Error()
			}
			switch rule := rule.(type) {
			case *rules.AlertingRule:
				if typ == "record" {
					continue
				}
				ag.Rules = append(ag.Rules, apiAlertingRule{State: rule.State().String(), Name: rule.Name(),
					Query: rule.Query().String(), Duration: rule.HoldDuration().Seconds(),
					KeepFiringFor: rule.KeepFiringFor().Seconds(), Labels: rule.Labels(),
					Annotations: rule.Annotations(), Alerts: toAPIAlerts(rule.ActiveAlerts()),
					Health: string(rule.Health()), LastError: lastErr,
					EvaluationTime: rule.GetEvaluationDuration().Seconds(),
					LastEvaluation: rule.GetEvaluationTimestamp(), Type: "alerting"})
			case *rules.RecordingRule:
				if typ == "alert" {
					continue
				}
				ag.Rules = append(ag.Rules, apiRecordingRule{Name: rule.Name(), Query: rule.Query().String(),
					Labels: rule.Labels(), Health: string(rule.Health()), LastError: lastErr,
					EvaluationTime: rule.GetEvaluationDuration().Seconds(),
					LastEvaluation: rule.GetEvaluationTimestamp(), Type: "recording"})
			}
		}
		if typ != "" && len(ag.Rules) == 0 {
			continue
		}
		groups = append(groups, ag)
	}
	return map[string]any{"groups": groups}, nil
}

func (a *apiServer) buildInfo(*http.Request) (any, error) {
	return map[string]string{"version": buildVersion, "revision": "gantry-embedded", "branch": "",
		"buildUser": "", "buildDate": "", "goVersion": runtime.Version()}, nil
}

// timeParam parses a time as Prometheus does: Unix seconds (with fractions)
// or RFC 3339.
func timeParam(r *http.Request, name string, def time.Time) (time.Time, error) {
	s := r.FormValue(name)
	if s == "" {
		return def, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1000)*float64(time.Millisecond))).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, badData(fmt.Errorf("invalid parameter %q: cannot parse %q to a valid timestamp", name, s))
}

// parseDuration parses seconds (with fractions) or a Prometheus duration (5m).
func parseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		d := f * float64(time.Second)
		if math.IsNaN(d) || d >= math.MaxInt64 || d < math.MinInt64 {
			return 0, fmt.Errorf("cannot parse %q to a valid duration. It overflows int64", s)
		}
		return time.Duration(d), nil
	}
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	return 0, fmt.Errorf("cannot parse %q to a valid duration", s)
}
