package api

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

func TestDefaultAutoscalerConfigIsValid(t *testing.T) {
	c := DefaultAutoscalerConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	got, err := ParseAutoscalerConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("empty ConfigMap differs from defaults (-want +got):\n%s", diff)
	}
	// The numbers the architecture document promises.
	if c.StableWindow != 60*time.Second || c.PanicWindowPercentage != 10 || c.PanicThresholdPercentage != 200 ||
		c.ContainerConcurrencyTargetFraction != 0.7 || c.ContainerConcurrencyTargetDefault != 100 ||
		c.TargetBurstCapacity != 211 || c.MaxScaleUpRate != 1000 || c.MaxScaleDownRate != 2 ||
		c.ScaleToZeroGracePeriod != 30*time.Second || c.InitialScale != 1 || c.PodAutoscalerClass != ClassKPA {
		t.Errorf("unexpected defaults: %+v", c)
	}
}

func TestParseAutoscalerConfig(t *testing.T) {
	tests := []struct {
		name    string
		data    map[string]string
		want    func(*AutoscalerConfig)
		wantErr string
	}{{
		name: "everything set (Knative's own table)",
		data: map[string]string{
			"max-scale-down-rate":                     "3.0",
			"max-scale-up-rate":                       "1.01",
			"container-concurrency-target-percentage": "0.71",
			"container-concurrency-target-default":    "10.5",
			"requests-per-second-target-default":      "10.11",
			"target-burst-capacity":                   "12345",
			"scale-down-delay":                        "15m",
			"stable-window":                           "5m",
			"tick-interval":                           "2s", // retired key, ignored
			"panic-window-percentage":                 "10",
			"panic-threshold-percentage":              "200",
			"pod-autoscaler-class":                    "some.class",
			"activator-capacity":                      "905",
			"scale-to-zero-pod-retention-period":      "2m3s",
		},
		want: func(c *AutoscalerConfig) {
			c.TargetBurstCapacity = 12345
			c.ContainerConcurrencyTargetDefault = 10.5
			c.ContainerConcurrencyTargetFraction = 0.71
			c.RPSTargetDefault = 10.11
			c.MaxScaleDownRate = 3
			c.MaxScaleUpRate = 1.01
			c.ScaleDownDelay = 15 * time.Minute
			c.StableWindow = 5 * time.Minute
			c.ActivatorCapacity = 905
			c.PodAutoscalerClass = "some.class"
			c.ScaleToZeroPodRetentionPeriod = 2*time.Minute + 3*time.Second
		},
	}, {
		name: "target percentage as a percent",
		data: map[string]string{"container-concurrency-target-percentage": "55"},
		want: func(c *AutoscalerConfig) { c.ContainerConcurrencyTargetFraction = 0.55 },
	}, {
		name: "unlimited TBC",
		data: map[string]string{"target-burst-capacity": "-1"},
		want: func(c *AutoscalerConfig) { c.TargetBurstCapacity = -1 },
	}, {
		name: "toggles in strange casing",
		data: map[string]string{"enable-scale-to-zero": "FALSE", "allow-zero-initial-scale": "TRUE", "initial-scale": "0"},
		want: func(c *AutoscalerConfig) {
			c.EnableScaleToZero = false
			c.AllowZeroInitialScale = true
			c.InitialScale = 0
		},
	}, {
		name: "bounds",
		data: map[string]string{"min-scale": "2", "max-scale": "3", "max-scale-limit": "100"},
		want: func(c *AutoscalerConfig) { c.MinScale, c.MaxScale, c.MaxScaleLimit = 2, 3, 100 },
	}, {
		name:    "malformed duration",
		data:    map[string]string{"stable-window": "sixty"},
		wantErr: `failed to parse data: failed to parse "stable-window": time: invalid duration "sixty"`,
	}, {
		name:    "malformed float",
		data:    map[string]string{"max-scale-up-rate": "fast"},
		wantErr: `failed to parse data: failed to parse "max-scale-up-rate": strconv.ParseFloat: parsing "fast": invalid syntax`,
	}, {
		name:    "malformed bool",
		data:    map[string]string{"enable-scale-to-zero": "yes"},
		wantErr: `failed to parse data: failed to parse "enable-scale-to-zero": strconv.ParseBool: parsing "yes": invalid syntax`,
	}, {
		name:    "grace period zero",
		data:    map[string]string{"scale-to-zero-grace-period": "0s"},
		wantErr: "scale-to-zero-grace-period must be positive, was: 0s",
	}, {
		name:    "negative scale-down delay",
		data:    map[string]string{"scale-down-delay": "-1s"},
		wantErr: "scale-down-delay cannot be negative, was: -1s",
	}, {
		name:    "scale-down delay too precise",
		data:    map[string]string{"scale-down-delay": "1.5s"},
		wantErr: "scale-down-delay = 1.5s, must be specified with at most second precision",
	}, {
		name:    "negative retention",
		data:    map[string]string{"scale-to-zero-pod-retention-period": "-1s"},
		wantErr: "scale-to-zero-pod-retention-period cannot be negative, was: -1s",
	}, {
		name:    "TBC -2",
		data:    map[string]string{"target-burst-capacity": "-2"},
		wantErr: "target-burst-capacity must be either non-negative or -1 (for unlimited), was: -2.000000",
	}, {
		name:    "target percentage too big",
		data:    map[string]string{"container-concurrency-target-percentage": "142.4"},
		wantErr: "container-concurrency-target-percentage = 1.424000 is outside of valid range of (0, 100]",
	}, {
		name:    "target percentage negative",
		data:    map[string]string{"container-concurrency-target-percentage": "-42"},
		wantErr: "container-concurrency-target-percentage = -42.000000 is outside of valid range of (0, 100]",
	}, {
		name:    "target concurrency too small",
		data:    map[string]string{"container-concurrency-target-percentage": "1", "container-concurrency-target-default": "0.001"},
		wantErr: "container-concurrency-target-percentage and container-concurrency-target-default yield target concurrency of 0.001, can't be less than 0.01",
	}, {
		name:    "rps target too small",
		data:    map[string]string{"requests-per-second-target-default": "-5.25"},
		wantErr: "requests-per-second-target-default must be at least 0.01, was: -5.25",
	}, {
		name:    "activator capacity",
		data:    map[string]string{"activator-capacity": "0.5"},
		wantErr: "activator-capacity = 0.5, must be at least 1",
	}, {
		name:    "scale up rate 1",
		data:    map[string]string{"max-scale-up-rate": "1"},
		wantErr: "max-scale-up-rate = 1, must be greater than 1.0",
	}, {
		name:    "scale down rate negative",
		data:    map[string]string{"max-scale-down-rate": "-55"},
		wantErr: "max-scale-down-rate = -55, must be greater than 1.0",
	}, {
		name:    "stable window too small",
		data:    map[string]string{"stable-window": "1s"},
		wantErr: "stable-window = 1s, must be in [6s; 1h0m0s] range",
	}, {
		name:    "stable window too precise",
		data:    map[string]string{"stable-window": "61500ms"},
		wantErr: "stable-window = 1m1.5s, must be specified with at most second precision",
	}, {
		name:    "panic window percentage too small",
		data:    map[string]string{"panic-window-percentage": "0.1"},
		wantErr: "panic-window-percentage = 0.1, must be in [1, 100] interval",
	}, {
		name:    "initial scale zero not allowed",
		data:    map[string]string{"initial-scale": "0"},
		wantErr: "initial-scale = 0, must be at least 0 (or at least 1 when allow-zero-initial-scale is false)",
	}, {
		name:    "negative min scale",
		data:    map[string]string{"min-scale": "-1"},
		wantErr: "min-scale = -1, must be at least 0",
	}, {
		name:    "max scale above limit",
		data:    map[string]string{"max-scale": "11", "max-scale-limit": "10"},
		wantErr: "max-scale = 11, must be in [1, max-scale-limit(10)] range",
	}, {
		name:    "limit without default max",
		data:    map[string]string{"max-scale-limit": "10"},
		wantErr: "max-scale = 0, must be in [1, max-scale-limit(10)] range",
	}, {
		name:    "negative limit",
		data:    map[string]string{"max-scale-limit": "-1"},
		wantErr: "max-scale-limit = -1, must be at least 0",
	}, {
		name:    "min above max",
		data:    map[string]string{"min-scale": "5", "max-scale": "2"},
		wantErr: "min-scale (5) must be less than max-scale (2)",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAutoscalerConfig(tc.data)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				if !errors.Is(err, ErrInvalidAutoscalerConfig) {
					t.Errorf("error %v does not match ErrInvalidAutoscalerConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := DefaultAutoscalerConfig()
			tc.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

const (
	keyMin = MinScaleAnnotationKey
	keyMax = MaxScaleAnnotationKey
)

// Cases and messages from Knative's annotation_validation_test.go.
func TestAutoscalingAnnotationValidation(t *testing.T) {
	tests := []struct {
		name string
		ann  map[string]string
		cfg  func(*AutoscalerConfig)
		want string
	}{
		{name: "nil", ann: nil},
		{name: "invalid class", ann: map[string]string{ClassAnnotationKey: "unsupported.knative.dev"}, want: "invalid value: unsupported.knative.dev: " + ClassAnnotationKey},
		{name: "foreign class", ann: map[string]string{ClassAnnotationKey: "some.other.domain"}},
		{name: "min 0", ann: map[string]string{keyMin: "0"}},
		{name: "min -1", ann: map[string]string{keyMin: "-1"}, want: "expected 0 <= -1 <= 2147483647: " + keyMin},
		{name: "max huge", ann: map[string]string{keyMax: "2147483648"}, want: "expected 0 <= 2147483648 <= 2147483647: " + keyMax},
		{name: "max -1", ann: map[string]string{keyMax: "-1"}, want: "expected 0 <= -1 <= 2147483647: " + keyMax},
		{name: "min foo", ann: map[string]string{keyMin: "foo"}, want: "invalid value: foo: " + keyMin},
		{name: "both bar merge", ann: map[string]string{keyMax: "bar", keyMin: "bar"}, want: "invalid value: bar: " + keyMax + ", " + keyMin},
		{name: "min > max", ann: map[string]string{keyMin: "5", keyMax: "2"}, want: "max-scale=2 is less than min-scale=5: " + keyMax + ", " + keyMin},
		{name: "legacy min > max", ann: map[string]string{AutoscalingGroup + "/minScale": "5", AutoscalingGroup + "/maxScale": "2"}, want: "max-scale=2 is less than min-scale=5: " + keyMax + ", " + keyMin},
		{name: "legacy negative", ann: map[string]string{AutoscalingGroup + "/minScale": "-1"}, want: "expected 0 <= -1 <= 2147483647: " + AutoscalingGroup + "/minScale"},
		{name: "max above limit", ann: map[string]string{keyMax: "11"}, cfg: func(c *AutoscalerConfig) { c.MaxScaleLimit = 10 }, want: "expected 1 <= 11 <= 10: " + keyMax},
		{name: "max 0 with limit", ann: map[string]string{keyMax: "0"}, cfg: func(c *AutoscalerConfig) { c.MaxScaleLimit, c.MaxScale = 10, 1 }, want: "max-scale=0 (unlimited), must be less than 10: " + keyMax},
		{name: "activation ok", ann: map[string]string{keyMin: "1", ActivationScaleAnnotationKey: "2", keyMax: "3"}},
		{name: "min > activation", ann: map[string]string{keyMin: "3", ActivationScaleAnnotationKey: "2"}, want: "min-scale=3 is greater than activation-scale=2: " + ActivationScaleAnnotationKey},
		{name: "max < activation", ann: map[string]string{keyMax: "1", ActivationScaleAnnotationKey: "2"}, want: "max-scale=1 is less than activation-scale=2: " + ActivationScaleAnnotationKey},
		{name: "activation 1", ann: map[string]string{ActivationScaleAnnotationKey: "1"}, want: "activation-scale=1 must be greater than 1: " + ActivationScaleAnnotationKey},
		{name: "random algorithm on KPA", ann: map[string]string{AggregationAlgorithmAnnotationKey: "random", ClassAnnotationKey: ClassKPA}, want: "invalid value: random: " + AggregationAlgorithmAnnotationKey},
		{name: "random algorithm on other class", ann: map[string]string{AggregationAlgorithmAnnotationKey: "random", ClassAnnotationKey: "of-keys"}},
		{name: "panic window -1", ann: map[string]string{PanicWindowPercentageAnnotationKey: "-1"}, want: "expected 1 <= -1 <= 100: " + PanicWindowPercentageAnnotationKey},
		{name: "panic window fifty", ann: map[string]string{PanicWindowPercentageAnnotationKey: "fifty"}, want: "invalid value: fifty: " + PanicWindowPercentageAnnotationKey},
		{name: "panic threshold 109", ann: map[string]string{PanicThresholdPercentageAnnotationKey: "109"}, want: "expected 110 <= 109 <= 1000: " + PanicThresholdPercentageAnnotationKey},
		{name: "target 0", ann: map[string]string{TargetAnnotationKey: "0"}, want: "target 0 should be at least 0.01: " + TargetAnnotationKey},
		{name: "target bad", ann: map[string]string{TargetAnnotationKey: "100}"}, want: "invalid value: 100}: " + TargetAnnotationKey},
		{name: "TBC -11", ann: map[string]string{TargetBurstCapacityAnnotationKey: "-11"}, want: "invalid value: -11: " + TargetBurstCapacityAnnotationKey},
		{name: "TBC -1", ann: map[string]string{TargetBurstCapacityAnnotationKey: "-1"}},
		{name: "TU 0", ann: map[string]string{TargetUtilizationAnnotationKey: "0"}, want: "expected 1 <= 0 <= 100: " + TargetUtilizationAnnotationKey},
		{name: "TU 101", ann: map[string]string{TargetUtilizationAnnotationKey: "101"}, want: "expected 1 <= 101 <= 100: " + TargetUtilizationAnnotationKey},
		{name: "window invalid", ann: map[string]string{WindowAnnotationKey: "jerry"}, want: "invalid value: jerry: " + WindowAnnotationKey},
		{name: "window too short", ann: map[string]string{WindowAnnotationKey: "1s"}, want: "expected 6s <= 1s <= 1h0m0s: " + WindowAnnotationKey},
		{name: "window too long", ann: map[string]string{WindowAnnotationKey: "365h"}, want: "expected 6s <= 365h <= 1h0m0s: " + WindowAnnotationKey},
		{name: "window too precise", ann: map[string]string{WindowAnnotationKey: "1m9s82ms"}, want: "must be specified with at most second precision: " + WindowAnnotationKey},
		{name: "retention too long", ann: map[string]string{ScaleToZeroRetentionAnnotationKey: "311m"}, want: "expected 0s <= 311m <= 1h0m0s: " + ScaleToZeroRetentionAnnotationKey},
		{name: "retention bad", ann: map[string]string{ScaleToZeroRetentionAnnotationKey: "twenty"}, want: "invalid value: twenty: " + ScaleToZeroRetentionAnnotationKey},
		{name: "delay too precise", ann: map[string]string{ScaleDownDelayAnnotationKey: "42.5s"}, want: "must be specified with at most second precision: " + ScaleDownDelayAnnotationKey},
		{name: "delay negative", ann: map[string]string{ScaleDownDelayAnnotationKey: "-42s"}, want: "expected 0s <= -42s <= 1h0m0s: " + ScaleDownDelayAnnotationKey},
		{name: "delay 0", ann: map[string]string{ScaleDownDelayAnnotationKey: "0"}},
		{
			name: "all together, sorted",
			ann: map[string]string{
				PanicThresholdPercentageAnnotationKey: "fifty",
				PanicWindowPercentageAnnotationKey:    "-11",
				keyMin:                                "-4",
				keyMax:                                "never",
			},
			want: "expected 0 <= -4 <= 2147483647: " + keyMin + "\nexpected 1 <= -11 <= 100: " + PanicWindowPercentageAnnotationKey +
				"\ninvalid value: fifty: " + PanicThresholdPercentageAnnotationKey + "\ninvalid value: never: " + keyMax,
		},
		{name: "cpu on KPA", ann: map[string]string{MetricAnnotationKey: MetricCPU}, want: "invalid value: cpu: " + MetricAnnotationKey},
		{name: "empty metric on HPA", ann: map[string]string{MetricAnnotationKey: "", ClassAnnotationKey: ClassHPA}, want: "invalid value: : " + MetricAnnotationKey},
		{name: "cpu on HPA", ann: map[string]string{ClassAnnotationKey: ClassHPA, MetricAnnotationKey: MetricCPU}},
		{name: "cpu on global HPA", ann: map[string]string{MetricAnnotationKey: MetricCPU}, cfg: func(c *AutoscalerConfig) { c.PodAutoscalerClass = ClassHPA }},
		{name: "initial 0 not allowed", ann: map[string]string{InitialScaleAnnotationKey: "0"}, want: "invalid value: 0: " + InitialScaleAnnotationKey + "=0 not allowed by cluster"},
		{name: "initial 0 allowed", ann: map[string]string{InitialScaleAnnotationKey: "0"}, cfg: func(c *AutoscalerConfig) { c.AllowZeroInitialScale = true }},
		{name: "initial -1", ann: map[string]string{InitialScaleAnnotationKey: "-1"}, want: "invalid value: -1: " + InitialScaleAnnotationKey + " must be greater than 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultAutoscalerConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			_, err := ParseAutoscalingAnnotations(tc.ann, cfg)
			got := ""
			if err != nil {
				got = err.Error()
				var fe *FieldError
				if !errors.As(err, &fe) {
					t.Errorf("error is a %T, want *FieldError", err)
				}
			}
			if got != tc.want {
				t.Errorf("error:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestParseAutoscalingAnnotationsResolves(t *testing.T) {
	cfg := DefaultAutoscalerConfig()
	cfg.MinScale, cfg.MaxScale = 1, 50
	rs, err := ParseAutoscalingAnnotations(map[string]string{
		AutoscalingGroup + "/maxScale":                    "10", // legacy spelling
		AutoscalingGroup + "/targetUtilizationPercentage": "80",
		MetricAnnotationKey:                               MetricRPS,
		TargetAnnotationKey:                               "150",
		WindowAnnotationKey:                               "40s",
		PanicWindowPercentageAnnotationKey:                "20.0",
		PanicThresholdPercentageAnnotationKey:             "150.0",
		ScaleDownDelayAnnotationKey:                       "15m",
		ScaleToZeroRetentionAnnotationKey:                 "1m5s",
		TargetBurstCapacityAnnotationKey:                  "0",
		ActivationScaleAnnotationKey:                      "5",
		AggregationAlgorithmAnnotationKey:                 "weightedExponential",
	}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := RevisionScaling{
		Class: ClassKPA, Metric: MetricRPS, MinScale: 1, MaxScale: 10, InitialScale: 1, ActivationScale: 5,
		Target: 150, TargetUtilization: 0.8, TargetBurstCapacity: 0, StableWindow: 40 * time.Second,
		PanicWindowPercentage: 20, PanicThresholdPercentage: 150, ScaleDownDelay: 15 * time.Minute,
		ScaleToZeroPodRetentionPeriod: 65 * time.Second, AggregationAlgorithm: AggregationWeightedExponential,
	}
	if diff := cmp.Diff(want, rs); diff != "" {
		t.Errorf("RevisionScaling (-want +got):\n%s", diff)
	}

	// Defaults: concurrency uses the config's fraction, rps the fixed 0.7; an
	// initial-scale of 0 falls back to the config unless the cluster allows it.
	rs, err = ParseAutoscalingAnnotations(nil, DefaultAutoscalerConfig())
	if err != nil {
		t.Fatal(err)
	}
	if rs.Metric != MetricConcurrency || rs.TargetUtilization != 0.7 || rs.InitialScale != 1 || rs.AggregationAlgorithm != AggregationLinear {
		t.Errorf("defaults: %+v", rs)
	}
	allow := DefaultAutoscalerConfig()
	allow.AllowZeroInitialScale = true
	rs, err = ParseAutoscalingAnnotations(map[string]string{InitialScaleAnnotationKey: "0", ClassAnnotationKey: ClassHPA}, allow)
	if err != nil {
		t.Fatal(err)
	}
	if rs.InitialScale != 0 || rs.Metric != MetricCPU {
		t.Errorf("InitialScale, Metric = %d, %q; want 0, cpu", rs.InitialScale, rs.Metric)
	}
	// The current key wins over a legacy spelling.
	rs, _ = ParseAutoscalingAnnotations(map[string]string{MinScaleAnnotationKey: "2", AutoscalingGroup + "/minScale": "7"}, DefaultAutoscalerConfig())
	if rs.MinScale != 2 {
		t.Errorf("MinScale = %d, want 2", rs.MinScale)
	}
}

// corpusDir holds Knative's documentation manifests; every config-autoscaler and
// every set of autoscaling annotations in it must be accepted.
const corpusDir = "../../shared/compat/knative-docs"

func TestKnativeDocsCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus at %s (err %v)", corpusDir, err)
	}
	configs := map[string]AutoscalerConfig{}
	type annotated struct {
		file string
		ann  map[string]string
	}
	var anns []annotated
	for _, f := range files {
		for _, doc := range readDocs(t, f) {
			kind, _ := doc["kind"].(string)
			name, _ := dig(doc, "metadata", "name").(string)
			switch {
			case kind == "ConfigMap" && name == ConfigMapAutoscaler:
				data := map[string]string{}
				for k, v := range dig(doc, "data").(map[string]any) {
					data[k], _ = v.(string)
				}
				c, err := ParseAutoscalerConfig(data)
				if err != nil {
					t.Errorf("%s: %v", filepath.Base(f), err)
				}
				configs[filepath.Base(f)] = c
			case kind == "Service" || kind == "Configuration":
				anns = append(anns, annotated{filepath.Base(f), stringMap(dig(doc, "spec", "template", "metadata", "annotations"))})
			case kind == "Revision":
				anns = append(anns, annotated{filepath.Base(f), stringMap(dig(doc, "metadata", "annotations"))})
			}
		}
	}
	if len(configs) != 7 {
		t.Errorf("found %d config-autoscaler manifests, want 7", len(configs))
	}
	allowZero, ok := configs["docs__versioned__serving__autoscaling__scale-bounds__config-autoscaler-initial-scale.yaml"]
	if !ok || !allowZero.AllowZeroInitialScale || allowZero.InitialScale != 0 {
		t.Errorf("initial-scale manifest parsed to %+v", allowZero)
	}
	n := 0
	for _, a := range anns {
		scaling := false
		for k := range a.ann {
			scaling = scaling || strings.HasPrefix(k, AutoscalingGroup+"/")
		}
		if !scaling {
			continue
		}
		n++
		cfg := DefaultAutoscalerConfig()
		if a.ann[InitialScaleAnnotationKey] == "0" {
			cfg = allowZero // the docs pair initial-scale 0 with allow-zero-initial-scale
		}
		if _, err := ParseAutoscalingAnnotations(a.ann, cfg); err != nil {
			t.Errorf("%s: %v", a.file, err)
		}
	}
	if n != 18 {
		t.Errorf("found %d manifests with autoscaling annotations, want 18", n)
	}
}

func readDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 1<<20)
	var out []map[string]any
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatalf("%s: %v", path, err)
		}
		if doc != nil {
			out = append(out, doc)
		}
	}
}

func dig(m map[string]any, path ...string) any {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

func stringMap(v any) map[string]string {
	out := map[string]string{}
	m, _ := v.(map[string]any)
	for k, x := range m {
		out[k], _ = x.(string)
	}
	return out
}
