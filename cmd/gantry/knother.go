package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func listFlags(cmd *cobra.Command, f *clientFlags, output *string, all *bool) {
	f.add(cmd.Flags())
	outputFlag(cmd.Flags(), output)
	cmd.Flags().BoolVarP(all, "all-namespaces", "A", false, "If present, list the requested object(s) across all namespaces. Namespace in current context is ignored even if specified with --namespace.")
}

func revisionCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "revision", Aliases: []string{"revisions"}, Short: "Manage service revisions (kn revision)"}

	var lf clientFlags
	var lout, service string
	var lall bool
	list := &cobra.Command{
		Use: "list [NAME]", Aliases: []string{"ls"}, Short: "List revisions.", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if service == "" {
				return listKind(cmd.Context(), lf, "revisions", args, lout, lall)
			}
			// --service: only that service's revisions.
			if err := checkOutput(lout); err != nil {
				return err
			}
			q := url.Values{"labelSelector": {api.LabelService + "=" + service}}
			if !lall {
				q.Set("namespace", lf.namespace)
			}
			var resp struct {
				Items []json.RawMessage `json:"items"`
			}
			if err := lf.client().do(cmd.Context(), http.MethodGet, "/api/v1/revisions?"+q.Encode(), nil, &resp); err != nil {
				return err
			}
			if lout == "" {
				return printKnRevisions(cmd.Context(), lf.client(), os.Stdout, resp.Items, lf.namespace, lall)
			}
			return printObjects(os.Stdout, api.KindRevision, resp.Items, lout, false, lall)
		},
	}
	listFlags(list, &lf, &lout, &lall)
	list.Flags().StringVarP(&service, "service", "s", "", "Service name")

	var df clientFlags
	var dout string
	describe := &cobra.Command{
		Use: "describe NAME", Short: "Show details of a revision.", Args: exactlyOneName("revision"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(dout); err != nil {
				return err
			}
			var raw json.RawMessage
			if err := df.client().do(cmd.Context(), http.MethodGet, "/api/v1/revisions/"+url.PathEscape(df.namespace)+"/"+url.PathEscape(args[0]), nil, &raw); err != nil {
				return err
			}
			if dout != "" {
				return printObjects(os.Stdout, api.KindRevision, []json.RawMessage{raw}, dout, true, false)
			}
			var r api.Revision
			if err := json.Unmarshal(raw, &r); err != nil {
				return fmt.Errorf("decode revision: %w", err)
			}
			now := time.Now()
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "Name:\t%s\nNamespace:\t%s\nAge:\t%s\n", r.Name, r.Namespace, humanAge(now, r.CreationTimestamp.Time))
			if len(r.Spec.Containers) > 0 {
				c := r.Spec.Containers[0]
				fmt.Fprintf(tw, "Image:\t%s\n", c.Image)
				if len(c.Ports) > 0 {
					fmt.Fprintf(tw, "Port:\t%d\n", c.Ports[0].ContainerPort)
				}
				for i, e := range c.Env {
					label := ""
					if i == 0 {
						label = "Env:"
					}
					fmt.Fprintf(tw, "%s\t%s=%s\n", label, e.Name, e.Value)
				}
			}
			if cc := r.Spec.ContainerConcurrency; cc != nil {
				fmt.Fprintf(tw, "Concurrency:\t%d\n", *cc)
			}
			for _, k := range []string{api.MinScaleAnnotationKey, api.MaxScaleAnnotationKey, api.TargetAnnotationKey} {
				if v, ok := r.Annotations[k]; ok {
					fmt.Fprintf(tw, "%s:\t%s\n", strings.TrimPrefix(k, "autoscaling.knative.dev/"), v)
				}
			}
			fmt.Fprintf(tw, "Service:\t%s\nReplicas:\t%s/%s\n", dash(r.Labels[api.LabelService]), replicas(r.Status.ActualReplicas), replicas(r.Status.DesiredReplicas))
			tw.Flush()
			fmt.Println()
			printConditions(os.Stdout, r.Status.Conditions, now)
			return nil
		},
	}
	df.add(describe.Flags())
	outputFlag(describe.Flags(), &dout)

	var xf clientFlags
	del := &cobra.Command{
		Use: "delete NAME...", Short: "Delete revisions.", Args: atLeastOneName("revision"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return deleteNamed(cmd.Context(), xf, "revisions", "Revision", args)
		},
	}
	xf.add(del.Flags())
	cmd.AddCommand(list, describe, del)
	return cmd
}

func routeCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "route", Aliases: []string{"routes"}, Short: "List and describe service routes (kn route)"}
	var lf clientFlags
	var lout string
	var lall bool
	list := &cobra.Command{
		Use: "list [NAME]", Aliases: []string{"ls"}, Short: "List routes.", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return listKind(cmd.Context(), lf, "routes", args, lout, lall)
		},
	}
	listFlags(list, &lf, &lout, &lall)
	var df clientFlags
	var dout string
	describe := &cobra.Command{
		Use: "describe NAME", Short: "Show details of a route.", Args: exactlyOneName("route"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dout != "" {
				return listKind(cmd.Context(), df, "routes", args, dout, false)
			}
			var raw json.RawMessage
			c := df.client()
			if err := c.do(cmd.Context(), http.MethodGet, "/api/v1/routes/"+url.PathEscape(df.namespace)+"/"+url.PathEscape(args[0]), nil, &raw); err != nil {
				return err
			}
			var r api.Route
			if err := json.Unmarshal(raw, &r); err != nil {
				return fmt.Errorf("decode route: %w", err)
			}
			now := time.Now()
			fmt.Printf("Name:       %s\nNamespace:  %s\nAge:        %s\nURL:        %s\nService:    %s\n\nTraffic Targets:\n",
				r.Name, r.Namespace, humanAge(now, r.CreationTimestamp.Time), dash(r.Status.URL), dash(r.Labels[api.LabelService]))
			if err := printRoutes(cmd.Context(), c, os.Stdout, []json.RawMessage{raw}, false); err != nil {
				return err
			}
			fmt.Println()
			printConditions(os.Stdout, r.Status.Conditions, now)
			return nil
		},
	}
	df.add(describe.Flags())
	outputFlag(describe.Flags(), &dout)
	cmd.AddCommand(list, describe)
	return cmd
}

func domainCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "domain", Aliases: []string{"domains"}, Short: "Manage domain mappings (kn domain)"}
	var cf clientFlags
	var ref, tls string
	create := &cobra.Command{
		Use: "create NAME --ref SERVICE", Short: "Create a domain mapping.",
		Example: "  gantry domain create hello.example.com --ref hello\n  gantry domain create hello.example.com --ref ksvc:hello:default --tls my-cert",
		Args:    exactlyOneName("domain"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ref == "" {
				return usageError{"'domain create' requires the --ref flag naming the service"}
			}
			target, err := parseRef(ref, cf.namespace)
			if err != nil {
				return err
			}
			dm := &api.DomainMapping{TypeMeta: metav1.TypeMeta{APIVersion: "serving.knative.dev/v1beta1", Kind: "DomainMapping"},
				ObjectMeta: metav1.ObjectMeta{Name: args[0], Namespace: cf.namespace}, Spec: api.DomainMappingSpec{Ref: target}}
			if tls != "" {
				dm.Spec.TLS = &api.SecretTLS{SecretName: tls}
			}
			c := cf.client()
			var existing json.RawMessage
			switch err := c.do(cmd.Context(), http.MethodGet, "/api/v1/domainmappings/"+url.PathEscape(cf.namespace)+"/"+url.PathEscape(args[0]), nil, &existing); {
			case err == nil:
				return fmt.Errorf("cannot create domain mapping '%s' in namespace '%s' because it already exists", args[0], cf.namespace)
			case !isNotFound(err):
				return err
			}
			if _, err := applyObject(cmd.Context(), c, dm); err != nil {
				return err
			}
			fmt.Printf("Domain mapping '%s' created in namespace '%s'.\n", args[0], cf.namespace)
			return nil
		},
	}
	cf.add(create.Flags())
	create.Flags().StringVar(&ref, "ref", "", "Addressable target reference for Domain Mapping. You can specify a Knative service by name (hello), as ksvc:NAME or as ksvc:NAME:NAMESPACE.")
	create.Flags().StringVar(&tls, "tls", "", "Enable TLS and point to the secret that holds the server certificate.")

	var lf clientFlags
	var lout string
	var lall bool
	list := &cobra.Command{
		Use: "list [NAME]", Aliases: []string{"ls"}, Short: "List domain mappings.", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return listKind(cmd.Context(), lf, "domainmappings", args, lout, lall)
		},
	}
	listFlags(list, &lf, &lout, &lall)

	var xf clientFlags
	del := &cobra.Command{
		Use: "delete NAME...", Short: "Delete domain mappings.", Args: atLeastOneName("domain"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return deleteNamed(cmd.Context(), xf, "domainmappings", "Domain mapping", args)
		},
	}
	xf.add(del.Flags())
	cmd.AddCommand(create, list, del)
	return cmd
}

// parseRef reads --ref NAME, ksvc:NAME or ksvc:NAME:NAMESPACE.
func parseRef(s, ns string) (api.KReference, error) {
	parts := strings.Split(s, ":")
	bad := usageError{fmt.Sprintf("invalid --ref %q: want NAME, ksvc:NAME or ksvc:NAME:NAMESPACE", s)}
	switch {
	case len(parts) == 1 && parts[0] != "":
		return api.KReference{Kind: "Service", APIVersion: "serving.knative.dev/v1", Name: parts[0], Namespace: ns}, nil
	case len(parts) >= 2 && len(parts) <= 3 && parts[1] != "" && (parts[0] == "ksvc" || parts[0] == "service"):
		if len(parts) == 3 && parts[2] != "" {
			ns = parts[2]
		}
		return api.KReference{Kind: "Service", APIVersion: "serving.knative.dev/v1", Name: parts[1], Namespace: ns}, nil
	}
	return api.KReference{}, bad
}
