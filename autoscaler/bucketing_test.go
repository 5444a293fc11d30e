package autoscaler

import (
	"math"
	"testing"
	"time"
)

// t0 is an arbitrary whole second; nothing in this package reads the clock.
var t0 = time.Unix(1_700_000_000, 0)

func sec(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Second))) }

func TestSmoothingCoefficient(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want float64
	}{{100, 0.2}, {60, 0.2}, {40, 0.20567}, {6, 0.78456}} {
		if got := SmoothingCoefficient(tc.n); math.Abs(got-tc.want) > 1e-5 {
			t.Errorf("SmoothingCoefficient(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
}

func TestBucketsSameSecondIsSummed(t *testing.T) {
	b := NewBuckets(2 * time.Minute)
	b.Record(sec(0), 1)    // activator scale-from-zero poke
	b.Record(sec(0.1), 10) // the scrape in the same second
	b.Record(sec(1), 1)
	b.Record(sec(3), 1)
	if got, want := b.buckets[b.index(t0.Unix())], 11.0; got != want {
		t.Errorf("bucket 0 = %v, want %v", got, want)
	}
	if got, want := b.total, 13.0; got != want {
		t.Errorf("total = %v, want %v", got, want)
	}
	// Four seconds since the first write, one of them empty: 13/4.
	if got, want := b.WindowAverage(sec(3)), 13.0/4; got != want {
		t.Errorf("WindowAverage = %v, want %v", got, want)
	}
}

// The sequence of Knative's TestTimedFloat64BucketsWindowAverage.
func TestBucketsWindowAverage(t *testing.T) {
	b := NewBuckets(5 * time.Second)
	check := func(at time.Time, want float64) {
		t.Helper()
		if got := b.WindowAverage(at); got != want {
			t.Errorf("WindowAverage(%v) = %v, want %v", at.Sub(t0), got, want)
		}
	}
	if !b.IsEmpty(t0) {
		t.Error("new buckets not empty")
	}
	b.Record(t0, 1)
	check(t0, 1) // averaged over the one second since the first write, not 5
	for i := 1; i < 5; i++ {
		b.Record(sec(float64(i)), float64(i+1))
	}
	check(sec(4), 15./5)
	check(sec(3.6), 15./5)         // now lagging behind the last write
	check(sec(6), (15.-1-2)/(5-2)) // short hole: missing seconds are dropped
	check(sec(10), 0)              // a whole window without data
	b.Record(sec(6), 91)           // a write after a hole zero-fills it
	check(sec(6), (15.-1-2+91)/5)
	now := sec(60)
	b.Record(now, 1984) // long after: starts afresh
	check(now, 1984)
	b.Record(now.Add(-3*time.Second), 4) // an earlier second still in the window
	check(now, (4.+1984)/4)
	now = now.Add(time.Second)
	b.Record(now, 5)
	check(now, (4.+1984+5)/5)
	b.Record(now.Add(-3*time.Second), 10)
	check(now, (4.+10+1984+5)/5)
	b.Record(now.Add(-6*time.Second), 10) // older than the window: ignored
	check(now, (4.+10+1984+5)/5)
	b.Record(now.Add(-5*time.Second), 10) // exactly a window old: ignored
	check(now, (4.+10+1984+5)/5)
	b.Record(now.Add(5*time.Second), 10) // exactly a window later: reset
	check(now.Add(5*time.Second), 10)
}

func TestBucketsDescendingRecord(t *testing.T) {
	b := NewBuckets(5 * time.Second)
	for i := 8; i >= 0; i-- {
		b.Record(sec(float64(i)), 5)
	}
	if got := b.WindowAverage(sec(5)); got != 5 {
		t.Errorf("WindowAverage = %v, want 5", got)
	}
}

func TestBucketsHoles(t *testing.T) {
	b := NewBuckets(5 * time.Second)
	for i := 0; i < 5; i++ {
		b.Record(sec(float64(i)), float64(i+1))
	}
	if got := b.WindowAverage(sec(4)); got != 3 {
		t.Errorf("WindowAverage = %v, want 3", got)
	}
	// Seconds 5..7 become zero; 3 (=4) and 4 (=5) leave the window at 8 and 9.
	b.Record(sec(8), 2)
	if got, want := b.total, 7.0; got != want {
		t.Errorf("total = %v, want %v (4+... only seconds 4 and 8 remain)", got, want)
	}
}

func TestBucketsRoundsToSixDigits(t *testing.T) {
	b := NewBuckets(3 * time.Second)
	b.Record(sec(0), 1)
	b.Record(sec(1), 0)
	b.Record(sec(2), 0)
	if got := b.WindowAverage(sec(2)); got != 0.333333 {
		t.Errorf("WindowAverage = %v, want 0.333333", got)
	}
}

// Knative's TestTimedFloat64BucketsWeightedAverage.
func TestWeightedBuckets(t *testing.T) {
	b := NewWeightedBuckets(5 * time.Second)
	m := b.alpha
	b.Record(t0, 2)
	want := 2 * m
	if got := b.WindowAverage(t0); got != want {
		t.Errorf("one value: %v, want %v", got, want)
	}
	// A second later without a write the value decays by (1−α).
	want *= 1 - m
	if got := b.WindowAverage(sec(1)); got != want {
		t.Errorf("decayed: %v, want %v", got, want)
	}
	b.Record(sec(1), 2)
	want += 2 * m
	if got := b.WindowAverage(sec(1)); got != want {
		t.Errorf("two values: %v, want %v", got, want)
	}
	for i := 0; i < 5; i++ {
		b.Record(sec(float64(2+i)), float64(i+2)) // window holds [2 3 4 5 6]
	}
	want = 6*m + 5*m*(1-m) + 4*m*(1-m)*(1-m) + 3*m*(1-m)*(1-m)*(1-m) + 2*m*(1-m)*(1-m)*(1-m)*(1-m)
	if got := b.WindowAverage(sec(6)); got != want {
		t.Errorf("full window: %v, want %v", got, want)
	}
	if got := b.WindowAverage(sec(16)); got != 0 {
		t.Errorf("stale window: %v, want 0", got)
	}
	// Newest values weigh most: [10 10 5 5] and [5 5 10 10] differ.
	up, down := NewWeightedBuckets(4*time.Second), NewWeightedBuckets(4*time.Second)
	for i, v := range []float64{10, 10, 5, 5} {
		up.Record(sec(float64(i)), v)
		down.Record(sec(float64(i)), 15-v)
	}
	if u, d := up.WindowAverage(sec(3)), down.WindowAverage(sec(3)); !(u < d) {
		t.Errorf("falling load %v should average below rising load %v", u, d)
	}
}

func TestWeightedBucketsRollover(t *testing.T) {
	b := NewWeightedBuckets(5 * time.Second)
	for i := 0; i < 6; i++ {
		b.Record(sec(float64(i)), float64(i+1)) // 1 rolls out
	}
	if got := math.Round(b.WindowAverage(sec(5))*1000) / 1000; got != 5.812 { // Knative's hand-computed value
		t.Errorf("WindowAverage = %v, want 5.812", got)
	}
}
