package dashboards

import (
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
)

// grafanaValues are what Grafana puts in place of the variables: the
// selection variables are multi-value regexps, "All" is ".*", and regexp
// characters in values come escaped for a PromQL string ("a\\.b").
var grafanaValues = []map[string]string{
	{VarNamespace: ".*", VarService: ".*", VarRevision: ".*", varInterval: "1m0s"},
	{VarNamespace: "default", VarService: "hello", VarRevision: "(hello-00001|hello-00002)", varInterval: "2m"},
	{VarNamespace: "(default|prod)", VarService: `(a\\.b|c)`, VarRevision: "hello-00001", varInterval: "15s"},
}

// interpolate substitutes the variables of a query template like Grafana does.
func interpolate(t *testing.T, expr string, values map[string]string) string {
	t.Helper()
	return varRE.ReplaceAllStringFunc(expr, func(m string) string {
		name := strings.Trim(m, "${}")
		switch name {
		case VarCPUPrice:
			return DefaultCPUPrice
		case VarMemPrice:
			return DefaultMemoryPrice
		}
		v, ok := values[name]
		if !ok {
			t.Errorf("expr %q: unknown variable %s", expr, m)
		}
		return v
	})
}

func TestQueriesParseAsGrafanaSendsThem(t *testing.T) {
	for _, q := range Queries() {
		for _, vals := range grafanaValues {
			text := interpolate(t, q.Expr, vals)
			if _, err := promql.ParseExpr(text); err != nil {
				t.Errorf("query %s: %v\n%s", q.ID, err, text)
			}
		}
	}
}

func TestQueriesRenderAndParse(t *testing.T) {
	for _, q := range Queries() {
		for _, sel := range []Selector{{}, {Namespace: "default"}, {Namespace: "default", Service: "hello", Revision: "hello-00001"}} {
			for _, w := range []string{"", "30s", "3d"} {
				text, err := q.Render(RenderOptions{Selector: sel, Window: w})
				if err != nil {
					t.Errorf("query %s: %v", q.ID, err)
					continue
				}
				if strings.Contains(text, "$") && !strings.Contains(text, `"$1"`) {
					t.Errorf("query %s: a variable is left: %s", q.ID, text)
				}
				if _, err := promql.ParseExpr(text); err != nil {
					t.Errorf("query %s: rendered %q does not parse: %v", q.ID, text, err)
				}
			}
		}
	}
}

var knownMetrics = regexp.MustCompile(`^(revision_(request_count|app_request_count|request_latencies_(bucket|sum|count)|app_request_latencies_(sum|count)|queue_depth)` +
	`|autoscaler_(desired|actual|requested)_pods|autoscaler_(stable|panic)_request_concurrency|autoscaler_target_concurrency_per_pod` +
	`|autoscaler_excess_burst_capacity|autoscaler_panic_mode|activator_cold_start_seconds_(bucket|count)` +
	`|container_cpu_usage_seconds_total|container_memory_working_set_bytes` +
	`|gantry_reconcile_total|gantry_reconcile_duration_seconds_bucket|gantry_scrape_duration_seconds_bucket` +
	`|gantry_gateway_requests_total|gantry_gateway_routing_errors_total)$`)

// TestQueriesUseTheMetricContract checks metric and label names against
// ARCHITECTURE.md, so that a typo cannot hide behind an empty panel.
func TestQueriesUseTheMetricContract(t *testing.T) {
	labelsOf := map[string][]string{
		"revision_":   {"namespace_name", "service_name", "configuration_name", "revision_name", "pod_name", "container_name", "response_code", "response_code_class", "route_tag", "le"},
		"autoscaler_": {"namespace_name", "service_name", "configuration_name", "revision_name"},
		"activator_":  {"namespace_name", "revision_name", "le"},
		"container_":  {"namespace", "pod", "container"},
		"gantry_rec":  {"kind", "result", "le"},
		"gantry_scr":  {"le"},
		"gantry_gat":  {"code_class", "reason"},
	}
	for _, q := range Queries() {
		e, err := q.render(RenderOptions{Selector: Selector{Namespace: "n", Service: "s", Revision: "r"}})
		if err != nil {
			t.Fatal(err)
		}
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			vs, ok := n.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			if !knownMetrics.MatchString(vs.Name) {
				t.Errorf("query %s: metric %s is not in the contract", q.ID, vs.Name)
				return nil
			}
			var allowed []string
			for prefix, ls := range labelsOf {
				if strings.HasPrefix(vs.Name, prefix) {
					allowed = ls
				}
			}
			for _, m := range vs.LabelMatchers {
				if m.Name == "__name__" {
					continue
				}
				found := false
				for _, l := range allowed {
					found = found || l == m.Name
				}
				if !found {
					t.Errorf("query %s: metric %s has no label %s", q.ID, vs.Name, m.Name)
				}
			}
			return nil
		})
	}
}

func TestQueriesAreComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, q := range Queries() {
		if seen[q.ID] {
			t.Errorf("duplicate query ID %s", q.ID)
		}
		seen[q.ID] = true
		if !regexp.MustCompile(`^[a-z0-9_]+$`).MatchString(q.ID) {
			t.Errorf("query ID %q is not snake_case", q.ID)
		}
		if q.Title == "" || q.Legend == "" || q.Unit == "" || q.Description == "" || q.Expr == "" {
			t.Errorf("query %s: empty field in %+v", q.ID, q)
		}
		got, ok := QueryByID(q.ID)
		if !ok || got.Expr != q.Expr {
			t.Errorf("QueryByID(%s) = %v, %v", q.ID, got.ID, ok)
		}
	}
}

func TestRender(t *testing.T) {
	for _, tc := range []struct {
		name string
		q    Query
		opts RenderOptions
		want string
	}{{
		name: "all revisions",
		q:    RequestVolumeByRevision,
		want: `sum by (namespace_name, service_name, revision_name) (rate(revision_request_count[5m]))`,
	}, {
		name: "one revision",
		q:    ServerErrorRate,
		opts: RenderOptions{Selector: Selector{Namespace: "default", Service: "hello", Revision: "hello-00001"}, Window: "1m"},
		want: `sum(rate(revision_request_count{namespace_name="default",response_code_class="5xx",revision_name="hello-00001",service_name="hello"}[1m])) or vector(0)`,
	}, {
		name: "values are literal, not regexps",
		q:    PanicMode,
		opts: RenderOptions{Selector: Selector{Revision: "a.b|c"}},
		want: `max by (namespace_name, service_name, revision_name) (autoscaler_panic_mode{revision_name="a.b|c"})`,
	}, {
		name: "prices",
		q:    Query{ID: "t", Expr: `sum(rate(container_cpu_usage_seconds_total{namespace=~"$namespace"}[$__rate_interval])) * $cpu_price + ${memory_price}`},
		opts: RenderOptions{Selector: Selector{Namespace: "prod"}, Vars: map[string]string{VarCPUPrice: "2"}},
		want: `sum(rate(container_cpu_usage_seconds_total{namespace="prod"}[5m])) * 2 + 0.0000025`,
	}, {
		name: "a variable inside a larger regexp is quoted",
		q:    Query{ID: "t", Expr: `container_memory_working_set_bytes{pod=~"$revision-deployment-.*"}`},
		opts: RenderOptions{Selector: Selector{Revision: "hello.v1"}},
		want: `container_memory_working_set_bytes{pod=~"hello\\.v1-deployment-.*"}`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.q.Render(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Render() =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	for _, tc := range []struct {
		name, expr string
		opts       RenderOptions
		want       string
	}{
		{"unknown variable", `up * $nope`, RenderOptions{}, "unknown variables $nope"},
		{"bad window", `rate(up[$__rate_interval])`, RenderOptions{Window: "five"}, "window"},
		{"variable outside a matcher", `label_replace(up, "x", "$revision", "", "")`, RenderOptions{}, "only be label-matcher values"},
		{"cannot select all", `up{pod=~"$revision-.*"}`, RenderOptions{}, "can select all"},
		{"syntax", `sum(up`, RenderOptions{}, "query t"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Query{ID: "t", Expr: tc.expr}.Render(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Render(%q) error = %v, want one containing %q", tc.expr, err, tc.want)
			}
		})
	}
}
