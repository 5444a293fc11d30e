package autoscaler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// files is an in-memory readFile for SimulateMain.
type files map[string]string

func (f files) read(name string) ([]byte, error) {
	if s, ok := f[name]; ok {
		return []byte(s), nil
	}
	return nil, fmt.Errorf("open %s: %w", name, fs.ErrNotExist)
}

// trace builds a second,concurrency CSV from (until, value) steps.
func trace(end int, value func(s int) float64) string {
	var b strings.Builder
	b.WriteString("second,concurrency\n")
	for s := 0; s <= end; s++ {
		fmt.Fprintf(&b, "%d,%g\n", s, value(s))
	}
	return b.String()
}

func simulate(t *testing.T, fsys files, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := SimulateMain(args, &out, fsys.read); err != nil {
		t.Fatalf("SimulateMain(%v): %v", args, err)
	}
	return out.String()
}

// A burst: 10 in flight, then 300 for 14 s, then nothing; a 20 s stable window
// (2 s panic window), defaults otherwise (target 70, TBC 211). Checked by hand:
// t=6 panics (ceil(155/70)=3 ≥ 2×1 ready); the panic holds the maximum until a
// stable window after the last panic-worthy tick (6+20 < 28); scale-down is
// limited to half the ready count per tick; at t=40 the decider wants 0 but the
// scale-to-zero grace period (activator in the path since t=32) keeps 1.
func TestSimulateBurst(t *testing.T) {
	fsys := files{"burst.csv": trace(40, func(s int) float64 {
		switch {
		case s < 6:
			return 10
		case s < 20:
			return 300
		}
		return 0
	})}
	got := simulate(t, fsys, "--trace", "burst.csv", "--annotations", "window=20s")
	want := `t,ready,desired,ebc,stable,panic,panic_mode,scale
2,1,1,-121,10,10,false,1
4,1,1,-121,10,10,false,1
6,1,3,-266,51.428571,155,true,3
8,3,5,-211,106.666667,300,true,5
10,5,5,-11,141.818182,300,true,5
12,5,5,-11,166.153846,300,true,5
14,5,5,-11,184,300,true,5
16,5,5,-11,197.647059,300,true,5
18,5,5,-11,208.421053,300,true,5
20,5,5,139,212.5,150,true,5
22,5,5,289,211.5,0,true,5
24,5,5,289,210.5,0,true,5
26,5,5,289,195,0,true,5
28,5,3,289,165,0,false,3
30,3,2,89,135,0,false,2
32,2,2,-11,105,0,false,2
34,2,2,-11,75,0,false,2
36,2,1,-11,45,0,false,1
38,1,1,-111,15,0,false,1
40,1,0,-111,0,0,false,1
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CSV (-want +got):\n%s", diff)
	}
}

func parseRows(t *testing.T, csv string) []SimRow {
	t.Helper()
	var rows []SimRow
	for _, line := range strings.Split(strings.TrimSpace(csv), "\n")[1:] {
		var r SimRow
		var pm string
		if _, err := fmt.Sscanf(strings.ReplaceAll(line, ",", " "), "%d %d %d %d %g %g %s %d",
			&r.T, &r.Ready, &r.Desired, &r.EBC, &r.Stable, &r.Panic, &pm, &r.Scale); err != nil {
			t.Fatalf("row %q: %v", line, err)
		}
		r.PanicMode = pm == "true"
		rows = append(rows, r)
	}
	return rows
}

func rowAt(t *testing.T, rows []SimRow, sec int64) SimRow {
	t.Helper()
	for _, r := range rows {
		if r.T == sec {
			return r
		}
	}
	t.Fatalf("no row at t=%d", sec)
	return SimRow{}
}

// Start in panic at initial-scale 3, pod startup 4 s, scale to zero after the
// grace period, and scale from zero when traffic returns.
func TestSimulateStartInPanicStartupAndZero(t *testing.T) {
	fsys := files{"t.csv": trace(120, func(s int) float64 {
		switch {
		case s < 10:
			return 50
		case s < 100:
			return 0
		}
		return 20
	})}
	rows := parseRows(t, simulate(t, fsys, "--trace", "t.csv", "--annotations", "window=20s,initial-scale=3", "--pod-startup", "4s"))
	checks := []struct {
		t                     int64
		ready, desired, scale int
		panicMode             bool
	}{
		{2, 3, 3, 3, true},   // start in panic holds the 3 running instances
		{20, 3, 3, 3, true},  // still within a stable window of the start
		{22, 3, 1, 1, false}, // panic over: 3/2 rounded down is the floor
		{24, 3, 1, 1, false}, // pod startup: the change at 22 lands at 26
		{26, 1, 1, 1, false},
		{30, 1, 0, 1, false}, // wants 0; activator in the path only since 26
		{54, 0, 0, 1, false}, // grace period: 30 s in proxy mode not reached
		{56, 0, 0, 0, false}, // 56−26 = 30 s: scaled to zero
		{98, 0, 0, 0, false},
		{100, 0, 1, 1, false}, // traffic again: scale from zero at once
		{102, 0, 1, 1, false},
		{104, 1, 1, 1, false},
	}
	for _, c := range checks {
		r := rowAt(t, rows, c.t)
		if r.Ready != c.ready || int(r.Desired) != c.desired || int(r.Scale) != c.scale || r.PanicMode != c.panicMode {
			t.Errorf("t=%d: ready %d desired %d scale %d panic %t; want %d %d %d %t",
				c.t, r.Ready, r.Desired, r.Scale, r.PanicMode, c.ready, c.desired, c.scale, c.panicMode)
		}
	}
}

func TestSimulateBoundsAndConfig(t *testing.T) {
	// 700 in flight needs 10 instances at target 70.
	fsys := files{
		"t.csv": trace(20, func(s int) float64 {
			if s < 10 {
				return 700
			}
			return 0
		}),
		"no-zero.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-autoscaler\n  namespace: knative-serving\ndata:\n  enable-scale-to-zero: \"false\"\n  stable-window: \"6s\"\n",
		"bad.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-autoscaler\ndata:\n  max-scale-up-rate: \"1\"\n",
	}
	rows := parseRows(t, simulate(t, fsys, "--trace", "t.csv", "--annotations", "max-scale=4,min-scale=2"))
	if r := rowAt(t, rows, 4); r.Desired != 10 || r.Scale != 4 {
		t.Errorf("max-scale: desired %d scale %d, want raw 10 bounded to 4", r.Desired, r.Scale)
	}
	rows = parseRows(t, simulate(t, fsys, "--trace", "t.csv", "--config", "no-zero.yaml"))
	if r := rowAt(t, rows, 20); r.Desired != 0 || r.Scale != 1 {
		t.Errorf("scale to zero disabled: desired %d scale %d, want 0 and 1", r.Desired, r.Scale)
	}
	var out bytes.Buffer
	err := SimulateMain([]string{"--trace", "t.csv", "--config", "bad.yaml"}, &out, fsys.read)
	if err == nil || !strings.Contains(err.Error(), "bad.yaml: max-scale-up-rate = 1, must be greater than 1.0") {
		t.Errorf("bad config: err = %v", err)
	}
}

func TestSimulateRPSAndActivationScale(t *testing.T) {
	fsys := files{"rps.csv": "second,concurrency,rps\n0,0,0\n1,0,0\n2,1,300\n"}
	rows := parseRows(t, simulate(t, fsys, "--trace", "rps.csv", "--annotations", "metric=rps,target=100,activation-scale=5"))
	// rps target 100×0.7 = 70; the 100 rps average needs 2, activation scale lifts it to 5.
	if r := rowAt(t, rows, 2); r.Stable != 100 || r.Desired != 5 {
		t.Errorf("rps: stable %v desired %d, want 100 and 5", r.Stable, r.Desired)
	}
}

func TestSimulateNoDataAndInitialZero(t *testing.T) {
	// Data starts at second 5: ticks 2 and 4 have no decision.
	fsys := files{
		"late.csv": "second,concurrency\n5,7\n6,7\n",
		"cm.yaml":  "kind: ConfigMap\nmetadata:\n  name: config-autoscaler\ndata:\n  allow-zero-initial-scale: \"true\"\n",
	}
	rows := parseRows(t, simulate(t, fsys, "--trace", "late.csv", "--config", "cm.yaml", "--annotations", "initial-scale=0"))
	want := []SimRow{
		{T: 2, Ready: 0, Desired: -1, EBC: -211, Scale: 0},
		{T: 4, Ready: 0, Desired: -1, EBC: -211, Scale: 0},
		{T: 6, Ready: 0, Desired: 1, EBC: -218, Stable: 7, Panic: 7, Scale: 1},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

func TestSimulateJSON(t *testing.T) {
	fsys := files{"t.csv": trace(6, func(int) float64 { return 140 })}
	csvRows := parseRows(t, simulate(t, fsys, "--trace", "t.csv"))
	var jsonRows []SimRow
	out := simulate(t, fsys, "--trace", "t.csv", "-o", "json")
	if err := json.Unmarshal([]byte(out), &jsonRows); err != nil {
		t.Fatalf("JSON output: %v\n%s", err, out)
	}
	if diff := cmp.Diff(csvRows, jsonRows); diff != "" {
		t.Errorf("JSON differs from CSV (-csv +json):\n%s", diff)
	}
	for _, key := range []string{`"t"`, `"ready"`, `"desired"`, `"ebc"`, `"stable"`, `"panic"`, `"panic_mode"`, `"scale"`} {
		if !strings.Contains(out, key) {
			t.Errorf("JSON lacks %s", key)
		}
	}
}

func TestSimulateErrors(t *testing.T) {
	fsys := files{
		"bad-value.csv":   "second,concurrency\n0,1\n1,lots\n",
		"bad-second.csv":  "second,concurrency\n0,1\n\n-1,2\n",
		"backwards.csv":   "second,concurrency\n0,1\n2,1\n2,1\n",
		"fields.csv":      "second,concurrency,rps\n0,1,2\n1,1\n",
		"negative.csv":    "second,concurrency\n0,-1\n",
		"header.csv":      "sec,conc\n0,1\n",
		"empty.csv":       "",
		"only-header.csv": "second,concurrency\n",
		"ok.csv":          "second,concurrency\n0,1\n",
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--trace", "bad-value.csv"}, `bad-value.csv: line 3: concurrency: "lots": want a non-negative number`},
		{[]string{"--trace", "bad-second.csv"}, `bad-second.csv: line 4: second "-1": want a non-negative integer`},
		{[]string{"--trace", "backwards.csv"}, "backwards.csv: line 4: second 2: seconds must increase (previous 2)"},
		{[]string{"--trace", "fields.csv"}, "fields.csv: line 3: 2 fields, want 3"},
		{[]string{"--trace", "negative.csv"}, `negative.csv: line 2: concurrency: "-1": want a non-negative number`},
		{[]string{"--trace", "header.csv"}, `header.csv: line 1: header "sec,conc", want second,concurrency[,rps]`},
		{[]string{"--trace", "empty.csv"}, "empty.csv: empty trace"},
		{[]string{"--trace", "only-header.csv"}, "only-header.csv: trace has a header but no rows"},
		{[]string{"--trace", "missing.csv"}, "--trace: open missing.csv: file does not exist"},
		{[]string{}, "--trace FILE is required"},
		{[]string{"--trace", "ok.csv", "-o", "yaml"}, `-o "yaml": want csv or json`},
		{[]string{"--trace", "ok.csv", "--annotations", "window=1s"}, "--annotations: expected 6s <= 1s <= 1h0m0s: autoscaling.knative.dev/window"},
		{[]string{"--trace", "ok.csv", "--annotations", "window"}, `--annotations: "window": want key=value`},
		{[]string{"--trace", "ok.csv", "--annotations", "class=hpa.autoscaling.knative.dev"}, "only kpa.autoscaling.knative.dev can be simulated"},
		{[]string{"--trace", "ok.csv", "--pod-startup", "-1s"}, "--pod-startup -1s: must not be negative"},
		{[]string{"--bogus"}, "flag provided but not defined: -bogus"},
	}
	for _, tc := range tests {
		var out bytes.Buffer
		err := SimulateMain(tc.args, &out, fsys.read)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("SimulateMain(%v) = %v, want error containing %q", tc.args, err, tc.want)
		}
	}
	var out bytes.Buffer
	if err := SimulateMain([]string{"--trace", "missing.csv"}, &out, fsys.read); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing trace error %v does not wrap fs.ErrNotExist", err)
	}
}

func TestEffectiveTick(t *testing.T) {
	for _, tc := range []struct {
		t       int64
		startup string
		want    int64
	}{{4, "0s", 6}, {4, "1s", 6}, {4, "2s", 6}, {4, "3s", 8}, {4, "2500ms", 8}, {4, "10s", 14}} {
		d, _ := parseDurationForTest(tc.startup)
		if got := effectiveTick(tc.t, d); got != tc.want {
			t.Errorf("effectiveTick(%d, %s) = %d, want %d", tc.t, tc.startup, got, tc.want)
		}
	}
}

func parseDurationForTest(s string) (d time.Duration, err error) { return time.ParseDuration(s) }
