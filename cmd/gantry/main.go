// Command gantry is the single Gantry binary: the whole stack on one machine,
// its command-line client (kubectl-like apply/get/delete and kn-like
// service/revision/route/domain verbs), the queue-proxy sidecar and the
// generators.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gantry-dev/gantry/controller/runtime/process"
	"github.com/spf13/cobra"
)

// command is a command that parses its own flags with a flag.FlagSet: cobra
// only routes to it.
type command struct {
	name  string
	usage string
	run   func(ctx context.Context, args []string) error
}

// commands are the pass-through commands; adding one is one line here.
func commands() []command {
	return []command{
		{"up", "run the whole stack on this machine", runUp},
		{"apply", "apply Knative Service/Route/DomainMapping/ConfigMap YAML (-f FILE|-)", runApply},
		{"get", "list or show services, configurations, revisions, routes, domainmappings (-w to watch)", runGet},
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

// errUsage marks an error in how a command was called (exit status 2).
var errUsage = errors.New("usage")

type usageError struct{ msg string }

func (e usageError) Error() string   { return e.msg }
func (e usageError) Is(t error) bool { return t == errUsage }

func rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "gantry",
		Short:         "Gantry: an observability-first serverless serving stack (Knative Serving compatible)",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{flagError(err.Error())} })
	for _, c := range commands() {
		run := c.run
		root.AddCommand(&cobra.Command{
			Use:                c.name,
			Short:              c.usage,
			DisableFlagParsing: true,
			RunE: func(cmd *cobra.Command, args []string) error {
				return run(cmd.Context(), args)
			},
		})
	}
	root.AddCommand(addNameCompletion(serviceCommand(), "services"), addNameCompletion(revisionCommand(), "revisions"),
		addNameCompletion(routeCommand(), "routes"), addNameCompletion(domainCommand(), "domainmappings"))
	return root
}

func main() {
	// Hidden: the process runtime's mount-and-exec step, before any signal
	// handling, since it execs the app.
	if len(os.Args) > 1 && os.Args[1] == process.MountExecCommand {
		os.Exit(process.MountExec(os.Args[2:]))
	}
	startedForGateway(os.Args)
	root := rootCommand()
	if len(os.Args) < 2 {
		root.SetOut(os.Stderr)
		_ = root.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	cmd, err := root.ExecuteContextC(ctx)
	stop()
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return
	}
	name := strings.TrimPrefix(cmd.CommandPath(), "gantry ")
	if cmd == root {
		fmt.Fprintf(os.Stderr, "gantry: %v (see gantry --help)\n", err)
		os.Exit(2)
	}
	fmt.Fprintf(os.Stderr, "gantry %s: %v\n", name, err)
	if errors.Is(err, errUsage) {
		os.Exit(2)
	}
	os.Exit(1)
}

// flagError shortens pflag's parse errors to one plain line:
// `invalid argument "abc" for "--scale-min" flag: want an integer`.
func flagError(msg string) string {
	for _, p := range []struct{ cause, want string }{
		{": strconv.ParseInt: ", ": want an integer"},
		{": strconv.ParseBool: ", ": want true or false"},
	} {
		if i := strings.Index(msg, p.cause); i >= 0 {
			return msg[:i] + p.want
		}
	}
	return msg
}
