package autoscaler

import (
	"math"
	"time"
)

// windowAverager is one metric window; Buckets and WeightedBuckets implement it.
type windowAverager interface {
	Record(now time.Time, value float64)
	WindowAverage(now time.Time) float64
	IsEmpty(now time.Time) bool
}

var (
	_ windowAverager = (*Buckets)(nil)
	_ windowAverager = (*WeightedBuckets)(nil)
)

// Buckets is a ring of one-second buckets spanning a window, averaged linearly
// (Knative's TimedFloat64Buckets with the 1 s BucketSize). Values recorded in the
// same second are summed, so a bucket holds a revision-wide total. Not safe for
// concurrent use; RevisionMetrics serialises access.
type Buckets struct {
	buckets []float64
	// firstWrite and lastWrite are Unix seconds; written tells them from "never".
	firstWrite, lastWrite int64
	written               bool
	// total is the sum of all buckets, kept so the common read is O(1).
	total float64
}

// NewBuckets returns buckets over window, rounded up to whole seconds (at least one).
func NewBuckets(window time.Duration) *Buckets {
	n := int(math.Ceil(window.Seconds()))
	if n < 1 {
		n = 1
	}
	return &Buckets{buckets: make([]float64, n)}
}

func (b *Buckets) size() int64 { return int64(len(b.buckets)) }

func (b *Buckets) index(sec int64) int {
	i := sec % b.size()
	if i < 0 {
		i += b.size()
	}
	return int(i)
}

// Record adds value to the bucket of now's second. A write a full window or more
// after the last one starts afresh; a write at or before lastWrite−window is
// dropped; a gap shorter than the window is zero-filled.
func (b *Buckets) Record(now time.Time, value float64) {
	sec := now.Unix()
	if !b.written || sec != b.lastWrite {
		if b.written && sec+b.size() <= b.lastWrite {
			return // older than the window
		}
		if !b.written || b.firstWrite > sec {
			b.firstWrite = sec
		}
		if !b.written || sec > b.lastWrite {
			if !b.written || sec-b.lastWrite >= b.size() {
				clear(b.buckets)
				b.total = 0
				b.firstWrite = sec
			} else {
				for s := b.lastWrite + 1; s <= sec; s++ {
					i := b.index(s)
					b.total -= b.buckets[i]
					b.buckets[i] = 0
				}
			}
			b.lastWrite = sec
			b.written = true
		}
	}
	b.buckets[b.index(sec)] += value
	b.total += value
}

// IsEmpty reports that nothing was written in the window before now.
func (b *Buckets) IsEmpty(now time.Time) bool {
	return !b.written || now.Unix()-b.lastWrite > b.size()
}

// WindowAverage is the linear average at now, rounded to 6 digits. A window that
// is not full yet (first write less than a window ago) is averaged over the
// seconds since the first write; seconds after the last write count as missing,
// not as zero; a window without writes averages to 0.
func (b *Buckets) WindowAverage(now time.Time) float64 {
	if !b.written {
		return 0
	}
	sec := now.Unix()
	span := float64(b.lastWrite-b.firstWrite) + 1 // inclusive
	switch gap := sec - b.lastWrite; {
	case gap <= 0:
		return roundTo6(b.total / math.Min(span, float64(b.size())))
	case gap < b.size():
		sum := b.total
		for s := b.lastWrite + 1; s <= sec; s++ {
			sum -= b.buckets[b.index(s)]
		}
		return roundTo6(sum / math.Min(span, float64(b.size()-gap)))
	default:
		return 0
	}
}

func roundTo6(f float64) float64 { return math.Round(f*1e6) / 1e6 }

// WeightedBuckets averages the same buckets with exponentially decaying weights,
// newest first: Σ bucket_i·α(1−α)^i (Knative's WeightedFloat64Buckets).
type WeightedBuckets struct {
	Buckets
	alpha float64
}

// Knative's constants: the weights should add up to at least weightPrecision,
// and α never drops below minSmoothing so long windows still react.
const (
	weightPrecision = 0.9999
	minSmoothing    = 0.2
)

// SmoothingCoefficient is α for a window of n buckets: max(1−(1−0.9999)^(1/n), 0.2).
func SmoothingCoefficient(n int) float64 {
	return math.Max(1-math.Pow(1-weightPrecision, 1/float64(n)), minSmoothing)
}

// NewWeightedBuckets returns weighted-exponential buckets over window.
func NewWeightedBuckets(window time.Duration) *WeightedBuckets {
	b := NewBuckets(window)
	return &WeightedBuckets{Buckets: *b, alpha: SmoothingCoefficient(len(b.buckets))}
}

// WindowAverage is the weighted average at now. Empty seconds since the last
// write take their weights without contributing, so the value decays.
func (w *WeightedBuckets) WindowAverage(now time.Time) float64 {
	if w.IsEmpty(now) {
		return 0
	}
	n := w.size()
	m := w.alpha
	if gap := now.Unix() - w.lastWrite; gap > 0 {
		m *= math.Pow(1-w.alpha, float64(gap))
		n -= gap
	}
	// Walk the ring backwards from the last write without a modulo per bucket.
	decay, ret := 1-w.alpha, 0.0
	i := w.index(w.lastWrite)
	for range n {
		ret += w.buckets[i] * m
		m *= decay
		if i--; i < 0 {
			i = len(w.buckets) - 1
		}
	}
	return ret
}
