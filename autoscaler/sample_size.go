package autoscaler

import (
	"math"
	"time"
)

// sampleConstant is X = z²·σ²/MOE² = 1.96²·100/5² = 15.3664: the sample size for
// 95% confidence with a 5-request margin on a population variance of 100.
const sampleConstant = 1.96 * 1.96 * 100 / (5 * 5)

// SampleSize is how many of population pods to scrape (Knative's
// populationMeanSampleSize): all of them up to 3, else ceil(N·X/(N+X−1)).
func SampleSize(population int) int {
	if population <= 3 {
		return max(population, 0)
	}
	n := float64(population)
	return int(math.Ceil(n * sampleConstant / (n + sampleConstant - 1)))
}

// PickSample chooses up to n stats, preferring pods at least window old: young
// pods are still warming up, so they only fill the sample when too few old
// ones answered. Order within each group is kept.
func PickSample(stats []Stat, n int, window time.Duration) []Stat {
	out := make([]Stat, 0, min(n, len(stats)))
	cutoff := window.Seconds()
	for _, s := range stats {
		if len(out) < n && s.ProcessUptime >= cutoff {
			out = append(out, s)
		}
	}
	for _, s := range stats {
		if len(out) < n && s.ProcessUptime < cutoff {
			out = append(out, s)
		}
	}
	return out
}

// ScraperPodName names an extrapolated, revision-wide stat.
const ScraperPodName = "service-scraper"

// Extrapolate turns a sample of per-pod stats into revision-wide totals:
// Σsample/n × population. An empty sample gives an empty Stat.
func Extrapolate(sample []Stat, population int) Stat {
	if len(sample) == 0 {
		return Stat{}
	}
	var sum Stat
	for _, s := range sample {
		sum.AverageConcurrentRequests += s.AverageConcurrentRequests
		sum.AverageProxiedConcurrentRequests += s.AverageProxiedConcurrentRequests
		sum.RequestCount += s.RequestCount
		sum.ProxiedRequestCount += s.ProxiedRequestCount
	}
	n, total := float64(len(sample)), float64(population)
	return Stat{
		PodName:                          ScraperPodName,
		AverageConcurrentRequests:        sum.AverageConcurrentRequests / n * total,
		AverageProxiedConcurrentRequests: sum.AverageProxiedConcurrentRequests / n * total,
		RequestCount:                     sum.RequestCount / n * total,
		ProxiedRequestCount:              sum.ProxiedRequestCount / n * total,
	}
}
