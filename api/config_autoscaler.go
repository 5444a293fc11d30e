package api

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Autoscaling annotation keys (Knative's autoscaling.knative.dev group).
const (
	AutoscalingGroup = "autoscaling.knative.dev"

	ClassAnnotationKey                    = AutoscalingGroup + "/class"
	MinScaleAnnotationKey                 = AutoscalingGroup + "/min-scale"
	MaxScaleAnnotationKey                 = AutoscalingGroup + "/max-scale"
	InitialScaleAnnotationKey             = AutoscalingGroup + "/initial-scale"
	ActivationScaleAnnotationKey          = AutoscalingGroup + "/activation-scale"
	ScaleDownDelayAnnotationKey           = AutoscalingGroup + "/scale-down-delay"
	MetricAnnotationKey                   = AutoscalingGroup + "/metric"
	TargetAnnotationKey                   = AutoscalingGroup + "/target"
	TargetUtilizationAnnotationKey        = AutoscalingGroup + "/target-utilization-percentage"
	TargetBurstCapacityAnnotationKey      = AutoscalingGroup + "/target-burst-capacity"
	WindowAnnotationKey                   = AutoscalingGroup + "/window"
	PanicWindowPercentageAnnotationKey    = AutoscalingGroup + "/panic-window-percentage"
	PanicThresholdPercentageAnnotationKey = AutoscalingGroup + "/panic-threshold-percentage"
	AggregationAlgorithmAnnotationKey     = AutoscalingGroup + "/metric-aggregation-algorithm"
	ScaleToZeroRetentionAnnotationKey     = AutoscalingGroup + "/scale-to-zero-pod-retention-period"
)

// Autoscaler classes, metrics and aggregation algorithms.
const (
	ClassKPA = "kpa.autoscaling.knative.dev"
	ClassHPA = "hpa.autoscaling.knative.dev"

	MetricConcurrency = "concurrency"
	MetricRPS         = "rps"
	MetricCPU         = "cpu"
	MetricMemory      = "memory"

	AggregationLinear              = "linear"
	AggregationWeightedExponential = "weighted-exponential"
	// aggregationWeightedExponentialAlt is the older camelCase spelling Knative still accepts.
	aggregationWeightedExponentialAlt = "weightedExponential"
)

// Limits of the autoscaling knobs, as Knative defines them.
const (
	TargetMin                   = 0.01
	WindowMin                   = 6 * time.Second
	WindowMax                   = time.Hour
	PanicWindowPercentageMin    = 1.0
	PanicWindowPercentageMax    = 100.0
	PanicThresholdPercentageMin = 110.0
	PanicThresholdPercentageMax = 1000.0
)

// ErrInvalidAutoscalerConfig is wrapped by every error ParseAutoscalerConfig returns.
var ErrInvalidAutoscalerConfig = errors.New("invalid config-autoscaler")

// AutoscalerConfig is config-autoscaler. Percentages are stored as Knative stores
// them: ContainerConcurrencyTargetFraction is a fraction in (0, 1], the panic
// percentages stay percentages.
type AutoscalerConfig struct {
	EnableScaleToZero                  bool
	ContainerConcurrencyTargetFraction float64
	ContainerConcurrencyTargetDefault  float64
	// TargetUtilization applies to metrics other than concurrency (rps). It has no
	// key of its own; the target-utilization-percentage annotation overrides it.
	TargetUtilization        float64
	RPSTargetDefault         float64
	TargetBurstCapacity      float64
	ActivatorCapacity        float64
	AllowZeroInitialScale    bool
	InitialScale             int32
	MinScale                 int32
	MaxScale                 int32
	MaxScaleLimit            int32
	MaxScaleUpRate           float64
	MaxScaleDownRate         float64
	StableWindow             time.Duration
	PanicWindowPercentage    float64
	PanicThresholdPercentage float64
	ScaleToZeroGracePeriod   time.Duration
	// ScaleToZeroPodRetentionPeriod is the minimum time the last pod stays after the
	// decision to scale to zero.
	ScaleToZeroPodRetentionPeriod time.Duration
	ScaleDownDelay                time.Duration
	PodAutoscalerClass            string
}

// DefaultAutoscalerConfig returns Knative's defaults (config/core/configmaps/autoscaler.yaml).
func DefaultAutoscalerConfig() AutoscalerConfig {
	return AutoscalerConfig{
		EnableScaleToZero:                  true,
		ContainerConcurrencyTargetFraction: 0.7,
		ContainerConcurrencyTargetDefault:  100,
		TargetUtilization:                  0.7,
		RPSTargetDefault:                   200,
		TargetBurstCapacity:                211,
		ActivatorCapacity:                  100,
		AllowZeroInitialScale:              false,
		InitialScale:                       1,
		MinScale:                           0,
		MaxScale:                           0,
		MaxScaleLimit:                      0,
		MaxScaleUpRate:                     1000,
		MaxScaleDownRate:                   2,
		StableWindow:                       60 * time.Second,
		PanicWindowPercentage:              10,
		PanicThresholdPercentage:           200,
		ScaleToZeroGracePeriod:             30 * time.Second,
		ScaleToZeroPodRetentionPeriod:      0,
		ScaleDownDelay:                     0,
		PodAutoscalerClass:                 ClassKPA,
	}
}

// configError carries Knative's message verbatim and still matches ErrInvalidAutoscalerConfig.
type configError struct{ msg string }

func (e *configError) Error() string        { return e.msg }
func (e *configError) Is(target error) bool { return target == ErrInvalidAutoscalerConfig }

func configErrorf(format string, args ...any) error {
	return &configError{msg: fmt.Sprintf(format, args...)}
}

// ParseAutoscalerConfig reads config-autoscaler data over Knative's defaults and
// validates it with Knative's rules and messages. Unknown keys (including the
// retired tick-interval and panic-window) are ignored, as Knative does.
func ParseAutoscalerConfig(data map[string]string) (AutoscalerConfig, error) {
	c := DefaultAutoscalerConfig()
	p := cmParser{data: data}
	p.str("pod-autoscaler-class", &c.PodAutoscalerClass)
	p.boolean("enable-scale-to-zero", &c.EnableScaleToZero)
	p.boolean("allow-zero-initial-scale", &c.AllowZeroInitialScale)
	p.float("max-scale-up-rate", &c.MaxScaleUpRate)
	p.float("max-scale-down-rate", &c.MaxScaleDownRate)
	p.float("container-concurrency-target-percentage", &c.ContainerConcurrencyTargetFraction)
	p.float("container-concurrency-target-default", &c.ContainerConcurrencyTargetDefault)
	p.float("requests-per-second-target-default", &c.RPSTargetDefault)
	p.float("target-burst-capacity", &c.TargetBurstCapacity)
	p.float("panic-window-percentage", &c.PanicWindowPercentage)
	p.float("activator-capacity", &c.ActivatorCapacity)
	p.float("panic-threshold-percentage", &c.PanicThresholdPercentage)
	p.int32("initial-scale", &c.InitialScale)
	p.int32("min-scale", &c.MinScale)
	p.int32("max-scale", &c.MaxScale)
	p.int32("max-scale-limit", &c.MaxScaleLimit)
	p.duration("stable-window", &c.StableWindow)
	p.duration("scale-down-delay", &c.ScaleDownDelay)
	p.duration("scale-to-zero-grace-period", &c.ScaleToZeroGracePeriod)
	p.duration("scale-to-zero-pod-retention-period", &c.ScaleToZeroPodRetentionPeriod)
	if p.err != nil {
		return AutoscalerConfig{}, &configError{msg: "failed to parse data: " + p.err.Error()}
	}
	// Legacy form: values in (0, 1] are fractions, anything above is a percentage.
	if c.ContainerConcurrencyTargetFraction > 1.0 {
		c.ContainerConcurrencyTargetFraction /= 100.0
	}
	if err := c.Validate(); err != nil {
		return AutoscalerConfig{}, err
	}
	return c, nil
}

// Validate applies Knative's config-autoscaler rules, in Knative's order.
func (c AutoscalerConfig) Validate() error {
	switch {
	case c.ScaleToZeroGracePeriod <= 0:
		return configErrorf("scale-to-zero-grace-period must be positive, was: %v", c.ScaleToZeroGracePeriod)
	case c.ScaleDownDelay < 0:
		return configErrorf("scale-down-delay cannot be negative, was: %v", c.ScaleDownDelay)
	case c.ScaleDownDelay.Round(time.Second) != c.ScaleDownDelay:
		return configErrorf("scale-down-delay = %v, must be specified with at most second precision", c.ScaleDownDelay)
	case c.ScaleToZeroPodRetentionPeriod < 0:
		return configErrorf("scale-to-zero-pod-retention-period cannot be negative, was: %v", c.ScaleToZeroPodRetentionPeriod)
	case c.TargetBurstCapacity < 0 && c.TargetBurstCapacity != -1:
		return configErrorf("target-burst-capacity must be either non-negative or -1 (for unlimited), was: %f", c.TargetBurstCapacity)
	case c.ContainerConcurrencyTargetFraction <= 0 || c.ContainerConcurrencyTargetFraction > 1:
		return configErrorf("container-concurrency-target-percentage = %f is outside of valid range of (0, 100]", c.ContainerConcurrencyTargetFraction)
	}
	if x := c.ContainerConcurrencyTargetFraction * c.ContainerConcurrencyTargetDefault; x < TargetMin {
		return configErrorf("container-concurrency-target-percentage and container-concurrency-target-default yield target concurrency of %v, can't be less than %v", x, TargetMin)
	}
	switch {
	case c.RPSTargetDefault < TargetMin:
		return configErrorf("requests-per-second-target-default must be at least %v, was: %v", TargetMin, c.RPSTargetDefault)
	case c.ActivatorCapacity < 1:
		return configErrorf("activator-capacity = %v, must be at least 1", c.ActivatorCapacity)
	case c.MaxScaleUpRate <= 1.0:
		return configErrorf("max-scale-up-rate = %v, must be greater than 1.0", c.MaxScaleUpRate)
	case c.MaxScaleDownRate <= 1.0:
		return configErrorf("max-scale-down-rate = %v, must be greater than 1.0", c.MaxScaleDownRate)
	case c.StableWindow < WindowMin || c.StableWindow > WindowMax:
		return configErrorf("stable-window = %v, must be in [%v; %v] range", c.StableWindow, WindowMin, WindowMax)
	case c.StableWindow.Round(time.Second) != c.StableWindow:
		return configErrorf("stable-window = %v, must be specified with at most second precision", c.StableWindow)
	case c.PanicWindowPercentage < PanicWindowPercentageMin || c.PanicWindowPercentage > PanicWindowPercentageMax:
		return configErrorf("panic-window-percentage = %v, must be in [%v, %v] interval", c.PanicWindowPercentage, PanicWindowPercentageMin, PanicWindowPercentageMax)
	case c.InitialScale < 0 || (c.InitialScale == 0 && !c.AllowZeroInitialScale):
		return configErrorf("initial-scale = %v, must be at least 0 (or at least 1 when allow-zero-initial-scale is false)", c.InitialScale)
	case c.MinScale < 0:
		return configErrorf("min-scale = %v, must be at least 0", c.MinScale)
	}
	var minMaxScale int32
	if c.MaxScaleLimit > 0 {
		minMaxScale = 1 // a default max-scale is required once a limit is set
	}
	switch {
	case c.MaxScale < minMaxScale || (c.MaxScaleLimit > 0 && c.MaxScale > c.MaxScaleLimit):
		return configErrorf("max-scale = %d, must be in [%d, max-scale-limit(%d)] range", c.MaxScale, minMaxScale, c.MaxScaleLimit)
	case c.MaxScaleLimit < 0:
		return configErrorf("max-scale-limit = %v, must be at least 0", c.MaxScaleLimit)
	case c.MinScale > c.MaxScale && c.MaxScale > 0:
		return configErrorf("min-scale (%d) must be less than max-scale (%d)", c.MinScale, c.MaxScale)
	}
	return nil
}

// cmParser reads typed values from ConfigMap data, keeping the first error
// worded as Knative's configmap parser words it.
type cmParser struct {
	data map[string]string
	err  error
}

func (p *cmParser) raw(key string) (string, bool) {
	if p.err != nil {
		return "", false
	}
	v, ok := p.data[key]
	return v, ok
}

func (p *cmParser) fail(key string, err error) {
	p.err = fmt.Errorf("failed to parse %q: %w", key, err)
}

func (p *cmParser) str(key string, dst *string) {
	if v, ok := p.raw(key); ok {
		*dst = strings.TrimSpace(v)
	}
}

func (p *cmParser) boolean(key string, dst *bool) {
	if v, ok := p.raw(key); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			p.fail(key, err)
			return
		}
		*dst = b
	}
}

func (p *cmParser) float(key string, dst *float64) {
	if v, ok := p.raw(key); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			p.fail(key, err)
			return
		}
		*dst = f
	}
}

func (p *cmParser) int32(key string, dst *int32) {
	if v, ok := p.raw(key); ok {
		i, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			p.fail(key, err)
			return
		}
		*dst = int32(i)
	}
}

func (p *cmParser) duration(key string, dst *time.Duration) {
	if v, ok := p.raw(key); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			p.fail(key, err)
			return
		}
		*dst = d
	}
}

// keyPriority lists an annotation's current key first, then its legacy spellings;
// the first one present wins, as in Knative's kmap.KeyPriority.
type keyPriority []string

func (p keyPriority) get(m map[string]string) (key, value string, ok bool) {
	for _, k := range p {
		if v, ok := m[k]; ok {
			return k, v, true
		}
	}
	return p[0], "", false
}

func legacy(key, camel string) keyPriority { return keyPriority{key, AutoscalingGroup + "/" + camel} }

// Annotation keys with their legacy camelCase spellings (Knative's register.go).
var (
	classKeys               = keyPriority{ClassAnnotationKey}
	metricKeys              = keyPriority{MetricAnnotationKey}
	targetKeys              = keyPriority{TargetAnnotationKey}
	windowKeys              = keyPriority{WindowAnnotationKey}
	activationScaleKeys     = keyPriority{ActivationScaleAnnotationKey}
	minScaleKeys            = legacy(MinScaleAnnotationKey, "minScale")
	maxScaleKeys            = legacy(MaxScaleAnnotationKey, "maxScale")
	initialScaleKeys        = legacy(InitialScaleAnnotationKey, "initialScale")
	algorithmKeys           = legacy(AggregationAlgorithmAnnotationKey, "metricAggregationAlgorithm")
	panicThresholdKeys      = legacy(PanicThresholdPercentageAnnotationKey, "panicThresholdPercentage")
	panicWindowKeys         = legacy(PanicWindowPercentageAnnotationKey, "panicWindowPercentage")
	scaleDownDelayKeys      = legacy(ScaleDownDelayAnnotationKey, "scaleDownDelay")
	retentionKeys           = legacy(ScaleToZeroRetentionAnnotationKey, "scaleToZeroPodRetentionPeriod")
	targetBurstCapacityKeys = legacy(TargetBurstCapacityAnnotationKey, "targetBurstCapacity")
	targetUtilizationKeys   = legacy(TargetUtilizationAnnotationKey, "targetUtilizationPercentage")
)

// RevisionScaling is a revision's effective autoscaling settings: its
// annotations resolved over config-autoscaler.
type RevisionScaling struct {
	Class  string // annotation, else config pod-autoscaler-class
	Metric string // annotation, else concurrency for KPA, cpu for HPA
	// MinScale and MaxScale come from the annotations, else the config; MaxScale 0 is unbounded.
	MinScale, MaxScale int32
	// InitialScale is resolved as Knative's GetInitialScale: an annotation of 0 is
	// ignored unless the cluster allows zero initial scale.
	InitialScale    int32
	ActivationScale int32   // 0 when unset
	Target          float64 // the target annotation; 0 when unset (a set target is ≥ 0.01)
	// TargetUtilization is a fraction: the annotation / 100, else the config's
	// concurrency fraction (concurrency) or TargetUtilization (other metrics).
	TargetUtilization             float64
	TargetBurstCapacity           float64
	StableWindow                  time.Duration
	PanicWindowPercentage         float64
	PanicThresholdPercentage      float64
	ScaleDownDelay                time.Duration
	ScaleToZeroPodRetentionPeriod time.Duration
	AggregationAlgorithm          string // linear or weighted-exponential
}

// ParseAutoscalingAnnotations validates a revision's autoscaling annotations
// (see ValidateAutoscalingAnnotations; the error is a *FieldError) and resolves
// them over cfg.
func ParseAutoscalingAnnotations(ann map[string]string, cfg AutoscalerConfig) (RevisionScaling, error) {
	if fe := ValidateAutoscalingAnnotations(ann, cfg); fe != nil {
		return RevisionScaling{}, fe
	}
	rs := RevisionScaling{
		Class:                         cfg.PodAutoscalerClass,
		MinScale:                      cfg.MinScale,
		MaxScale:                      cfg.MaxScale,
		InitialScale:                  cfg.InitialScale,
		TargetBurstCapacity:           cfg.TargetBurstCapacity,
		StableWindow:                  cfg.StableWindow,
		PanicWindowPercentage:         cfg.PanicWindowPercentage,
		PanicThresholdPercentage:      cfg.PanicThresholdPercentage,
		ScaleDownDelay:                cfg.ScaleDownDelay,
		ScaleToZeroPodRetentionPeriod: cfg.ScaleToZeroPodRetentionPeriod,
		AggregationAlgorithm:          AggregationLinear,
	}
	if _, v, ok := classKeys.get(ann); ok {
		rs.Class = v
	}
	if rs.Class == "" {
		rs.Class = ClassKPA
	}
	switch _, v, ok := metricKeys.get(ann); {
	case ok:
		rs.Metric = v
	case rs.Class == ClassKPA:
		rs.Metric = MetricConcurrency
	case rs.Class == ClassHPA:
		rs.Metric = MetricCPU
	}
	// Validation passed, so every value present parses.
	if _, v, ok := minScaleKeys.get(ann); ok {
		rs.MinScale = mustInt32(v)
	}
	if _, v, ok := maxScaleKeys.get(ann); ok {
		rs.MaxScale = mustInt32(v)
	}
	if _, v, ok := initialScaleKeys.get(ann); ok {
		if i := mustInt32(v); i != 0 || cfg.AllowZeroInitialScale {
			rs.InitialScale = i
		}
	}
	if _, v, ok := activationScaleKeys.get(ann); ok {
		rs.ActivationScale = mustInt32(v)
	}
	if _, v, ok := targetKeys.get(ann); ok {
		rs.Target = mustFloat(v)
	}
	rs.TargetUtilization = cfg.TargetUtilization
	if rs.Metric != MetricRPS {
		rs.TargetUtilization = cfg.ContainerConcurrencyTargetFraction
	}
	if _, v, ok := targetUtilizationKeys.get(ann); ok {
		rs.TargetUtilization = mustFloat(v) / 100
	}
	if _, v, ok := targetBurstCapacityKeys.get(ann); ok {
		rs.TargetBurstCapacity = mustFloat(v)
	}
	if _, v, ok := windowKeys.get(ann); ok {
		rs.StableWindow = mustDuration(v)
	}
	if _, v, ok := panicWindowKeys.get(ann); ok {
		rs.PanicWindowPercentage = mustFloat(v)
	}
	if _, v, ok := panicThresholdKeys.get(ann); ok {
		rs.PanicThresholdPercentage = mustFloat(v)
	}
	if _, v, ok := scaleDownDelayKeys.get(ann); ok {
		rs.ScaleDownDelay = mustDuration(v)
	}
	if _, v, ok := retentionKeys.get(ann); ok {
		rs.ScaleToZeroPodRetentionPeriod = mustDuration(v)
	}
	// Anything but the weighted spellings averages linearly, as in Knative.
	if _, v, ok := algorithmKeys.get(ann); ok && (v == AggregationWeightedExponential || v == aggregationWeightedExponentialAlt) {
		rs.AggregationAlgorithm = AggregationWeightedExponential
	}
	return rs, nil
}

func mustInt32(s string) int32 {
	i, _ := strconv.ParseInt(s, 10, 32)
	return int32(i)
}

func mustFloat(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

func mustDuration(s string) time.Duration {
	d, _ := time.ParseDuration(s)
	return d
}

// ValidateAutoscalingAnnotations checks autoscaling annotations as Knative's
// ValidateAnnotations does, with the same messages; paths are the annotation
// keys as written (legacy spellings included).
func ValidateAutoscalingAnnotations(m map[string]string, cfg AutoscalerConfig) *FieldError {
	var errs *FieldError
	// Class: other *.knative.dev classes are typos; foreign classes are left alone.
	if k, v, ok := classKeys.get(m); ok && strings.HasSuffix(v, ".knative.dev") && v != ClassKPA && v != ClassHPA {
		errs = errs.Also(ErrInvalidValue(v, k))
	}
	errs = errs.Also(validateMinMaxScale(m, cfg), validateFloats(m), validateDurations(m))
	if _, metric, ok := metricKeys.get(m); ok {
		class := cfg.PodAutoscalerClass
		if _, c, ok := classKeys.get(m); ok {
			class = c
		}
		bad := false
		switch class {
		case ClassKPA:
			bad = metric != MetricConcurrency && metric != MetricRPS
		case ClassHPA:
			bad = metric == ""
		}
		if bad {
			errs = errs.Also(ErrInvalidValue(metric, MetricAnnotationKey))
		}
	}
	// Only KPA's algorithms are known; other classes may define their own.
	if _, class, _ := classKeys.get(m); class == ClassKPA {
		if k, v, _ := algorithmKeys.get(m); v != "" && v != AggregationLinear &&
			v != AggregationWeightedExponential && v != aggregationWeightedExponentialAlt {
			errs = errs.Also(ErrInvalidValue(v, k))
		}
	}
	if k, v, ok := initialScaleKeys.get(m); ok {
		switch i, err := strconv.Atoi(v); {
		case err != nil:
			errs = errs.Also(ErrInvalidValue(v, k))
		case i < 0:
			errs = errs.Also(ErrInvalidValue(v, k+" must be greater than 0"))
		case i == 0 && !cfg.AllowZeroInitialScale:
			errs = errs.Also(ErrInvalidValue(v, k+"=0 not allowed by cluster"))
		}
	}
	return errs
}

// intGE0 parses a non-negative int32 annotation; out-of-range and negative
// values report bounds, anything else an invalid value.
func intGE0(m map[string]string, keys keyPriority) (int32, *FieldError) {
	k, v, ok := keys.get(m)
	if !ok {
		return 0, nil
	}
	i, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, ErrOutOfBoundsValue(v, 0, math.MaxInt32, k)
		}
		return 0, ErrInvalidValue(v, k)
	}
	if i < 0 {
		return 0, ErrOutOfBoundsValue(v, 0, math.MaxInt32, k)
	}
	return int32(i), nil
}

func validateMinMaxScale(m map[string]string, cfg AutoscalerConfig) *FieldError {
	lo, errs := intGE0(m, minScaleKeys)
	hi, err := intGE0(m, maxScaleKeys)
	errs = errs.Also(err)
	if hi != 0 && hi < lo {
		errs = errs.Also(&FieldError{
			Message: fmt.Sprintf("max-scale=%d is less than min-scale=%d", hi, lo),
			Paths:   []string{MaxScaleAnnotationKey, MinScaleAnnotationKey},
		})
	}
	if k, _, ok := maxScaleKeys.get(m); ok && cfg.MaxScaleLimit > 0 {
		if hi > cfg.MaxScaleLimit {
			errs = errs.Also(ErrOutOfBoundsValue(hi, 1, cfg.MaxScaleLimit, k))
		}
		if hi == 0 {
			errs = errs.Also(&FieldError{Message: fmt.Sprint("max-scale=0 (unlimited), must be less than ", cfg.MaxScaleLimit), Paths: []string{k}})
		}
	}
	if k, v, ok := activationScaleKeys.get(m); ok {
		as, perr := strconv.ParseInt(v, 10, 32)
		switch {
		case perr != nil:
			errs = errs.Also(ErrInvalidValue(v, k))
		case lo > int32(as):
			errs = errs.Also(&FieldError{Message: fmt.Sprintf("min-scale=%d is greater than activation-scale=%d", lo, as), Paths: []string{k}})
		case hi < int32(as) && hi != 0:
			errs = errs.Also(&FieldError{Message: fmt.Sprintf("max-scale=%d is less than activation-scale=%d", hi, as), Paths: []string{k}})
		case as < 2:
			errs = errs.Also(&FieldError{Message: fmt.Sprintf("activation-scale=%d must be greater than 1", as), Paths: []string{k}})
		}
	}
	return errs
}

func validateFloats(m map[string]string) *FieldError {
	var errs *FieldError
	if k, v, ok := panicWindowKeys.get(m); ok {
		if f, err := strconv.ParseFloat(v, 64); err != nil {
			errs = errs.Also(ErrInvalidValue(v, k))
		} else if f < PanicWindowPercentageMin || f > PanicWindowPercentageMax {
			errs = errs.Also(ErrOutOfBoundsValue(v, PanicWindowPercentageMin, PanicWindowPercentageMax, k))
		}
	}
	if k, v, ok := panicThresholdKeys.get(m); ok {
		if f, err := strconv.ParseFloat(v, 64); err != nil {
			errs = errs.Also(ErrInvalidValue(v, k))
		} else if f < PanicThresholdPercentageMin || f > PanicThresholdPercentageMax {
			errs = errs.Also(ErrOutOfBoundsValue(v, PanicThresholdPercentageMin, PanicThresholdPercentageMax, k))
		}
	}
	if k, v, ok := targetKeys.get(m); ok {
		if f, err := strconv.ParseFloat(v, 64); err != nil {
			errs = errs.Also(ErrInvalidValue(v, k))
		} else if f < TargetMin {
			errs = errs.Also(&FieldError{Message: fmt.Sprintf("target %s should be at least %g", v, TargetMin), Paths: []string{k}})
		}
	}
	if k, v, ok := targetUtilizationKeys.get(m); ok {
		if f, err := strconv.ParseFloat(v, 64); err != nil {
			errs = errs.Also(ErrInvalidValue(v, k))
		} else if f < 1 || f > 100 {
			errs = errs.Also(ErrOutOfBoundsValue(v, 1, 100, k))
		}
	}
	if k, v, ok := targetBurstCapacityKeys.get(m); ok {
		if f, err := strconv.ParseFloat(v, 64); err != nil || f < 0 && f != -1 {
			errs = errs.Also(ErrInvalidValue(v, k))
		}
	}
	return errs
}

func validateDurations(m map[string]string) *FieldError {
	var errs *FieldError
	if _, v, ok := windowKeys.get(m); ok {
		switch d, err := time.ParseDuration(v); {
		case err != nil:
			errs = errs.Also(ErrInvalidValue(v, WindowAnnotationKey))
		case d < WindowMin || d > WindowMax:
			errs = errs.Also(ErrOutOfBoundsValue(v, WindowMin, WindowMax, WindowAnnotationKey))
		case d.Truncate(time.Second) != d:
			errs = errs.Also(&FieldError{Message: "must be specified with at most second precision", Paths: []string{WindowAnnotationKey}})
		}
	}
	if k, v, ok := retentionKeys.get(m); ok {
		if d, err := time.ParseDuration(v); err != nil {
			errs = errs.Also(ErrInvalidValue(v, k))
		} else if d < 0 || d > WindowMax {
			errs = errs.Also(ErrOutOfBoundsValue(v, time.Duration(0), WindowMax, k))
		}
	}
	if k, v, ok := scaleDownDelayKeys.get(m); ok {
		switch d, err := time.ParseDuration(v); {
		case err != nil:
			errs = errs.Also(ErrInvalidValue(v, k))
		case d < 0 || d > WindowMax:
			errs = errs.Also(ErrOutOfBoundsValue(v, 0*time.Second, WindowMax, k))
		case d.Round(time.Second) != d:
			errs = errs.Also(&FieldError{Message: "must be specified with at most second precision", Paths: []string{k}})
		}
	}
	return errs
}
