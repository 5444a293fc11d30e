package api

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
)

// Annotation keys validated here, with Knative's names.
const (
	AnnotationRolloutDuration       = "serving.knative.dev/rollout-duration"
	annotationRolloutDurationLegacy = "serving.knative.dev/rolloutDuration"
	AnnotationProgressDeadline      = "serving.knative.dev/progress-deadline"
	autoscalingGroup                = "autoscaling.knative.dev"
)

// templateAnnotationValidator checks the annotations of a revision template
// (or a Revision); errors are relative to the annotations map (use ViaKey).
// Other files of this package (config-autoscaler) add theirs with
// registerTemplateAnnotationValidator.
type templateAnnotationValidator func(annotations map[string]string, cfg *Config) *FieldError

var templateAnnotationValidators []templateAnnotationValidator

// registerTemplateAnnotationValidator adds v to the checks Validate runs on
// revision-template and Revision annotations. Call it from an init function.
func registerTemplateAnnotationValidator(v templateAnnotationValidator) {
	templateAnnotationValidators = append(templateAnnotationValidators, v)
}

// Validate checks obj the way Knative's validating webhook does, with its
// messages and field paths, and returns every problem at once as a
// *FieldError (nil when obj is valid). Call SetDefaults first, as Knative
// does. ConfigMaps are checked with ParseConfigMap against a copy of cfg (cfg
// is never changed). cfg nil means DefaultConfig("").
//
// Gantry differs from Knative on purpose in one place: a container may have
// a command instead of an image, since it can run as a local process.
func Validate(obj Object, cfg *Config) error {
	if cfg == nil {
		cfg = DefaultConfig("")
	}
	switch o := obj.(type) {
	case *Service:
		return validateService(o, cfg).asError()
	case *Configuration:
		return validateConfiguration(o, cfg).asError()
	case *Revision:
		return validateRevision(o, cfg).asError()
	case *Route:
		return validateRoute(o).asError()
	case *DomainMapping:
		return validateDomainMapping(o).asError()
	case *ConfigMap:
		if errs := validateDNS1123Name(o.GetObjectMeta()).ViaField("metadata"); errs != nil {
			return errs
		}
		scratch := *cfg
		return ParseConfigMap(o, &scratch)
	case *Secret:
		errs := validateDNS1123Name(o.GetObjectMeta()).ViaField("metadata")
		if _, ok := o.Annotations[AnnotationRedacted]; ok {
			errs = errs.Also(ErrGeneric("this Secret was printed by gantry get, with its values left out; apply it with its real data", "metadata.annotations."+AnnotationRedacted))
		}
		return errs.asError()
	case nil:
		return fmt.Errorf("no object")
	}
	return fmt.Errorf("%s: kind %q is not validated by Gantry", RefOf(obj), KindOf(obj))
}

func validateService(s *Service, cfg *Config) *FieldError {
	errs := validateObjectMeta(&s.ObjectMeta).
		Also(validateNoAutoscalingAnnotations(s.Annotations).ViaField("annotations")).
		Also(validateRolloutDuration(s.Annotations).ViaField("annotations")).
		ViaField("metadata")
	errs = errs.Also(validateTemplate(&s.Spec.Template, s.ObjectMeta, cfg).ViaField("spec.template"))
	if len(s.Spec.Traffic) == 0 {
		return errs // SetDefaults sends all traffic to the latest revision
	}
	return errs.Also(validateTraffic(s.Spec.Traffic, true).ViaField("spec.traffic"))
}

func validateConfiguration(c *Configuration, cfg *Config) *FieldError {
	errs := validateObjectMeta(&c.ObjectMeta).
		Also(validateNoAutoscalingAnnotations(c.Annotations).ViaField("annotations")).
		ViaField("metadata")
	return errs.Also(validateTemplate(&c.Spec.Template, c.ObjectMeta, cfg).ViaField("spec.template"))
}

func validateRevision(r *Revision, cfg *Config) *FieldError {
	errs := validateObjectMeta(&r.ObjectMeta).
		Also(validateTemplateAnnotations(r.Annotations, cfg).ViaField("annotations")).
		ViaField("metadata")
	return errs.Also(validateRevisionSpec(&r.Spec, cfg).ViaField("spec"))
}

func validateRoute(r *Route) *FieldError {
	errs := validateObjectMeta(&r.ObjectMeta).
		Also(validateRolloutDuration(r.Annotations).ViaField("annotations")).
		ViaField("metadata")
	return errs.Also(validateTraffic(r.Spec.Traffic, false).ViaField("spec.traffic"))
}

// validateTemplate checks a Service's or Configuration's revision template;
// parent is the owner's metadata (for the revision-name prefix rule).
func validateTemplate(t *RevisionTemplateSpec, parent metav1.ObjectMeta, cfg *Config) *FieldError {
	errs := validateRevisionSpec(&t.Spec, cfg).ViaField("spec")
	errs = errs.Also(validateTemplateAnnotations(t.Annotations, cfg).ViaField("metadata.annotations"))
	errs = errs.Also(validateMetaKeys(t.Labels, t.Annotations).ViaField("metadata"))
	return errs.Also(validateRevisionName(t.Name, t.GenerateName, parent))
}

// validateTemplateAnnotations runs the annotation checks that apply where a
// revision's annotations live.
func validateTemplateAnnotations(annotations map[string]string, cfg *Config) *FieldError {
	errs := validateProgressDeadline(annotations)
	for _, v := range templateAnnotationValidators {
		errs = errs.Also(v(annotations, cfg))
	}
	return errs
}

// validateObjectMeta is Knative's name rule: name or generateName is
// required, and each must be a DNS-1035 label (or label prefix).
func validateObjectMeta(m metav1.Object) *FieldError {
	if g := m.GetGenerateName(); g != "" {
		if msgs := validation.NameIsDNS1035Label(g, true); len(msgs) > 0 {
			return ErrGeneric(fmt.Sprintf("not a DNS 1035 label prefix: %v", msgs), "generateName")
		}
	}
	if n := m.GetName(); n != "" {
		if msgs := validation.NameIsDNS1035Label(n, false); len(msgs) > 0 {
			return ErrGeneric(fmt.Sprintf("not a DNS 1035 label: %v", msgs), "name")
		}
	}
	if m.GetName() == "" && m.GetGenerateName() == "" {
		return ErrGeneric("name or generateName is required", "name")
	}
	return validateMetaKeys(m.GetLabels(), m.GetAnnotations())
}

// validateMetaKeys is the Kubernetes API server's rule for label and
// annotation keys (qualified names) and label values, which Knative relies on.
func validateMetaKeys(labels, annotations map[string]string) *FieldError {
	var errs *FieldError
	for _, k := range sortedKeys(labels) {
		if msgs := k8svalidation.IsQualifiedName(k); len(msgs) > 0 {
			errs = errs.Also(ErrInvalidKeyName(k, "labels", msgs...))
		} else if msgs := k8svalidation.IsValidLabelValue(labels[k]); len(msgs) > 0 {
			errs = errs.Also(ErrInvalidValue(labels[k], "labels."+k, msgs...))
		}
	}
	for _, k := range sortedKeys(annotations) {
		if msgs := k8svalidation.IsQualifiedName(strings.ToLower(k)); len(msgs) > 0 {
			errs = errs.Also(ErrInvalidKeyName(k, "annotations", msgs...))
		}
	}
	return errs
}

// validateDNS1123Name is the Kubernetes rule for ConfigMap and Secret names.
func validateDNS1123Name(m metav1.Object) *FieldError {
	if m.GetName() == "" {
		return ErrMissingField("name")
	}
	if msgs := validation.NameIsDNSSubdomain(m.GetName(), false); len(msgs) > 0 {
		return ErrInvalidValue(m.GetName(), "name", msgs...)
	}
	return nil
}

// validateRevisionName checks a template's own name: a DNS-1035 label that
// starts with "{parent}-" (Knative's bring-your-own revision name rule).
func validateRevisionName(name, generateName string, parent metav1.ObjectMeta) *FieldError {
	if generateName != "" {
		if msgs := validation.NameIsDNS1035Label(generateName, true); len(msgs) > 0 {
			return ErrInvalidValue(fmt.Sprint("not a DNS 1035 label prefix: ", msgs), "metadata.generateName")
		}
	}
	if name == "" {
		return nil
	}
	if msgs := validation.NameIsDNS1035Label(name, false); len(msgs) > 0 {
		return ErrInvalidValue(fmt.Sprint("not a DNS 1035 label: ", msgs), "metadata.name")
	}
	if parent.Name == "" && parent.GenerateName != "" {
		// The final parent name is unknown, so no prefix can be checked.
		return ErrDisallowedFields("metadata.name")
	}
	if prefix := parent.Name + "-"; !strings.HasPrefix(name, prefix) {
		return ErrInvalidValue(fmt.Sprintf("%q must have prefix %q", name, prefix), "metadata.name")
	}
	return nil
}

// validateNoAutoscalingAnnotations rejects autoscaling annotations on a
// Service or Configuration, where Knative would silently ignore them.
func validateNoAutoscalingAnnotations(annotations map[string]string) *FieldError {
	var errs *FieldError
	for _, k := range sortedKeys(annotations) {
		if strings.HasPrefix(k, autoscalingGroup) {
			errs = errs.Also(ErrInvalidKeyName(k, CurrentField,
				`autoscaling annotations must be put under "spec.template.metadata.annotations" to work`))
		}
	}
	return errs
}

// validateRolloutDuration checks serving.knative.dev/rollout-duration (or its
// legacy spelling): a non-negative duration in whole seconds.
func validateRolloutDuration(annotations map[string]string) *FieldError {
	for _, k := range []string{AnnotationRolloutDuration, annotationRolloutDurationLegacy} {
		if v := annotations[k]; v != "" {
			return validateSecondsDuration(k, v, "rollout-duration")
		}
	}
	return nil
}

// validateProgressDeadline checks serving.knative.dev/progress-deadline.
func validateProgressDeadline(annotations map[string]string) *FieldError {
	if v := annotations[AnnotationProgressDeadline]; v != "" {
		return validateSecondsDuration(AnnotationProgressDeadline, v, "progress-deadline")
	}
	return nil
}

func validateSecondsDuration(key, value, name string) *FieldError {
	d, err := time.ParseDuration(value)
	switch {
	case err != nil:
		return ErrInvalidValue(value, key)
	case d.Round(time.Second) != d:
		return ErrGeneric(fmt.Sprintf("%s=%s is not at second precision", name, value), key)
	case d < 0:
		return ErrGeneric(fmt.Sprintf("%s=%s must be positive", name, value), key)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
