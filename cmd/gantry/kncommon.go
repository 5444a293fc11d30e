package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
)

// clientFlags are the flags every kn-style verb takes.
type clientFlags struct {
	namespace string
	server    string
}

func (f *clientFlags) add(fs *pflag.FlagSet) {
	fs.StringVarP(&f.namespace, "namespace", "n", "default", "Specify the namespace to operate in.")
	fs.StringVar(&f.server, "server", defaultServer(), "Address of the API of gantry up ($GANTRY_SERVER when set).")
}

func (f *clientFlags) client() *client { return newClient(f.server) }

// outputFlag checks -o: empty (the table or text), yaml or json.
func outputFlag(fs *pflag.FlagSet, p *string) {
	fs.StringVarP(p, "output", "o", "", "Output format: yaml or json.")
}

func checkOutput(o string) error {
	if o != "" && o != "yaml" && o != "json" {
		return usageError{fmt.Sprintf("invalid --output %q: want yaml or json", o)}
	}
	return nil
}

// exactlyOneName is cobra's argument check with kn's wording.
func exactlyOneName(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageError{fmt.Sprintf("'%s' requires the %s name given as single argument", cmd.CommandPath()[len("gantry "):], what)}
		}
		return nil
	}
}

func atLeastOneName(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return usageError{fmt.Sprintf("'%s' requires the %s name", cmd.CommandPath()[len("gantry "):], what)}
		}
		return nil
	}
}

// applyObject sends one object through the same path as `gantry apply`.
func applyObject(ctx context.Context, c *client, o any) (string, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return "", err
	}
	var res struct {
		Results []struct{ Result string } `json:"results"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/v1/apply", bytes.NewReader(b), &res); err != nil {
		return "", err
	}
	if len(res.Results) == 0 {
		return "", errors.New("the API applied nothing")
	}
	return res.Results[0].Result, nil
}

// watchObject calls show for every change of one object until ctx ends.
func watchObject(ctx context.Context, c *client, resource, ns, name string, show func(json.RawMessage) error) error {
	wt := c.watch(ctx, resource, ns)
	defer wt.stop()
	first := true
	for ev := range wt.events {
		var m struct {
			Metadata struct{ Name string } `json:"metadata"`
		}
		if json.Unmarshal(ev.Object, &m) != nil || m.Metadata.Name != name {
			continue
		}
		if first && ev.Type == "ADDED" {
			first = false
			continue // already shown
		}
		first = false
		if ev.Type == "DELETED" {
			fmt.Printf("%s '%s' deleted.\n", strings.TrimSuffix(resource, "s"), name)
			continue
		}
		if err := show(ev.Object); err != nil {
			return err
		}
	}
	return wt.stop()
}

// printConditions shows conditions as kn describe does: OK is ++ (True),
// !! (False) or ?? (Unknown).
func printConditions(w io.Writer, conds []api.Condition, now time.Time) {
	fmt.Fprintln(w, "Conditions:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  OK\tTYPE\tAGE\tREASON")
	for _, c := range conds {
		ok := "??"
		switch c.Status {
		case corev1.ConditionTrue:
			ok = "++"
		case corev1.ConditionFalse:
			ok = "!!"
		}
		reason := c.Reason
		if c.Status == corev1.ConditionFalse && c.Message != "" {
			reason += " " + c.Message
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", ok, c.Type, humanAge(now, c.LastTransitionTime.Time), reason)
	}
	tw.Flush()
}

func joinMap(m map[string]string) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// listKind lists a resource as `gantry get` does (one name: that one).
func listKind(ctx context.Context, f clientFlags, resource string, args []string, output string, all bool) error {
	if err := checkOutput(output); err != nil {
		return err
	}
	kind, _ := api.KindForResource(resource)
	c := f.client()
	var items []json.RawMessage
	if len(args) == 1 {
		var one json.RawMessage
		if err := c.do(ctx, http.MethodGet, "/api/v1/"+resource+"/"+url.PathEscape(f.namespace)+"/"+url.PathEscape(args[0]), nil, &one); err != nil {
			return err
		}
		items = append(items, one)
	} else {
		q := url.Values{}
		if !all {
			q.Set("namespace", f.namespace)
		}
		var list struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := c.do(ctx, http.MethodGet, "/api/v1/"+resource+"?"+q.Encode(), nil, &list); err != nil {
			return err
		}
		items = list.Items
	}
	if output == "" {
		switch kind {
		case api.KindService:
			return printKnServices(os.Stdout, items, all)
		case api.KindRevision:
			return printKnRevisions(ctx, c, os.Stdout, items, f.namespace, all)
		case api.KindRoute:
			return printRoutes(ctx, c, os.Stdout, items, all)
		}
		output = "table"
	}
	return printObjects(os.Stdout, kind, items, output, len(args) == 1 && output != "table", all)
}

// deleteNamed deletes each name, saying so as kn does; it stops at the first
// failure.
func deleteNamed(ctx context.Context, f clientFlags, resource, kind string, names []string) error {
	c := f.client()
	for _, n := range names {
		if err := c.do(ctx, http.MethodDelete, "/api/v1/"+resource+"/"+url.PathEscape(f.namespace)+"/"+url.PathEscape(n), nil, nil); err != nil {
			return err
		}
		fmt.Printf("%s '%s' successfully deleted in namespace '%s'.\n", kind, n, f.namespace)
	}
	return nil
}
