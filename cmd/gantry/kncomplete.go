package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// completeNames lets the shell complete NAME arguments of describe, update,
// delete and list with the names the API has (in --namespace, from --server).
// multi: the command takes several names.
func completeNames(resource string, multi bool) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 && !multi {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ns, _ := cmd.Flags().GetString("namespace")
		server, _ := cmd.Flags().GetString("server")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var list struct {
			Items []struct {
				Metadata struct{ Name string } `json:"metadata"`
			} `json:"items"`
		}
		if err := newClient(server).do(ctx, http.MethodGet, "/api/v1/"+resource+"?"+url.Values{"namespace": {ns}}.Encode(), nil, &list); err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		var out []string
		for _, it := range list.Items {
			if strings.HasPrefix(it.Metadata.Name, toComplete) && !contains(args, it.Metadata.Name) {
				out = append(out, it.Metadata.Name)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// addNameCompletion wires completeNames into the kn-style noun commands.
func addNameCompletion(noun *cobra.Command, resource string) *cobra.Command {
	for _, c := range noun.Commands() {
		switch c.Name() {
		case "describe", "update", "list":
			c.ValidArgsFunction = completeNames(resource, false)
		case "delete":
			c.ValidArgsFunction = completeNames(resource, true)
		}
	}
	return noun
}
