package procs

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"
)

func TestPolicyNext(t *testing.T) {
	p := DefaultPolicy(4)
	tests := []struct {
		name    string
		start   int
		samples []float64
		want    int
	}{
		{"idle stays on one", 1, []float64{0, 0.1, 0.5, 0.79}, 1},
		{"a busy P gets company", 1, []float64{0.85}, 2},
		{"growth is one at a time", 1, []float64{3.9}, 2},
		{"saturation climbs to the most", 1, []float64{0.9, 1.7, 2.5, 3.9, 3.9}, 4},
		{"never past the most", 4, []float64{4, 4}, 4},
		{"a short dip keeps the Ps", 3, []float64{0.5, 0.5, 0.5, 2, 0.5, 0.5, 0.5}, 3},
		{"a long dip gives one back", 3, []float64{0.5, 0.5, 0.5, 0.5}, 2},
		{"idle returns to one", 4, []float64{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 1},
		{"between the thresholds nothing moves", 2, []float64{0.7, 1.5, 0.61, 1.59}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := State{Procs: tc.start}
			for _, busy := range tc.samples {
				s = p.Next(s, busy)
			}
			if s.Procs != tc.want {
				t.Errorf("after %v from %d: %d Ps, want %d", tc.samples, tc.start, s.Procs, tc.want)
			}
		})
	}
}

// The real loop: one P while idle, more while this test keeps them busy,
// and the default again once Adapt returns.
func TestAdaptFollowsLoad(t *testing.T) {
	t.Setenv("GOMAXPROCS", "")
	def := runtime.GOMAXPROCS(0)
	if def < 2 {
		t.Skip("one CPU: nothing to adapt") // the machines here have 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Adapt(ctx, DefaultPolicy(def), 50*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	waitFor(t, "one P while idle", func() bool { return runtime.GOMAXPROCS(0) == 1 })

	stop := make(chan struct{})
	for range def {
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
	}
	waitFor(t, "more Ps under load", func() bool { return runtime.GOMAXPROCS(0) > 1 })
	close(stop)
	waitFor(t, "one P again when idle", func() bool { return runtime.GOMAXPROCS(0) == 1 })
	cancel()
	<-done
	if got := runtime.GOMAXPROCS(0); got != def {
		t.Errorf("after Adapt: GOMAXPROCS %d, want the default %d", got, def)
	}
}

// On a machine of two, the gateway's process keeps one P: the other core
// is the instances'.
func TestForGatewayHalvesTheMachine(t *testing.T) {
	if got, want := ForGateway().Max, max(1, runtime.GOMAXPROCS(0)/2); got != want {
		t.Errorf("ForGateway().Max = %d, want %d", got, want)
	}
	t.Setenv("GOMAXPROCS", "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Adapt(ctx, Policy{Max: 1}, 10*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	waitFor(t, "one P", func() bool { return runtime.GOMAXPROCS(0) == 1 })
	cancel()
	<-done
}

func TestForGatewayAloneTakesTheMachine(t *testing.T) {
	if got, want := ForGatewayAlone().Max, runtime.GOMAXPROCS(0); got != want {
		t.Errorf("ForGatewayAlone().Max = %d, want %d", got, want)
	}
}

func TestAdaptLeavesAnExplicitSetting(t *testing.T) {
	t.Setenv("GOMAXPROCS", "2")
	before := runtime.GOMAXPROCS(0)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	Adapt(ctx, DefaultPolicy(2), 10*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Errorf("GOMAXPROCS %d, want %d untouched", got, before)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: GOMAXPROCS is %d after 5 s", what, runtime.GOMAXPROCS(0))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
