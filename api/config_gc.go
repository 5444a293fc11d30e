package api

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// GCDisabled is how config-gc stores a setting set to "disabled": -1 for
// max-non-active-revisions and time.Duration(-1) for the retention durations,
// as Knative stores them.
const GCDisabled = -1

// gcDisabledValue is the config-gc value that turns a setting off (any case).
const gcDisabledValue = "disabled"

// config-gc keys, as Knative names them.
const (
	GCRetainSinceCreateTimeKey     = "retain-since-create-time"
	GCRetainSinceLastActiveTimeKey = "retain-since-last-active-time"
	GCMinNonActiveRevisionsKey     = "min-non-active-revisions"
	GCMaxNonActiveRevisionsKey     = "max-non-active-revisions"
)

// ErrInvalidGCConfig is wrapped by every error ParseGCConfig returns.
var ErrInvalidGCConfig = errors.New("invalid config-gc")

// GCConfig is config-gc: when the revisions a Configuration no longer routes
// to are deleted.
type GCConfig struct {
	// RetainSinceCreateTime keeps a revision this long after its creation;
	// time.Duration(GCDisabled) turns the check off.
	RetainSinceCreateTime time.Duration
	// RetainSinceLastActiveTime keeps a revision this long after it last
	// received traffic; time.Duration(GCDisabled) turns the check off.
	RetainSinceLastActiveTime time.Duration
	// MinNonActiveRevisions is how many non-active revisions are always kept.
	MinNonActiveRevisions int64
	// MaxNonActiveRevisions caps the non-active revisions kept whatever their
	// age; GCDisabled means no cap.
	MaxNonActiveRevisions int64
}

// DefaultGCConfig returns Knative's defaults (config/core/configmaps/gc.yaml).
func DefaultGCConfig() GCConfig {
	return GCConfig{
		RetainSinceCreateTime:     48 * time.Hour,
		RetainSinceLastActiveTime: 15 * time.Hour,
		MinNonActiveRevisions:     20,
		MaxNonActiveRevisions:     1000,
	}
}

// gcError carries Knative's message verbatim and matches ErrInvalidGCConfig.
type gcError struct{ msg string }

func (e *gcError) Error() string        { return e.msg }
func (e *gcError) Is(target error) bool { return target == ErrInvalidGCConfig }

func gcErrorf(format string, args ...any) error {
	return &gcError{msg: fmt.Sprintf(format, args...)}
}

// ParseGCConfig reads config-gc data over Knative's defaults and validates it
// with Knative's rules and messages. Values are read as Knative reads them:
// untrimmed, an empty duration or max keeps the default, and "disabled" (any
// case) turns a duration or the max off. Unknown keys are ignored.
func ParseGCConfig(data map[string]string) (GCConfig, error) {
	c := DefaultGCConfig()
	if raw, ok := data[GCMinNonActiveRevisionsKey]; ok {
		v, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return GCConfig{}, gcErrorf("failed to parse data: failed to parse %q: %v", GCMinNonActiveRevisionsKey, err)
		}
		c.MinNonActiveRevisions = v
	}
	if err := parseDisabledOrDuration(data[GCRetainSinceCreateTimeKey], &c.RetainSinceCreateTime); err != nil {
		return GCConfig{}, gcErrorf("failed to parse %s: %v", GCRetainSinceCreateTimeKey, err)
	}
	if err := parseDisabledOrDuration(data[GCRetainSinceLastActiveTimeKey], &c.RetainSinceLastActiveTime); err != nil {
		return GCConfig{}, gcErrorf("failed to parse %s: %v", GCRetainSinceLastActiveTimeKey, err)
	}
	if err := parseDisabledOrInt64(data[GCMaxNonActiveRevisionsKey], &c.MaxNonActiveRevisions); err != nil {
		return GCConfig{}, gcErrorf("failed to parse %s: %v", GCMaxNonActiveRevisionsKey, err)
	}
	if err := c.Validate(); err != nil {
		return GCConfig{}, err
	}
	return c, nil
}

// Validate applies Knative's config-gc rules on the revision counts.
func (c GCConfig) Validate() error {
	if c.MinNonActiveRevisions < 0 {
		return gcErrorf("%s must be non-negative, was: %d", GCMinNonActiveRevisionsKey, c.MinNonActiveRevisions)
	}
	if c.MaxNonActiveRevisions >= 0 && c.MinNonActiveRevisions > c.MaxNonActiveRevisions {
		return gcErrorf("%s(%d) must be <= %s(%d)", GCMinNonActiveRevisionsKey, c.MinNonActiveRevisions,
			GCMaxNonActiveRevisionsKey, c.MaxNonActiveRevisions)
	}
	return nil
}

// parseDisabledOrDuration sets *dst from a non-negative duration or
// "disabled"; an empty value leaves *dst unchanged.
func parseDisabledOrDuration(raw string, dst *time.Duration) error {
	switch {
	case raw == "":
		return nil
	case strings.EqualFold(raw, gcDisabledValue):
		*dst = time.Duration(GCDisabled)
		return nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		return err
	}
	if d < 0 {
		return errors.New("must be non-negative")
	}
	*dst = d
	return nil
}

// parseDisabledOrInt64 sets *dst from a non-negative integer or "disabled";
// an empty value leaves *dst unchanged.
func parseDisabledOrInt64(raw string, dst *int64) error {
	switch {
	case raw == "":
		return nil
	case strings.EqualFold(raw, gcDisabledValue):
		*dst = GCDisabled
		return nil
	}
	v, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		return err
	}
	if v > math.MaxInt64 {
		return fmt.Errorf("value should be lower than %d", int64(math.MaxInt64))
	}
	*dst = int64(v)
	return nil
}

func init() {
	registerConfigMap(ConfigMapGC, func(data map[string]string, cfg *Config) error {
		c, err := ParseGCConfig(data)
		if err != nil {
			return err
		}
		cfg.GC = c
		return nil
	})
}
