package autoscaler

import (
	"testing"
	"time"
)

func TestMaxWindow(t *testing.T) {
	w := newMaxWindow(10*time.Second, 2*time.Second) // 5 buckets
	steps := []struct {
		at   float64
		v    int32
		want int32
	}{
		{0, 5, 5},
		{2, 3, 5},
		{4, 7, 7},
		{4, 1, 7}, // same bucket keeps the larger
		{6, 2, 7},
		{12, 1, 7}, // buckets 2..6 are still inside the 5-bucket window
		{14, 0, 2}, // 7 (bucket 2) slid out
		{16, 0, 1}, // then 2 (bucket 3)
		{40, 0, 0},
	}
	for _, s := range steps {
		w.Record(sec(s.at), s.v)
		if got := w.Current(); got != s.want {
			t.Errorf("after Record(%vs, %d): Current = %d, want %d", s.at, s.v, got, s.want)
		}
	}
}

func TestMaxWindowDescendingFill(t *testing.T) {
	w := newMaxWindow(6*time.Second, 2*time.Second) // 3 buckets, all occupied by a descending run
	for i, v := range []int32{9, 8, 7} {
		w.Record(sec(float64(2*i)), v)
	}
	if got := w.Current(); got != 9 {
		t.Fatalf("Current = %d, want 9", got)
	}
	w.Record(sec(6), 1)
	if got := w.Current(); got != 8 {
		t.Errorf("Current = %d, want 8", got)
	}
}
