package dashboards

import (
	"bytes"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

func writeRules(t *testing.T, opts RuleOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteRules(&buf, opts); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestRulesParse reads the rules back with Prometheus's own rule-file parser,
// which also checks every expression and template.
func TestRulesParse(t *testing.T) {
	for _, opts := range []RuleOptions{{}, {Objective: 0.99, ErrorRatioThreshold: 0.2, For: -1, MinRequestRate: 5}} {
		groups, errs := rulefmt.Parse(writeRules(t, opts), false, model.UTF8Validation, promql, slog.New(slog.DiscardHandler))
		if len(errs) > 0 {
			t.Fatalf("%+v: %v", opts, errs)
		}
		var records, alerts int
		for _, g := range groups.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					records++
				} else {
					alerts++
				}
			}
		}
		if records != 2*len(SLIWindows) || alerts != 3 {
			t.Errorf("%+v: %d recording rules and %d alerts, want %d and 3", opts, records, alerts, 2*len(SLIWindows))
		}
	}
}

// TestRulesReuseQueries: the recorded SLI is the dashboards' query.
func TestRulesReuseQueries(t *testing.T) {
	f, err := rules(mustDefaults(t, RuleOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	exprs := map[string]string{}
	for _, r := range f.Groups[0].Rules {
		exprs[r.Record] = r.Expr
	}
	for _, w := range SLIWindows {
		for record, q := range map[string]Query{RatioRecord(w): ErrorRatio5xxByRevision, RateRecord(w): RequestVolumeByRevision} {
			e, err := q.render(RenderOptions{Window: w})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := exprs[record], parser.Prettify(e); got != want {
				t.Errorf("%s = %s, want query %s: %s", record, got, q.ID, want)
			}
		}
	}
}

func mustDefaults(t *testing.T, o RuleOptions) RuleOptions {
	t.Helper()
	o, err := o.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestRuleOptions(t *testing.T) {
	out := string(writeRules(t, RuleOptions{Objective: 0.995, ErrorRatioThreshold: 0.2, For: 10 * time.Minute, MinRequestRate: 2}))
	for _, want := range []string{
		"revision:revision_request_5xx:ratio_rate5m > 0.2 and revision:revision_request_count:rate5m >= 2",
		"for: 10m",
		"> (14.4 * 0.005)",
		"> (1 * 0.005)",
		"revision:revision_request_count:rate3d >= 2",
		"99.5% availability",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rules do not contain %q:\n%s", want, out)
		}
	}
	if out := string(writeRules(t, RuleOptions{For: -1})); strings.Contains(out, "for:") {
		t.Errorf("For < 0 still writes for:\n%s", out)
	}
	for _, bad := range []RuleOptions{{Objective: 1}, {Objective: -0.5}, {ErrorRatioThreshold: 1.5}, {MinRequestRate: -1}} {
		if err := WriteRules(&bytes.Buffer{}, bad); err == nil {
			t.Errorf("WriteRules(%+v) did not fail", bad)
		}
	}
}

// promtool returns the promtool to run: $PROMTOOL, or promtool on PATH. It
// skips the test when there is none, unless GANTRY_REQUIRE_TOOLS=1.
func promtool(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PROMTOOL"); p != "" {
		return p
	}
	p, err := exec.LookPath("promtool")
	if err == nil {
		return p
	}
	const how = "promtool is not on PATH and $PROMTOOL is not set (Debian: apt-get install prometheus)"
	if os.Getenv("GANTRY_REQUIRE_TOOLS") == "1" {
		t.Fatal(how + "; GANTRY_REQUIRE_TOOLS=1 requires it")
	}
	t.Skip(how + ": skipping; GANTRY_REQUIRE_TOOLS=1 makes this a failure")
	return ""
}

func runPromtool(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestPromtoolCheckRules(t *testing.T) {
	promtool(t)
	dir := t.TempDir()
	variant := filepath.Join(dir, "variant.yml")
	if err := os.WriteFile(variant, writeRules(t, RuleOptions{Objective: 0.9999, For: -1, MinRequestRate: 0.01}), 0o644); err != nil {
		t.Fatal(err)
	}
	deployed, err := filepath.Abs(deployRulesYML)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{deployed, variant} {
		out, err := runPromtool(t, dir, "check", "rules", f)
		if err != nil {
			t.Errorf("promtool check rules %s: %v\n%s", f, err, out)
		} else if !strings.Contains(out, "SUCCESS: 17 rules found") {
			t.Errorf("promtool check rules %s:\n%s", f, out)
		}
	}
}

// promtoolTestDir writes the default rules and the promtool test files into
// a temporary directory, as rules.yml and testdata/promtool/*_test.yml.
func promtoolTestDir(t *testing.T) (dir string, tests []string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yml"), writeRules(t, RuleOptions{}), 0o644); err != nil {
		t.Fatal(err)
	}
	paths, err := filepath.Glob("testdata/promtool/*_test.yml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no promtool tests: %v", err)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), data, 0o644); err != nil {
			t.Fatal(err)
		}
		tests = append(tests, filepath.Base(p))
	}
	return dir, tests
}

// TestPromtoolRules runs `promtool test rules` on testdata/promtool: each
// alert fires and resolves at the minute worked out in the file, and stays
// silent at a low error rate and under the minimum traffic.
func TestPromtoolRules(t *testing.T) {
	promtool(t)
	dir, tests := promtoolTestDir(t)
	for _, name := range tests {
		t.Run(name, func(t *testing.T) {
			if strings.HasSuffix(name, "_full_test.yml") && testing.Short() {
				t.Skip("evaluates days of data at 1m steps; skipped with -short")
			}
			t.Parallel()
			out, err := runPromtool(t, dir, "test", "rules", name)
			if err != nil || !strings.Contains(out, "SUCCESS") {
				t.Errorf("promtool test rules %s: %v\n%s", name, err, out)
			}
		})
	}
}

// TestPromtoolRulesCatchAWrongMinute makes sure the promtool tests are not
// vacuous: expecting the 5xx alert one minute early must fail.
func TestPromtoolRulesCatchAWrongMinute(t *testing.T) {
	promtool(t)
	dir, _ := promtoolTestDir(t)
	path := filepath.Join(dir, "high_5xx_ratio_test.yml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	wrong := strings.Replace(string(data), "eval_time: 38m", "eval_time: 37m", 1)
	if wrong == string(data) {
		t.Fatal("high_5xx_ratio_test.yml has no check at 38m")
	}
	if err := os.WriteFile(path, []byte(wrong), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runPromtool(t, dir, "test", "rules", "high_5xx_ratio_test.yml")
	if err == nil || !strings.Contains(out, "FAILED") {
		t.Errorf("promtool accepted an alert one minute early: %v\n%s", err, out)
	}
}
