package dashboards

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDashboardsMain(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	if err := DashboardsMain([]string{"--out", dir}); err != nil {
		t.Fatal(err)
	}
	for _, uid := range DashboardUIDs() {
		if _, err := os.Stat(filepath.Join(dir, uid+".json")); err != nil {
			t.Error(err)
		}
	}
	for _, args := range [][]string{{}, {"--out"}, {"--out", dir, "extra"}, {"--bogus"}} {
		if err := DashboardsMain(args); err == nil {
			t.Errorf("DashboardsMain(%q) did not fail", args)
		}
	}
}

func TestAlertsMain(t *testing.T) {
	out := filepath.Join(t.TempDir(), "prom", "rules.yml")
	if err := AlertsMain([]string{"--out", out, "--objective", "99.5", "--error-ratio-threshold", "0.1", "--for", "2m"}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, writeRules(t, RuleOptions{Objective: 0.995, ErrorRatioThreshold: 0.1, For: 2 * 60e9})) {
		t.Errorf("--out wrote something else than WriteRules:\n%s", data)
	}

	var stdout bytes.Buffer
	if err := alertsMain([]string{"--out", "-", "--for", "0s"}, &stdout); err != nil {
		t.Fatal(err)
	}
	if s := stdout.String(); !strings.Contains(s, "groups:") || strings.Contains(s, "for:") {
		t.Errorf("--out - --for 0s wrote:\n%s", s)
	}

	for _, args := range [][]string{
		{"--objective", "0"}, {"--objective", "100"}, {"--objective", "1"},
		{"--error-ratio-threshold", "0"}, {"--error-ratio-threshold", "2"},
		{"--for", "-1m"}, {"--min-request-rate", "0"}, {"extra"},
	} {
		if err := alertsMain(args, &bytes.Buffer{}); err == nil {
			t.Errorf("AlertsMain(%q) did not fail", args)
		}
	}
}
