package api

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation"
)

// validateTraffic checks a spec's traffic list with Knative's rules; errors
// are relative to the list ("[0].percent"). In a Service every target
// implicitly names the Service's own configuration.
func validateTraffic(traffic []TrafficTarget, inService bool) *FieldError {
	var errs *FieldError
	firstUse := map[string]int{}
	var sum int64
	for i := range traffic {
		tt := &traffic[i]
		errs = errs.Also(validateTrafficTarget(tt, inService).ViaIndex(i))
		if tt.Percent != nil {
			sum += *tt.Percent
		}
		if tt.Tag == "" {
			continue
		}
		if msgs := validation.IsDNS1035Label(tt.Tag); len(msgs) > 0 {
			errs = errs.Also(ErrInvalidArrayValue(fmt.Sprint("not a DNS 1035 label: ", msgs), "tag", i))
		}
		if j, ok := firstUse[tt.Tag]; ok {
			// One tag, one host: even two targets naming the same revision clash.
			errs = errs.Also(ErrGeneric(fmt.Sprintf("Multiple definitions for %q", tt.Tag),
				fmt.Sprintf("[%d].tag", i), fmt.Sprintf("[%d].tag", j)))
		} else {
			firstUse[tt.Tag] = i
		}
	}
	if sum != 100 {
		errs = errs.Also(ErrGeneric(fmt.Sprintf("Traffic targets sum to %d, want 100", sum), CurrentField))
	}
	return errs
}

// validateTrafficTarget checks one spec traffic target.
func validateTrafficTarget(tt *TrafficTarget, inService bool) *FieldError {
	var errs *FieldError
	// latestRevision and revisionName must agree on whether the target floats.
	if tt.LatestRevision != nil && *tt.LatestRevision == (tt.RevisionName != "") {
		errs = errs.Also(ErrGeneric(fmt.Sprintf("may not set revisionName %q when latestRevision is %t",
			tt.RevisionName, *tt.LatestRevision), "latestRevision"))
	}
	switch {
	case inService && tt.ConfigurationName != "":
		errs = errs.Also(ErrDisallowedFields("configurationName"))
	case tt.RevisionName != "" && tt.ConfigurationName != "":
		errs = errs.Also(ErrMultipleOneOf("revisionName", "configurationName"))
	case tt.RevisionName != "":
		if msgs := validation.IsQualifiedName(tt.RevisionName); len(msgs) > 0 {
			errs = errs.Also(ErrInvalidKeyName(tt.RevisionName, "revisionName", msgs...))
		}
	case tt.ConfigurationName != "":
		if msgs := validation.IsQualifiedName(tt.ConfigurationName); len(msgs) > 0 {
			errs = errs.Also(ErrInvalidKeyName(tt.ConfigurationName, "configurationName", msgs...))
		}
	case inService:
		// The Service's own configuration is implied.
	default:
		errs = errs.Also(ErrMissingOneOf("revisionName", "configurationName"))
	}
	if tt.Percent != nil && (*tt.Percent < 0 || *tt.Percent > 100) {
		errs = errs.Also(ErrOutOfBoundsValue(*tt.Percent, 0, 100, "percent"))
	}
	// The URL is status, computed by Gantry; in a spec it is always an error
	// (twice over without a tag, which Knative reports as one merged problem).
	if tt.URL != "" {
		errs = errs.Also(ErrDisallowedFields("url"))
	}
	return errs
}
