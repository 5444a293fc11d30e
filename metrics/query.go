package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

// Querier runs PromQL. The embedded DB and a remote Prometheus (NewRemote)
// both implement it, so the UI works the same with either. Results use
// github.com/prometheus/common/model, the types of Prometheus's Go client:
// model.Vector, model.Matrix, *model.Scalar or *model.String.
type Querier interface {
	Query(ctx context.Context, expr string, ts time.Time) (model.Value, error)
	QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) (model.Value, error)
}

var (
	_ Querier = (*DB)(nil)
	_ Querier = (*Remote)(nil)
)

// ErrBadStep is returned for a range query with a step that is not positive.
var ErrBadStep = errors.New("zero or negative query resolution step widths are not accepted. Try a positive integer")

// Query evaluates expr at ts.
func (db *DB) Query(ctx context.Context, expr string, ts time.Time) (model.Value, error) {
	r, err := db.instant(ctx, expr, ts)
	if err != nil {
		return nil, err
	}
	return toModel(r.value), nil
}

// QueryRange evaluates expr from start to end every step.
func (db *DB) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) (model.Value, error) {
	r, err := db.rangeQuery(ctx, expr, start, end, step)
	if err != nil {
		return nil, err
	}
	return toModel(r.value), nil
}

// evalResult is an engine value with the query's annotations.
type evalResult struct {
	value           parser.Value
	warnings, infos []string
}

// instant and rangeQuery return the engine's own values, for the HTTP API,
// which encodes them as Prometheus does.
func (db *DB) instant(ctx context.Context, expr string, ts time.Time) (evalResult, error) {
	q, err := db.engine.NewInstantQuery(ctx, db.tsdb, nil, expr, ts)
	if err != nil {
		return evalResult{}, err
	}
	defer q.Close()
	return result(q.Exec(ctx))
}

func (db *DB) rangeQuery(ctx context.Context, expr string, start, end time.Time, step time.Duration) (evalResult, error) {
	if step <= 0 {
		return evalResult{}, ErrBadStep
	}
	q, err := db.engine.NewRangeQuery(ctx, db.tsdb, nil, expr, start, end, step)
	if err != nil {
		return evalResult{}, err
	}
	defer q.Close()
	return result(q.Exec(ctx))
}

// result detaches r's value from the query, whose Close recycles its memory.
func result(r *promql.Result) (evalResult, error) {
	if r.Err != nil {
		return evalResult{}, r.Err
	}
	out := evalResult{value: r.Value}
	out.warnings, out.infos = r.Warnings.AsStrings("", 0, 0)
	switch v := r.Value.(type) {
	case promql.Vector:
		c := make(promql.Vector, len(v))
		copy(c, v)
		out.value = c
	case promql.Matrix:
		c := make(promql.Matrix, len(v))
		for i, s := range v {
			c[i] = promql.Series{Metric: s.Metric, Floats: append([]promql.FPoint(nil), s.Floats...),
				Histograms: append([]promql.HPoint(nil), s.Histograms...)}
		}
		out.value = c
	}
	return out, nil
}

// toModel converts an engine value to the client's types.
func toModel(v parser.Value) model.Value {
	switch v := v.(type) {
	case promql.Vector:
		out := make(model.Vector, 0, len(v))
		for _, s := range v {
			ms := &model.Sample{Metric: toMetric(s.Metric), Timestamp: model.Time(s.T), Value: model.SampleValue(s.F)}
			if s.H != nil {
				ms.Histogram = toHistogram(s.H)
			}
			out = append(out, ms)
		}
		return out
	case promql.Matrix:
		out := make(model.Matrix, 0, len(v))
		for _, s := range v {
			ss := &model.SampleStream{Metric: toMetric(s.Metric)}
			for _, p := range s.Floats {
				ss.Values = append(ss.Values, model.SamplePair{Timestamp: model.Time(p.T), Value: model.SampleValue(p.F)})
			}
			for _, p := range s.Histograms {
				ss.Histograms = append(ss.Histograms, model.SampleHistogramPair{Timestamp: model.Time(p.T), Histogram: toHistogram(p.H)})
			}
			out = append(out, ss)
		}
		return out
	case promql.Scalar:
		return &model.Scalar{Timestamp: model.Time(v.T), Value: model.SampleValue(v.V)}
	case promql.String:
		return &model.String{Timestamp: model.Time(v.T), Value: v.V}
	}
	return nil
}

func toMetric(ls labels.Labels) model.Metric {
	m := make(model.Metric, ls.Len())
	ls.Range(func(l labels.Label) { m[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
	return m
}

func toHistogram(h *histogram.FloatHistogram) *model.SampleHistogram {
	out := &model.SampleHistogram{Count: model.FloatString(h.Count), Sum: model.FloatString(h.Sum)}
	it := h.AllBucketIterator()
	for it.Next() {
		b := it.At()
		if b.Count == 0 {
			continue
		}
		var boundaries int32 // the encoding of Prometheus's API
		switch {
		case b.LowerInclusive && b.UpperInclusive:
			boundaries = 3
		case b.LowerInclusive:
			boundaries = 1
		case !b.UpperInclusive:
			boundaries = 2
		}
		out.Buckets = append(out.Buckets, &model.HistogramBucket{Boundaries: boundaries,
			Lower: model.FloatString(b.Lower), Upper: model.FloatString(b.Upper), Count: model.FloatString(b.Count)})
	}
	return out
}
