package api

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseGCConfig(t *testing.T) {
	disabled := time.Duration(GCDisabled)
	tests := []struct {
		name    string
		data    map[string]string
		want    func(c *GCConfig)
		wantErr string
	}{{
		name: "empty map: Knative's defaults",
	}, {
		name: "Knative's defaults spelled out",
		data: map[string]string{
			"retain-since-create-time": "48h", "retain-since-last-active-time": "15h",
			"min-non-active-revisions": "20", "max-non-active-revisions": "1000",
		},
	}, {
		name: "overrides",
		data: map[string]string{
			"retain-since-create-time": "17h", "retain-since-last-active-time": "16h",
			"min-non-active-revisions": "5", "max-non-active-revisions": "500",
		},
		want: func(c *GCConfig) {
			c.RetainSinceCreateTime, c.RetainSinceLastActiveTime = 17*time.Hour, 16*time.Hour
			c.MinNonActiveRevisions, c.MaxNonActiveRevisions = 5, 500
		},
	}, {
		name: "create time disabled",
		data: map[string]string{"retain-since-create-time": "disabled"},
		want: func(c *GCConfig) { c.RetainSinceCreateTime = disabled },
	}, {
		name: "last-active time disabled, any case",
		data: map[string]string{"retain-since-last-active-time": "Disabled"},
		want: func(c *GCConfig) { c.RetainSinceLastActiveTime = disabled },
	}, {
		name: "max disabled",
		data: map[string]string{"max-non-active-revisions": "DISABLED"},
		want: func(c *GCConfig) { c.MaxNonActiveRevisions = GCDisabled },
	}, {
		name: "max disabled allows any min",
		data: map[string]string{"min-non-active-revisions": "5000", "max-non-active-revisions": "disabled"},
		want: func(c *GCConfig) { c.MinNonActiveRevisions, c.MaxNonActiveRevisions = 5000, GCDisabled },
	}, {
		name: "min equal to max, both zero",
		data: map[string]string{"min-non-active-revisions": "0", "max-non-active-revisions": "0"},
		want: func(c *GCConfig) { c.MinNonActiveRevisions, c.MaxNonActiveRevisions = 0, 0 },
	}, {
		name: "empty duration and max keep the defaults",
		data: map[string]string{"retain-since-create-time": "", "max-non-active-revisions": ""},
	}, {
		name: "zero durations",
		data: map[string]string{"retain-since-create-time": "0s", "retain-since-last-active-time": "0"},
		want: func(c *GCConfig) { c.RetainSinceCreateTime, c.RetainSinceLastActiveTime = 0, 0 },
	}, {
		name:    "negative min",
		data:    map[string]string{"min-non-active-revisions": "-1"},
		wantErr: "min-non-active-revisions must be non-negative, was: -1",
	}, {
		name:    "min not a number",
		data:    map[string]string{"min-non-active-revisions": "few"},
		wantErr: `failed to parse data: failed to parse "min-non-active-revisions": strconv.ParseInt: parsing "few": invalid syntax`,
	}, {
		name:    "empty min",
		data:    map[string]string{"min-non-active-revisions": ""},
		wantErr: `failed to parse data: failed to parse "min-non-active-revisions": strconv.ParseInt: parsing "": invalid syntax`,
	}, {
		name:    "negative max",
		data:    map[string]string{"max-non-active-revisions": "-2"},
		wantErr: `failed to parse max-non-active-revisions: strconv.ParseUint: parsing "-2": invalid syntax`,
	}, {
		name:    "max above MaxInt64",
		data:    map[string]string{"max-non-active-revisions": strconv.FormatUint(math.MaxUint64, 10)},
		wantErr: "failed to parse max-non-active-revisions: value should be lower than 9223372036854775807",
	}, {
		name:    "max not a number",
		data:    map[string]string{"max-non-active-revisions": "invalid"},
		wantErr: `failed to parse max-non-active-revisions: strconv.ParseUint: parsing "invalid": invalid syntax`,
	}, {
		name:    "min above max",
		data:    map[string]string{"min-non-active-revisions": "20", "max-non-active-revisions": "10"},
		wantErr: "min-non-active-revisions(20) must be <= max-non-active-revisions(10)",
	}, {
		name:    "min above the default max",
		data:    map[string]string{"min-non-active-revisions": "1001"},
		wantErr: "min-non-active-revisions(1001) must be <= max-non-active-revisions(1000)",
	}, {
		name:    "unparsable create time",
		data:    map[string]string{"retain-since-create-time": "invalid"},
		wantErr: `failed to parse retain-since-create-time: time: invalid duration "invalid"`,
	}, {
		name:    "create time without unit",
		data:    map[string]string{"retain-since-create-time": "48"},
		wantErr: `failed to parse retain-since-create-time: time: missing unit in duration "48"`,
	}, {
		name:    "negative create time",
		data:    map[string]string{"retain-since-create-time": "-1h"},
		wantErr: "failed to parse retain-since-create-time: must be non-negative",
	}, {
		name:    "negative last-active time",
		data:    map[string]string{"retain-since-last-active-time": "-1h"},
		wantErr: "failed to parse retain-since-last-active-time: must be non-negative",
	}, {
		name:    "values are not trimmed, as in Knative",
		data:    map[string]string{"max-non-active-revisions": " 10"},
		wantErr: `failed to parse max-non-active-revisions: strconv.ParseUint: parsing " 10": invalid syntax`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseGCConfig(tt.data)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseGCConfig = %+v, want error %q", got, tt.wantErr)
				}
				if err.Error() != tt.wantErr {
					t.Errorf("error = %q, want %q", err, tt.wantErr)
				}
				if !errors.Is(err, ErrInvalidGCConfig) {
					t.Errorf("error %v does not match ErrInvalidGCConfig", err)
				}
				if got != (GCConfig{}) {
					t.Errorf("config on error = %+v, want zero", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := DefaultGCConfig()
			if tt.want != nil {
				tt.want(&want)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ParseGCConfig (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDefaultGCConfig(t *testing.T) {
	want := GCConfig{
		RetainSinceCreateTime:     48 * time.Hour,
		RetainSinceLastActiveTime: 15 * time.Hour,
		MinNonActiveRevisions:     20,
		MaxNonActiveRevisions:     1000,
	}
	if got := DefaultGCConfig(); got != want {
		t.Errorf("DefaultGCConfig() = %+v, want %+v", got, want)
	}
	if err := want.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

// TestParseConfigMapGC checks that ParseConfigMap applies a valid config-gc,
// names the ConfigMap in its errors and leaves cfg unchanged on error.
func TestParseConfigMapGC(t *testing.T) {
	cfg := DefaultConfig("")
	if err := ParseConfigMap(cm(ConfigMapGC, map[string]string{
		"_example":                 "anything: [not parsed",
		"min-non-active-revisions": "2",
		"retain-since-create-time": "disabled",
	}), cfg); err != nil {
		t.Fatalf("valid config-gc: %v", err)
	}
	if cfg.GC.MinNonActiveRevisions != 2 || cfg.GC.RetainSinceCreateTime != GCDisabled || cfg.GC.MaxNonActiveRevisions != 1000 {
		t.Errorf("config-gc applied as %+v, want min 2, create-time disabled, max 1000", cfg.GC)
	}
	before := *cfg

	err := ParseConfigMap(cm(ConfigMapGC, map[string]string{"min-non-active-revisions": "20", "max-non-active-revisions": "10"}), cfg)
	const want = "ConfigMap config-gc: min-non-active-revisions(20) must be <= max-non-active-revisions(10)"
	if err == nil || err.Error() != want {
		t.Errorf("ParseConfigMap error = %v, want %q", err, want)
	}
	if diff := cmp.Diff(&before, cfg); diff != "" {
		t.Errorf("invalid config-gc changed cfg (-before +after):\n%s", diff)
	}
	if !errors.Is(err, ErrInvalidGCConfig) {
		t.Errorf("error %v does not match ErrInvalidGCConfig", err)
	}
}

// TestGCConfigKnativeDocs parses every config-gc manifest of Knative's
// documentation, each on its own, and checks the values they set.
func TestGCConfigKnativeDocs(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(compatDir(t), "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]GCConfig{
		"docs__serving__configuration__revision-gc__config-gc-complex.yaml": {
			RetainSinceCreateTime: 48 * time.Hour, RetainSinceLastActiveTime: 15 * time.Hour,
			MinNonActiveRevisions: 2, MaxNonActiveRevisions: 1000,
		},
		"docs__versioned__serving__revisions__revision-admin-config-options__config-gc.yaml": {
			RetainSinceCreateTime: time.Duration(GCDisabled), RetainSinceLastActiveTime: time.Duration(GCDisabled),
			MinNonActiveRevisions: 0, MaxNonActiveRevisions: 0,
		},
	}
	seen := 0
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := Decode(fh)
		fh.Close()
		if err != nil {
			continue // other tests own the other manifests
		}
		for _, o := range objs {
			c, ok := o.(*ConfigMap)
			if !ok || c.Name != ConfigMapGC {
				continue
			}
			seen++
			base := filepath.Base(f)
			t.Run(strings.TrimSuffix(base, ".yaml"), func(t *testing.T) {
				got, err := ParseGCConfig(c.Data)
				if err != nil {
					t.Fatalf("ParseGCConfig: %v", err)
				}
				if err := ParseConfigMap(c, DefaultConfig("")); err != nil {
					t.Errorf("ParseConfigMap: %v", err)
				}
				w, ok := want[base]
				if !ok {
					t.Logf("no expected values for %s; parsed as %+v", base, got)
					return
				}
				if diff := cmp.Diff(w, got); diff != "" {
					t.Errorf("ParseGCConfig (-want +got):\n%s", diff)
				}
			})
		}
	}
	if seen < len(want) {
		t.Errorf("found %d config-gc manifests, want at least %d", seen, len(want))
	}
}
