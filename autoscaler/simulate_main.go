package autoscaler

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/gantry-dev/gantry/api"
)

// SimulateMain is `gantry scale simulate`: it replays a CSV trace through the
// KPA and writes one row per decider tick as CSV or JSON.
//
//	--trace FILE            CSV with header second,concurrency[,rps]
//	--config FILE           a config-autoscaler ConfigMap (YAML)
//	--annotations k=v,...   revision annotations; keys without a "/" get the
//	                        autoscaling.knative.dev/ prefix
//	--pod-startup DURATION  time for a change of desired count to become ready (0)
//	-o csv|json
func SimulateMain(args []string, stdout io.Writer, readFile func(string) ([]byte, error)) error {
	fs := flag.NewFlagSet("scale simulate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	tracePath := fs.String("trace", "", "trace CSV file")
	configPath := fs.String("config", "", "config-autoscaler ConfigMap YAML file")
	annotations := fs.String("annotations", "", "revision annotations k=v,...")
	podStartup := fs.Duration("pod-startup", 0, "pod startup time")
	output := fs.String("o", "csv", "output format: csv or json")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w (usage: scale simulate --trace FILE [--config FILE] [--annotations k=v,...] [--pod-startup DURATION] [-o csv|json])", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *tracePath == "" {
		return errors.New("--trace FILE is required")
	}
	if *output != "csv" && *output != "json" {
		return fmt.Errorf("-o %q: want csv or json", *output)
	}
	if *podStartup < 0 {
		return fmt.Errorf("--pod-startup %v: must not be negative", *podStartup)
	}

	cfg := api.DefaultAutoscalerConfig()
	if *configPath != "" {
		data, err := readFile(*configPath)
		if err != nil {
			return fmt.Errorf("--config: %w", err)
		}
		if cfg, err = ParseConfigMapYAML(data); err != nil {
			return fmt.Errorf("%s: %w", *configPath, err)
		}
	}
	ann, err := ParseAnnotationsFlag(*annotations)
	if err != nil {
		return fmt.Errorf("--annotations: %w", err)
	}
	rs, err := api.ParseAutoscalingAnnotations(ann, cfg)
	if err != nil {
		return fmt.Errorf("--annotations: %w", err)
	}
	if rs.Class != api.ClassKPA {
		return fmt.Errorf("--annotations: class %q: only %s can be simulated", rs.Class, api.ClassKPA)
	}
	data, err := readFile(*tracePath)
	if err != nil {
		return fmt.Errorf("--trace: %w", err)
	}
	trace, err := ParseTrace(data)
	if err != nil {
		return fmt.Errorf("%s: %w", *tracePath, err)
	}

	rows := Simulate(trace, SimParams{Config: cfg, Scaling: rs, PodStartup: *podStartup})
	if *output == "json" {
		return writeJSON(stdout, rows)
	}
	return writeCSV(stdout, rows)
}

// ParseConfigMapYAML reads a config-autoscaler ConfigMap manifest.
func ParseConfigMapYAML(data []byte) (api.AutoscalerConfig, error) {
	var cm api.ConfigMap
	if err := yaml.Unmarshal(data, &cm); err != nil {
		return api.AutoscalerConfig{}, fmt.Errorf("malformed ConfigMap YAML: %w", err)
	}
	if cm.Kind != "" && cm.Kind != api.KindConfigMap {
		return api.AutoscalerConfig{}, fmt.Errorf("kind %s, want ConfigMap %s", cm.Kind, api.ConfigMapAutoscaler)
	}
	if cm.Name != "" && cm.Name != api.ConfigMapAutoscaler {
		return api.AutoscalerConfig{}, fmt.Errorf("ConfigMap %q, want %s", cm.Name, api.ConfigMapAutoscaler)
	}
	return api.ParseAutoscalerConfig(cm.Data)
}

// ParseAnnotationsFlag parses "k=v,k=v". Keys without a "/" are autoscaling.knative.dev keys.
func ParseAnnotationsFlag(s string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%q: want key=value", kv)
		}
		if !strings.Contains(k, "/") {
			k = api.AutoscalingGroup + "/" + k
		}
		out[k] = strings.TrimSpace(v)
	}
	return out, nil
}

// ParseTrace reads a trace CSV: header "second,concurrency" with an optional
// third column "rps"; seconds are non-negative integers in increasing order,
// values non-negative numbers. Blank lines are skipped. Errors name the line.
func ParseTrace(data []byte) ([]TracePoint, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var (
		out    []TracePoint
		cols   int
		lineNo int
	)
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		fields := strings.Split(line, ",")
		for i := range fields {
			fields[i] = strings.TrimSpace(fields[i])
		}
		if cols == 0 {
			header := strings.Join(fields, ",")
			if header != "second,concurrency" && header != "second,concurrency,rps" {
				return nil, fmt.Errorf("line %d: header %q, want second,concurrency[,rps]", lineNo, line)
			}
			cols = len(fields)
			continue
		}
		if len(fields) != cols {
			return nil, fmt.Errorf("line %d: %d fields, want %d", lineNo, len(fields), cols)
		}
		sec, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil || sec < 0 {
			return nil, fmt.Errorf("line %d: second %q: want a non-negative integer", lineNo, fields[0])
		}
		if len(out) > 0 && sec <= out[len(out)-1].Second {
			return nil, fmt.Errorf("line %d: second %d: seconds must increase (previous %d)", lineNo, sec, out[len(out)-1].Second)
		}
		p := TracePoint{Second: sec}
		if p.Concurrency, err = parseValue(fields[1]); err != nil {
			return nil, fmt.Errorf("line %d: concurrency: %w", lineNo, err)
		}
		if cols == 3 {
			if p.RPS, err = parseValue(fields[2]); err != nil {
				return nil, fmt.Errorf("line %d: rps: %w", lineNo, err)
			}
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", lineNo+1, err)
	}
	if cols == 0 {
		return nil, errors.New("empty trace: want header second,concurrency[,rps]")
	}
	if len(out) == 0 {
		return nil, errors.New("trace has a header but no rows")
	}
	return out, nil
}

func parseValue(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("%q: want a non-negative number", s)
	}
	return f, nil
}

// CSVHeader is the first line of the simulation's CSV output.
const CSVHeader = "t,ready,desired,ebc,stable,panic,panic_mode,scale"

func writeCSV(w io.Writer, rows []SimRow) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(CSVHeader + "\n")
	for _, r := range rows {
		fmt.Fprintf(bw, "%d,%d,%d,%d,%s,%s,%t,%d\n", r.T, r.Ready, r.Desired, r.EBC,
			strconv.FormatFloat(r.Stable, 'f', -1, 64), strconv.FormatFloat(r.Panic, 'f', -1, 64), r.PanicMode, r.Scale)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

func writeJSON(w io.Writer, rows []SimRow) error {
	if rows == nil {
		rows = []SimRow{}
	}
	b, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}
