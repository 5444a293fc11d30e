package scaling

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/gantry-dev/gantry/autoscaler"
	"github.com/gantry-dev/gantry/queueproxy"
)

// Pod is one instance as the scaler sees it.
type Pod struct {
	Name      string
	Ready     bool
	StatsAddr string // host:port of the queue-proxy's stats endpoint (Knative's 9090)
	Started   time.Time
}

// scrapeRevision samples the ready pods (Knative's sample-size rule),
// scrapes each one's stats and extrapolates to a revision-wide stat. Pods
// that fail are skipped for this round.
func scrapeRevision(ctx context.Context, c *http.Client, pods []Pod, window time.Duration, now time.Time) (autoscaler.Stat, int, error) {
	var ready []Pod
	for _, p := range pods {
		if p.Ready && p.StatsAddr != "" {
			ready = append(ready, p)
		}
	}
	if len(ready) == 0 {
		return autoscaler.Stat{}, 0, nil
	}
	// Older pods first (their stats are steady), then a random pick of the young.
	rand.Shuffle(len(ready), func(i, j int) { ready[i], ready[j] = ready[j], ready[i] })
	n := autoscaler.SampleSize(len(ready))
	var sample []autoscaler.Stat
	var lastErr error
	for _, p := range ready {
		if len(sample) >= n {
			break
		}
		st, err := scrapePod(ctx, c, p.StatsAddr)
		if err != nil {
			lastErr = err
			continue
		}
		sample = append(sample, autoscaler.Stat{PodName: p.Name, AverageConcurrentRequests: st.AverageConcurrentRequests,
			AverageProxiedConcurrentRequests: st.AverageProxiedConcurrentRequests, RequestCount: st.RequestCount,
			ProxiedRequestCount: st.ProxiedRequestCount, ProcessUptime: st.ProcessUptime, Time: now})
	}
	if len(sample) == 0 {
		return autoscaler.Stat{}, 0, lastErr
	}
	st := autoscaler.Extrapolate(sample, len(ready))
	st.Time = now
	return st, len(sample), nil
}

func scrapePod(ctx context.Context, c *http.Client, addr string) (queueproxy.Stat, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return queueproxy.Stat{}, err
	}
	req.Header.Set("Accept", "application/protobuf")
	resp, err := c.Do(req)
	if err != nil {
		return queueproxy.Stat{}, fmt.Errorf("scrape %s: %w", addr, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return queueproxy.Stat{}, fmt.Errorf("scrape %s: %w", addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		return queueproxy.Stat{}, fmt.Errorf("scrape %s: %s", addr, resp.Status)
	}
	st, err := queueproxy.DecodeStat(b)
	if err != nil {
		return queueproxy.Stat{}, fmt.Errorf("scrape %s: %w", addr, err)
	}
	return st, nil
}
