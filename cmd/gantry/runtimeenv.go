package main

import (
	"os"
	"strings"
	"syscall"

	"github.com/gantry-dev/gantry/queueproxy"
)

// startedForGateway makes sure a command that carries the gateway (`up`)
// runs with the queue-proxy's sysmon setting (queueproxy.GoDebug): without
// it the runtime's sysmon is woken from its deep sleep on nearly every
// request at a moderate rate, a fifth to a third of the gateway's CPU
// (docs/benchmarks.md, the edge hop). The runtime reads the setting only
// at start, so the process starts itself again once, in place (same PID,
// arguments and environment plus GODEBUG). A GODEBUG that sets schedtrace
// already is left as it is; if the exec fails the command runs without it.
func startedForGateway(args []string) {
	if len(args) < 2 || args[1] != "up" {
		return
	}
	env, again := gatewayEnv(os.Environ())
	if !again {
		return
	}
	if exe, err := os.Executable(); err == nil {
		_ = syscall.Exec(exe, args, env)
	}
}

// gatewayEnv is environ with the sysmon setting added to GODEBUG; false
// when it is there already (or schedtrace is set otherwise).
func gatewayEnv(environ []string) ([]string, bool) {
	env := make([]string, 0, len(environ)+1)
	cur := ""
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
			cur = v
			continue
		}
		env = append(env, kv)
	}
	want := queueproxy.GoDebug(cur)
	return append(env, "GODEBUG="+want), want != cur
}
