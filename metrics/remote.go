package metrics

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Remote queries a Prometheus server's HTTP API (--prometheus-url).
type Remote struct {
	api promv1.API
}

// NewRemote returns a Querier for the Prometheus at baseURL (for example
// http://prometheus:9090). rt may be nil for http.DefaultTransport.
func NewRemote(baseURL string, rt http.RoundTripper) (*Remote, error) {
	c, err := api.NewClient(api.Config{Address: baseURL, RoundTripper: rt})
	if err != nil {
		return nil, fmt.Errorf("prometheus url %s: %w", baseURL, err)
	}
	return &Remote{api: promv1.NewAPI(c)}, nil
}

// Query evaluates expr at ts on the remote Prometheus.
func (r *Remote) Query(ctx context.Context, expr string, ts time.Time) (model.Value, error) {
	v, _, _, err := r.api.Query(ctx, expr, ts)
	return v, err
}

// QueryRange evaluates expr from start to end every step on the remote Prometheus.
func (r *Remote) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) (model.Value, error) {
	if step <= 0 {
		return nil, ErrBadStep
	}
	v, _, _, err := r.api.QueryRange(ctx, expr, promv1.Range{Start: start, End: end, Step: step})
	return v, err
}

// API is the underlying client, for the rest of Prometheus's API (alerts,
// rules, series, label values).
func (r *Remote) API() promv1.API { return r.api }
