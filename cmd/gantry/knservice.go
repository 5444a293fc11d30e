package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/controller/reconcile"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// serviceFlags are the flags of service create and update.
type serviceFlags struct {
	clientFlags
	image                                        string
	env, annotations, labels                     []string
	port                                         string
	scaleMin, scaleMax, scaleTarget, concurrency int
	revisionName                                 string
	traffic                                      trafficFlags
	wait, noWait, force                          bool
	waitTimeout                                  int
	output                                       string
	flags                                        *pflag.FlagSet
}

func (f *serviceFlags) add(cmd *cobra.Command, verb string) {
	fs := cmd.Flags()
	f.flags = fs
	f.clientFlags.add(fs)
	fs.StringVar(&f.image, "image", "", "Image to run.")
	fs.StringArrayVarP(&f.env, "env", "e", nil, `Environment variable to set. NAME=value; you may provide this flag any number of times to set multiple environment variables. To unset, specify the environment variable name followed by a "-" (e.g., NAME-).`)
	fs.StringVarP(&f.port, "port", "p", "", "The port where application listens on, in the format 'NAME:PORT', where 'NAME' is optional. Examples: '--port h2c:8080' , '--port 8080'.")
	fs.IntVar(&f.scaleMin, "scale-min", 0, "Minimum number of replicas.")
	fs.IntVar(&f.scaleMax, "scale-max", 0, "Maximum number of replicas.")
	fs.IntVar(&f.scaleTarget, "scale-target", 0, "Recommendation for what metric value the PodAutoscaler should attempt to maintain.")
	fs.IntVar(&f.concurrency, "concurrency-limit", 0, "Hard Limit of concurrent requests to be processed by a single replica.")
	fs.StringArrayVarP(&f.annotations, "annotation", "a", nil, `Annotations to set for both Service and Revision. name=value; you may provide this flag any number of times to set multiple annotations. To unset, specify the annotation name followed by a "-" (e.g., name-).`)
	fs.StringArrayVarP(&f.labels, "label", "l", nil, `Labels to set for both Service and Revision. name=value; you may provide this flag any number of times to set multiple labels. To unset, specify the label name followed by a "-" (e.g., name-).`)
	fs.StringVar(&f.revisionName, "revision-name", "", "The revision name to set. Must start with the service name and a dash as a prefix (added when missing). Empty revision name will result in the server generating a name for the revision.")
	fs.StringSliceVar(&f.traffic.tags, "tag", nil, "Set tag (format: --tag revisionRef=tagName) where revisionRef can be a revision or '@latest' string representing latest ready revision. This flag can be specified multiple times.")
	fs.StringSliceVar(&f.traffic.untags, "untag", nil, "Untag revision (format: --untag tagName). This flag can be specified multiple times.")
	fs.StringSliceVar(&f.traffic.traffic, "traffic", nil, "Set traffic distribution (format: --traffic revisionRef=percent) where revisionRef can be a revision or a tag or '@latest' string representing latest ready revision. This flag can be given multiple times with percent summing up to 100%.")
	fs.BoolVar(&f.wait, "wait", true, fmt.Sprintf("Wait for 'service %s' operation to be completed.", verb))
	fs.BoolVar(&f.noWait, "no-wait", false, fmt.Sprintf("Do not wait for 'service %s' operation to be completed.", verb))
	fs.IntVar(&f.waitTimeout, "wait-timeout", 600, "Seconds to wait before giving up on waiting for service to be ready.")
	outputFlag(fs, &f.output)
	if verb == "create" {
		fs.BoolVar(&f.force, "force", false, "Create service forcefully, replaces existing service if any.")
	}
}

func (f *serviceFlags) waiting() bool { return f.wait && !f.noWait }

// mutates says whether the flags change the revision template, so that the
// update creates a revision (kn gives the rest of a split to it).
func (f *serviceFlags) mutates() bool {
	for _, n := range []string{"image", "env", "port", "scale-min", "scale-max", "scale-target", "concurrency-limit", "annotation", "label", "revision-name"} {
		if f.flags.Changed(n) {
			return true
		}
	}
	return false
}

// apply changes svc by the flags; creating says whether svc is new. Every
// check that needs no server runs here, before anything is sent.
func (f *serviceFlags) apply(svc *api.Service, creating bool) error {
	tmpl := &svc.Spec.Template
	if len(tmpl.Spec.Containers) == 0 {
		tmpl.Spec.Containers = []corev1.Container{{}}
	}
	c := &tmpl.Spec.Containers[0]
	if f.image != "" {
		c.Image = f.image
	}
	if creating && c.Image == "" {
		return usageError{"'service create' requires the image name to run provided with the --image option"}
	}
	var err error
	if c.Env, err = setEnv(c.Env, f.env); err != nil {
		return err
	}
	if f.flags.Changed("port") {
		p, err := parsePort(f.port)
		if err != nil {
			return err
		}
		c.Ports = []corev1.ContainerPort{p}
	}
	scale := []struct {
		flag, key string
		v         int
	}{{"scale-min", api.MinScaleAnnotationKey, f.scaleMin}, {"scale-max", api.MaxScaleAnnotationKey, f.scaleMax}, {"scale-target", api.TargetAnnotationKey, f.scaleTarget}}
	for _, s := range scale {
		if !f.flags.Changed(s.flag) {
			continue
		}
		if s.v < 0 {
			return usageError{fmt.Sprintf("invalid --%s %d: want 0 or more", s.flag, s.v)}
		}
		if tmpl.Annotations == nil {
			tmpl.Annotations = map[string]string{}
		}
		tmpl.Annotations[s.key] = strconv.Itoa(s.v)
	}
	if f.flags.Changed("scale-min") && f.flags.Changed("scale-max") && f.scaleMax > 0 && f.scaleMin > f.scaleMax {
		return usageError{fmt.Sprintf("--scale-min %d is greater than --scale-max %d", f.scaleMin, f.scaleMax)}
	}
	if f.flags.Changed("concurrency-limit") {
		if f.concurrency < 0 {
			return usageError{fmt.Sprintf("invalid --concurrency-limit %d: want 0 (no limit) or more", f.concurrency)}
		}
		tmpl.Spec.ContainerConcurrency = new(int64(f.concurrency))
	}
	if svc.Annotations, err = setMap(svc.Annotations, "annotation", f.annotations); err != nil {
		return err
	}
	if tmpl.Annotations, err = setMap(tmpl.Annotations, "annotation", f.annotations); err != nil {
		return err
	}
	if svc.Labels, err = setMap(svc.Labels, "label", f.labels); err != nil {
		return err
	}
	if tmpl.Labels, err = setMap(tmpl.Labels, "label", f.labels); err != nil {
		return err
	}
	if f.revisionName != "" {
		name := f.revisionName
		if !strings.HasPrefix(name, svc.Name+"-") {
			name = svc.Name + "-" + name
		}
		tmpl.Name = name
	} else {
		// A name from an earlier --revision-name would clash with the new revision.
		tmpl.Name = ""
	}
	f.traffic.trafficSet = f.flags.Changed("traffic")
	if !f.traffic.empty() {
		ts, err := computeTraffic(svc.Name, svc.Spec.Traffic, f.traffic, f.mutates())
		if err != nil {
			return err
		}
		svc.Spec.Traffic = ts
	}
	return nil
}

func serviceCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "service", Aliases: []string{"ksvc", "services"}, Short: "Manage Knative services (kn service)"}
	cmd.AddCommand(serviceCreate(), serviceUpdate(), serviceDescribe(), serviceList(), serviceDelete())
	return cmd
}

func serviceCreate() *cobra.Command {
	var f serviceFlags
	cmd := &cobra.Command{
		Use:   "create NAME --image IMAGE",
		Short: "Create a service.",
		Example: `  gantry service create hello --image gantry/sample-app --env TARGET=World
  gantry service create --force hello --image gantry/sample-app --scale-min 1`,
		Args: exactlyOneName("service"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(f.output); err != nil {
				return err
			}
			name, ns := args[0], f.namespace
			svc := &api.Service{TypeMeta: metav1.TypeMeta{APIVersion: "serving.knative.dev/v1", Kind: "Service"},
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
			if err := f.apply(svc, true); err != nil {
				return err
			}
			c := f.client()
			exists, err := serviceExists(cmd.Context(), c, ns, name)
			if err != nil {
				return err
			}
			if exists && !f.force {
				return fmt.Errorf("cannot create service '%s' in namespace '%s' because the service already exists and no --force option was given", name, ns)
			}
			verb := "Creating"
			if exists {
				verb = "Replacing"
			}
			result, err := applyObject(cmd.Context(), c, svc)
			if err != nil {
				return err
			}
			return afterApply(cmd.Context(), c, svc, result, &f, verb, "created")
		},
	}
	f.add(cmd, "create")
	return cmd
}

func serviceUpdate() *cobra.Command {
	var f serviceFlags
	cmd := &cobra.Command{
		Use:   "update NAME",
		Short: "Update a service.",
		Example: `  gantry service update hello --env TARGET=Gantry
  gantry service update hello --traffic hello-00001=90 --traffic @latest=10 --tag hello-00001=stable
  gantry service update hello --untag stable --env TARGET-`,
		Args: exactlyOneName("service"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(f.output); err != nil {
				return err
			}
			c := f.client()
			// The resourceVersion read is sent back: a status write in
			// between is a conflict, and the update is made again on what
			// is now stored, as kn does.
			for attempt := 1; ; attempt++ {
				got, err := getService(cmd.Context(), c, f.namespace, args[0])
				if err != nil {
					return err
				}
				svc := cleanService(got)
				if err := f.apply(svc, false); err != nil {
					return err
				}
				result, err := applyObject(cmd.Context(), c, svc)
				if isConflict(err) && attempt < 5 {
					continue
				}
				if err != nil {
					return err
				}
				return afterApply(cmd.Context(), c, svc, result, &f, "Updating", "updated")
			}
		},
	}
	f.add(cmd, "update")
	return cmd
}

// cleanService keeps what a user writes: the API replaces the spec, and the
// resourceVersion makes a concurrent change a conflict instead of a loss.
func cleanService(s *api.Service) *api.Service {
	out := &api.Service{TypeMeta: metav1.TypeMeta{APIVersion: "serving.knative.dev/v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace, Labels: s.Labels, Annotations: s.Annotations,
			ResourceVersion: s.ResourceVersion},
		Spec: s.Spec}
	return out
}

func getService(ctx context.Context, c *client, ns, name string) (*api.Service, error) {
	var svc api.Service
	if err := c.do(ctx, http.MethodGet, "/api/v1/services/"+url.PathEscape(ns)+"/"+url.PathEscape(name), nil, &svc); err != nil {
		return nil, err
	}
	return &svc, nil
}

func serviceExists(ctx context.Context, c *client, ns, name string) (bool, error) {
	_, err := getService(ctx, c, ns, name)
	if err == nil {
		return true, nil
	}
	if isNotFound(err) {
		return false, nil
	}
	return false, err
}

// afterApply reports an applied service and, with --wait, follows it until
// it is ready.
func afterApply(ctx context.Context, c *client, svc *api.Service, result string, f *serviceFlags, verb, done string) error {
	out := os.Stdout
	if result == "unchanged" {
		fmt.Fprintf(out, "Service '%s' in namespace '%s' unchanged.\n", svc.Name, svc.Namespace)
	}
	got, err := getService(ctx, c, svc.Namespace, svc.Name)
	if err != nil {
		return err
	}
	if f.waiting() {
		fmt.Fprintf(out, "%s service '%s' in namespace '%s':\n\n", verb, svc.Name, svc.Namespace)
		wctx, cancel := context.WithTimeout(ctx, time.Duration(f.waitTimeout)*time.Second)
		defer cancel()
		if got, err = waitServiceReady(wctx, c, out, svc.Namespace, svc.Name, got.Generation); err != nil {
			return err
		}
		fmt.Fprintln(out)
		if f.output != "" {
			return printServiceAs(got, f.output)
		}
		fmt.Fprintf(out, "Service '%s' %s to latest revision '%s' is available at URL:\n%s\n", svc.Name, done, got.Status.LatestReadyRevisionName, got.Status.URL)
		return nil
	}
	if f.output != "" {
		return printServiceAs(got, f.output)
	}
	fmt.Fprintf(out, "Service '%s' %s in namespace '%s'.\n", svc.Name, done, svc.Namespace)
	return nil
}

func printServiceAs(s *api.Service, format string) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return printObjects(os.Stdout, api.KindService, []json.RawMessage{b}, format, true, false)
}

// waitWindow is how long a Ready=False must last to count as a failure, as
// kn's --wait-window: a revision may report a transient failure.
const waitWindow = 2 * time.Second

// waitServiceReady follows the service's watch until it is Ready for
// generation gen, printing each new condition message with the time since
// the start, as kn does. A failure names the revision's reason.
func waitServiceReady(ctx context.Context, c *client, w io.Writer, ns, name string, gen int64) (*api.Service, error) {
	start := time.Now()
	wt := c.watch(ctx, "services", ns)
	defer wt.stop()
	printed := map[string]bool{}
	var failing *time.Timer
	defer func() {
		if failing != nil {
			failing.Stop()
		}
	}()
	var failed <-chan time.Time
	var last *api.Service
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("timeout: service '%s' not ready after %s", name, time.Since(start).Round(time.Second))
		case <-failed:
			return nil, serviceFailure(ctx, c, last)
		case ev, ok := <-wt.events:
			if !ok {
				if err := wt.stop(); err != nil {
					return nil, err
				}
				return nil, ctx.Err()
			}
			var s api.Service
			if err := json.Unmarshal(ev.Object, &s); err != nil {
				return nil, fmt.Errorf("decode service: %w", err)
			}
			if s.Name != name {
				continue
			}
			if ev.Type == "DELETED" {
				return nil, fmt.Errorf("service '%s' was deleted while waiting", name)
			}
			if s.Status.ObservedGeneration < gen {
				continue
			}
			last = &s
			for _, t := range []api.ConditionType{"ConfigurationsReady", "RoutesReady", api.ConditionReady} {
				if cond := reconcile.GetCondition(s.Status.Conditions, t); cond != nil && cond.Message != "" && !printed[cond.Message] {
					printed[cond.Message] = true
					fmt.Fprintf(w, "%8.3fs %s\n", time.Since(start).Seconds(), cond.Message)
				}
			}
			ready := reconcile.GetCondition(s.Status.Conditions, api.ConditionReady)
			switch {
			case ready != nil && ready.Status == corev1.ConditionTrue:
				fmt.Fprintf(w, "%8.3fs Ready to serve.\n", time.Since(start).Seconds())
				return &s, nil
			case ready != nil && ready.Status == corev1.ConditionFalse:
				if failing == nil {
					failing = time.NewTimer(waitWindow)
					failed = failing.C
				}
			default:
				if failing != nil {
					failing.Stop()
					failing, failed = nil, nil
				}
			}
		}
	}
}

// serviceFailure says why a service is not ready, from its latest created
// revision when that one failed.
func serviceFailure(ctx context.Context, c *client, s *api.Service) error {
	ready := reconcile.GetCondition(s.Status.Conditions, api.ConditionReady)
	msg := ready.Reason
	if ready.Message != "" {
		msg += ": " + ready.Message
	}
	if rev := s.Status.LatestCreatedRevisionName; rev != "" {
		var r api.Revision
		if err := c.do(ctx, http.MethodGet, "/api/v1/revisions/"+url.PathEscape(s.Namespace)+"/"+url.PathEscape(rev), nil, &r); err == nil {
			if rc := reconcile.GetCondition(r.Status.Conditions, api.ConditionReady); rc != nil && rc.Status == corev1.ConditionFalse {
				msg = fmt.Sprintf("revision '%s' failed: %s", rev, rc.Reason)
				if rc.Message != "" {
					msg += ": " + rc.Message
				}
			}
		}
	}
	return fmt.Errorf("service '%s' not ready: %s", s.Name, msg)
}

func serviceDescribe() *cobra.Command {
	var f clientFlags
	var output string
	var watch bool
	cmd := &cobra.Command{
		Use:   "describe NAME",
		Short: "Show details of a service.",
		Args:  exactlyOneName("service"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			c := f.client()
			svc, err := getService(cmd.Context(), c, f.namespace, args[0])
			if err != nil {
				return err
			}
			show := func(s *api.Service) error {
				if output != "" {
					return printServiceAs(s, output)
				}
				return describeService(cmd.Context(), c, os.Stdout, s)
			}
			if err := show(svc); err != nil || !watch {
				return err
			}
			return watchObject(cmd.Context(), c, "services", f.namespace, args[0], func(raw json.RawMessage) error {
				var s api.Service
				if err := json.Unmarshal(raw, &s); err != nil {
					return err
				}
				fmt.Println("---")
				return show(&s)
			})
		},
	}
	f.add(cmd.Flags())
	outputFlag(cmd.Flags(), &output)
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "After showing the service, show it again on every change (streamed from the API).")
	return cmd
}

func describeService(ctx context.Context, c *client, w io.Writer, s *api.Service) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	now := time.Now()
	fmt.Fprintf(tw, "Name:\t%s\nNamespace:\t%s\n", s.Name, s.Namespace)
	if len(s.Labels) > 0 {
		fmt.Fprintf(tw, "Labels:\t%s\n", joinMap(s.Labels))
	}
	if len(s.Annotations) > 0 {
		fmt.Fprintf(tw, "Annotations:\t%s\n", joinMap(s.Annotations))
	}
	fmt.Fprintf(tw, "Age:\t%s\nURL:\t%s\n", humanAge(now, s.CreationTimestamp.Time), dash(s.Status.URL))
	tw.Flush()
	var revs struct {
		Items []api.Revision `json:"items"`
	}
	q := url.Values{"namespace": {s.Namespace}, "labelSelector": {api.LabelService + "=" + s.Name}}
	if err := c.do(ctx, http.MethodGet, "/api/v1/revisions?"+q.Encode(), nil, &revs); err != nil {
		return err
	}
	byName := map[string]api.Revision{}
	for _, r := range revs.Items {
		byName[r.Name] = r
	}
	fmt.Fprintln(w, "\nRevisions:")
	for _, t := range s.Status.Traffic {
		pct := int64(0)
		if t.Percent != nil {
			pct = *t.Percent
		}
		name := t.RevisionName
		if t.LatestRevision != nil && *t.LatestRevision {
			name = "@latest (" + t.RevisionName + ")"
		}
		line := fmt.Sprintf("  %3d%%  %s", pct, name)
		if t.Tag != "" {
			line += " #" + t.Tag
		}
		r, ok := byName[t.RevisionName]
		if ok {
			line += fmt.Sprintf(" [%s] (%s)", dash(r.Labels[api.LabelConfigurationGen]), humanAge(now, r.CreationTimestamp.Time))
		}
		fmt.Fprintln(w, line)
		if ok && len(r.Spec.Containers) > 0 {
			fmt.Fprintf(w, "        Image:     %s\n", r.Spec.Containers[0].Image)
			fmt.Fprintf(w, "        Replicas:  %s/%s\n", replicas(r.Status.ActualReplicas), replicas(r.Status.DesiredReplicas))
		}
		if t.URL != "" && t.Tag != "" {
			fmt.Fprintf(w, "        URL:       %s\n", t.URL)
		}
	}
	fmt.Fprintln(w)
	printConditions(w, s.Status.Conditions, now)
	return nil
}

func serviceList() *cobra.Command {
	var f clientFlags
	var output string
	var all bool
	cmd := &cobra.Command{
		Use:     "list [NAME]",
		Aliases: []string{"ls"},
		Short:   "List services.",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return listKind(cmd.Context(), f, "services", args, output, all)
		},
	}
	f.add(cmd.Flags())
	outputFlag(cmd.Flags(), &output)
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "If present, list the requested object(s) across all namespaces. Namespace in current context is ignored even if specified with --namespace.")
	return cmd
}

func serviceDelete() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete services.",
		Args:  atLeastOneName("service"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return deleteNamed(cmd.Context(), f, "services", "Service", args)
		},
	}
	f.add(cmd.Flags())
	return cmd
}
