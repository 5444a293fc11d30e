package queueproxy

import (
	"strings"
)

// sysmonSetting keeps the Go runtime's sysmon thread out of its deep sleep.
//
// When every P is idle, sysmon sleeps on a note, and the next goroutine to
// enter a system call wakes it (a futex wake and a context switch) and
// resets its tick to 20 µs. A proxy at a few thousand requests/s goes idle
// between almost every request, so it paid that wake-up per request and
// then ran sysmon at its fastest tick, retaking the P from its loopback
// writes: 15–25% of its CPU (perf, docs/benchmarks-queueproxy.md). With
// schedtrace set, sysmon never deep-sleeps; it backs off to its 10 ms tick
// instead (100 wake-ups/s when idle). The period is the largest the runtime
// accepts, so the one trace line it prints comes 24.8 days after boot and
// then every 24.8 days.
const sysmonSetting = "schedtrace=2147483647"

// GoDebug returns the GODEBUG value to start a queue-proxy process with:
// current plus sysmonSetting, unless current already sets schedtrace. The
// runtime reads schedtrace only at start, so the launcher (gantry up's
// local runtime, the Kubernetes sidecar spec, bench/queueproxy.sh) sets it.
func GoDebug(current string) string {
	for _, kv := range strings.Split(current, ",") {
		if strings.HasPrefix(strings.TrimSpace(kv), "schedtrace=") {
			return current
		}
	}
	if strings.TrimSpace(current) == "" {
		return sysmonSetting
	}
	return current + "," + sysmonSetting
}
