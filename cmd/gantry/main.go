// Command gantry is the single Gantry binary: the whole stack on one machine,
// its command-line client, the queue-proxy sidecar and the generators.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gantry-dev/gantry/controller/runtime/process"
)

type command struct {
	name  string
	usage string
	run   func(ctx context.Context, args []string) error
}

func commands() []command {
	return []command{
		{"up", "run the whole stack on this machine", runUp},
		{"apply", "apply Knative Service/Route/DomainMapping/ConfigMap YAML (-f FILE|-)", runApply},
		{"get", "list or show services, configurations, revisions, routes, domainmappings", runGet},
		{"delete", "delete an object: gantry delete KIND NAME [-n NS]", runDelete},
		{"logs", "print a revision's container logs: gantry logs REVISION [-n NS] [-f] [--instance ID]", runLogs},
		{"queue-proxy", "the per-instance sidecar; configured like Knative's, by environment", runQueueProxy},
		{"controller", "the Kubernetes controller, autoscaler and gateway (controller translate -f FILE: Knative YAML → serving.gantry.dev)", runController},
		{"scale", "scale simulate: replay a concurrency trace through the KPA decider", runScale},
		{"dashboards", "write the Grafana dashboards (--out DIR)", runDashboards},
		{"alerts", "write the Prometheus alerting and recording rules (--out FILE)", runAlerts},
		{"sample-app", "the bundled test/demo app (listens on $PORT)", runSampleApp},
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: gantry COMMAND [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(os.Stderr, "  %-14s %s\n", c.name, c.usage)
	}
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	// Hidden: the process runtime's mount-and-exec step, before any signal
	// handling, since it execs the app.
	if os.Args[1] == process.MountExecCommand {
		os.Exit(process.MountExec(os.Args[2:]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	for _, c := range commands() {
		if c.name == os.Args[1] {
			if err := c.run(ctx, os.Args[2:]); err != nil {
				fmt.Fprintf(os.Stderr, "gantry %s: %v\n", c.name, err)
				os.Exit(1)
			}
			return
		}
	}
	fmt.Fprintf(os.Stderr, "gantry: unknown command %q\n", os.Args[1])
	usage()
	os.Exit(2)
}
