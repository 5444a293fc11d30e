// Package procs adapts GOMAXPROCS to the process's own CPU use.
//
// `gantry up` carries the gateway in the same process as the control
// plane. With a P per core, each request that wakes the gateway on an
// otherwise idle runtime also wakes a second thread that spins looking for
// work and goes back to sleep (futex calls and spinning on every request):
// at a moderate rate on two cores that is a third of the gateway's CPU
// (docs/benchmarks.md, the edge hop). One P avoids it but caps the process
// at one core when it is saturated. So the process runs on one P while it
// uses less than most of it, and gets more Ps, one at a time, only while
// they are kept busy, up to half the machine (ForGateway).
package procs

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"syscall"
	"time"
)

// Policy holds the thresholds, as a fraction of one P's time.
type Policy struct {
	Max int // the most Ps; at least 1
	// Grow adds a P when CPU use exceeds Grow × Ps.
	Grow float64
	// Shrink removes one when use stays under Shrink × (Ps − 1) for
	// ShrinkAfter samples in a row.
	Shrink      float64
	ShrinkAfter int
}

// DefaultPolicy grows past 80% busy and shrinks once the Ps left would be
// under 60% busy for 4 samples: the gap keeps it from flapping.
func DefaultPolicy(max int) Policy {
	return Policy{Max: max, Grow: 0.8, Shrink: 0.6, ShrinkAfter: 4}
}

// State is what Next remembers between samples.
type State struct {
	Procs int
	low   int // samples in a row under the shrink threshold
}

// Next is the number of Ps after a sample in which the process used busy
// cores' worth of CPU.
func (p Policy) Next(s State, busy float64) State {
	n := s.Procs
	switch {
	case n < p.Max && busy > p.Grow*float64(n):
		return State{Procs: n + 1}
	case n > 1 && busy < p.Shrink*float64(n-1):
		s.low++
		if s.low >= p.ShrinkAfter {
			return State{Procs: n - 1}
		}
		return s
	}
	s.low = 0
	return s
}

// ForGateway is the policy of a process that carries a gateway on the
// machine that also runs what it forwards to: at most half the Ps the
// runtime would use, since each request costs the queue-proxy and the app
// behind it at least as much CPU again. Given all the cores, a saturated
// gateway starves them and serves fewer requests, not more (two cores:
// docs/benchmarks.md).
func ForGateway() Policy {
	return DefaultPolicy(max(1, runtime.GOMAXPROCS(0)/2))
}

// ForGatewayAlone is the policy of a gateway whose queue-proxies and apps
// run elsewhere (its own pod on Kubernetes): every P the runtime would use,
// still from one, so that a light load does not pay for the spinning.
func ForGatewayAlone() Policy {
	return DefaultPolicy(runtime.GOMAXPROCS(0))
}

// Adapt runs policy until ctx ends, sampling the process's CPU time every
// interval, starting from one P. It does nothing when GOMAXPROCS is set
// in the environment (the user's choice stands); on return it leaves the
// runtime's default in place again.
func Adapt(ctx context.Context, policy Policy, interval time.Duration, log *slog.Logger) {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	s := State{Procs: 1}
	runtime.GOMAXPROCS(1)
	defer runtime.SetDefaultGOMAXPROCS()
	if policy.Max <= 1 {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	last, lastCPU := time.Now(), cpuTime()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			cpu := cpuTime()
			busy := (cpu - lastCPU).Seconds() / now.Sub(last).Seconds()
			last, lastCPU = now, cpu
			next := policy.Next(s, busy)
			if next.Procs != s.Procs {
				runtime.GOMAXPROCS(next.Procs)
				log.Debug("GOMAXPROCS adapted", "from", s.Procs, "to", next.Procs, "busy", busy)
			}
			s = next
		}
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
