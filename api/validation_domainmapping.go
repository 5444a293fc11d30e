package api

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateDomainMapping checks a DomainMapping: its name is the host it maps,
// and its ref names an object in its own namespace.
func validateDomainMapping(dm *DomainMapping) *FieldError {
	var meta *FieldError
	if dm.GenerateName != "" {
		meta = meta.Also(ErrDisallowedFields("generateName"))
	}
	if errs := validation.IsFullyQualifiedDomainName(field.NewPath("name"), dm.Name); len(errs) > 0 {
		meta = meta.Also(ErrGeneric(fmt.Sprintf("invalid name %q: %s", dm.Name, errs.ToAggregate()), "name"))
	}
	if strings.HasSuffix(dm.Name, "."+ClusterDomain) {
		meta = meta.Also(ErrGeneric(fmt.Sprintf("invalid name %q: must not be a subdomain of cluster local domain %q",
			dm.Name, ClusterDomain), "name"))
	}
	return meta.ViaField("metadata").Also(validateKReference(&dm.Spec.Ref, dm.Namespace).ViaField("spec.ref"))
}

// validateKReference checks a reference: name, kind and apiVersion are
// required and the namespace, once defaulted, is the parent's.
func validateKReference(r *KReference, parentNamespace string) *FieldError {
	var errs *FieldError
	if r.Name == "" {
		errs = errs.Also(ErrMissingField("name"))
	}
	if r.APIVersion == "" {
		errs = errs.Also(ErrMissingField("apiVersion"))
	}
	if r.Kind == "" {
		errs = errs.Also(ErrMissingField("kind"))
	}
	if r.Namespace != "" && parentNamespace != "" && r.Namespace != parentNamespace {
		errs = errs.Also(&FieldError{
			Message: "mismatched namespaces",
			Paths:   []string{"namespace"},
			Details: fmt.Sprintf("parent namespace: %q does not match ref: %q", parentNamespace, r.Namespace),
		})
	}
	return errs
}
