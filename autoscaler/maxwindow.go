package autoscaler

import (
	"math"
	"time"
)

// maxWindow is the maximum of values recorded over a sliding time window, in
// buckets of granularity (Knative's aggregation/max.TimeWindow). It keeps a
// descending run of (bucket, value) entries so Record and Current are O(1)
// amortised.
type maxWindow struct {
	entries     []maxEntry // ring buffer, len = number of buckets
	first, n    int
	granularity int64 // seconds
}

type maxEntry struct {
	index int64
	value int32
}

func newMaxWindow(duration, granularity time.Duration) *maxWindow {
	size := int(math.Ceil(float64(duration) / float64(granularity)))
	if size < 1 {
		size = 1
	}
	return &maxWindow{entries: make([]maxEntry, size), granularity: int64(granularity / time.Second)}
}

func (w *maxWindow) at(i int) *maxEntry { return &w.entries[(w.first+i)%len(w.entries)] }

// Record adds v in now's bucket; indexes must not go backwards.
func (w *maxWindow) Record(now time.Time, v int32) {
	index := now.Unix() / w.granularity
	// Entries not larger than v can never be the maximum again.
	for w.n > 0 && v >= w.at(w.n-1).value {
		w.n--
	}
	// Drop entries that slid out of the window.
	for w.n > 0 && index-w.at(0).index >= int64(len(w.entries)) {
		w.n--
		w.first = (w.first + 1) % len(w.entries)
	}
	// Two records in one bucket keep the larger.
	if w.n > 0 {
		if last := w.at(w.n - 1); last.index == index {
			v = max(v, last.value)
			w.n--
		}
	}
	*w.at(w.n) = maxEntry{index: index, value: v}
	w.n++
}

// Current is the maximum over the window as of the last Record.
func (w *maxWindow) Current() int32 { return w.at(0).value }
