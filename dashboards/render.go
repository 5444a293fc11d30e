package dashboards

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// DefaultWindow is the range Render puts in place of $__rate_interval.
const DefaultWindow = "5m"

// Selector picks revisions by label value. An empty field selects all.
type Selector struct {
	Namespace string
	Service   string
	Revision  string
}

// RenderOptions are the concrete values Render puts in a query template.
// The zero value renders a query over all revisions with a 5m window.
type RenderOptions struct {
	Selector
	// Window replaces $__rate_interval; empty means DefaultWindow.
	Window string
	// Vars gives other dashboard variables by name ("cpu_price"); the cost
	// prices default to DefaultCPUPrice and DefaultMemoryPrice.
	Vars map[string]string
}

// Variables that select revisions; they may appear only as label-matcher values.
const (
	VarNamespace = "namespace"
	VarService   = "service"
	VarRevision  = "revision"
	VarCPUPrice  = "cpu_price"
	VarMemPrice  = "memory_price"
	varInterval  = "__rate_interval"
)

const sentinelPrefix = "__gantry_var_"

// varRE matches $name and ${name}; "$1" in label_replace is not a variable.
var varRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

var promql = parser.NewParser(parser.Options{})

// Render returns the query as plain PromQL: label matchers on $namespace,
// $service and $revision get the selector's values (as exact matches) or are
// dropped when the value is empty, $__rate_interval becomes the window.
func (q Query) Render(opts RenderOptions) (string, error) {
	e, err := q.render(opts)
	if err != nil {
		return "", err
	}
	return e.String(), nil
}

// render parses the template with the variables substituted and returns the AST.
func (q Query) render(opts RenderOptions) (parser.Expr, error) {
	window := opts.Window
	if window == "" {
		window = DefaultWindow
	}
	d, err := model.ParseDuration(window)
	if err != nil {
		return nil, fmt.Errorf("query %s: window: %w", q.ID, err)
	}
	if q.MinWindow != "" {
		if least, err := model.ParseDuration(q.MinWindow); err == nil && least > d {
			window = q.MinWindow
		}
	}
	vals := map[string]string{VarCPUPrice: DefaultCPUPrice, VarMemPrice: DefaultMemoryPrice}
	for k, v := range opts.Vars {
		vals[k] = v
	}
	sel := map[string]string{VarNamespace: opts.Namespace, VarService: opts.Service, VarRevision: opts.Revision}

	var unknown []string
	text := varRE.ReplaceAllStringFunc(q.Expr, func(m string) string {
		name := strings.Trim(m, "${}")
		switch name {
		case VarNamespace, VarService, VarRevision:
			return sentinelPrefix + name + "__"
		case varInterval:
			return window
		}
		if v, ok := vals[name]; ok {
			return v
		}
		unknown = append(unknown, m)
		return m
	})
	if len(unknown) > 0 {
		return nil, fmt.Errorf("query %s: unknown variables %s", q.ID, strings.Join(unknown, ", "))
	}
	expr, err := promql.ParseExpr(text)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", q.ID, err)
	}
	var rerr error
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok || rerr != nil {
			return nil
		}
		ms := vs.LabelMatchers[:0:0]
		for _, m := range vs.LabelMatchers {
			m, keep, err := bindMatcher(m, sel)
			if err != nil {
				rerr = fmt.Errorf("query %s: %w", q.ID, err)
				return nil
			}
			if keep {
				ms = append(ms, m)
			}
		}
		vs.LabelMatchers = ms
		return nil
	})
	if rerr != nil {
		return nil, rerr
	}
	if s := expr.String(); strings.Contains(s, sentinelPrefix) {
		return nil, fmt.Errorf("query %s: $namespace, $service and $revision may only be label-matcher values: %s", q.ID, s)
	}
	return expr, nil
}

// bindMatcher puts the selector's values in a matcher that uses a variable.
// A regexp matcher on just the variable becomes an equality matcher on the
// value, or is dropped (keep is false) when the value is empty; inside a
// larger regexp the value is quoted.
func bindMatcher(m *labels.Matcher, sel map[string]string) (_ *labels.Matcher, keep bool, _ error) {
	if !strings.Contains(m.Value, sentinelPrefix) {
		return m, true, nil
	}
	value, typ := m.Value, m.Type
	regex := typ == labels.MatchRegexp || typ == labels.MatchNotRegexp
	for name, v := range sel {
		s := sentinelPrefix + name + "__"
		if !strings.Contains(value, s) {
			continue
		}
		if v == "" {
			if value != s || typ != labels.MatchRegexp {
				return nil, false, fmt.Errorf("label %s: only %s=~\"$%s\" can select all", m.Name, m.Name, name)
			}
			return nil, false, nil
		}
		switch {
		case regex && value == s:
			// The whole regexp is the variable: match the value exactly.
			typ = map[labels.MatchType]labels.MatchType{labels.MatchRegexp: labels.MatchEqual, labels.MatchNotRegexp: labels.MatchNotEqual}[typ]
		case regex:
			v = regexp.QuoteMeta(v)
		}
		value = strings.ReplaceAll(value, s, v)
	}
	nm, err := labels.NewMatcher(typ, m.Name, value)
	if err != nil {
		return nil, false, fmt.Errorf("label %s: %w", m.Name, err)
	}
	return nm, true, nil
}
