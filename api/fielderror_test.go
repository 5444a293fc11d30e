package api

import (
	"errors"
	"testing"
)

func TestFieldErrorFormatting(t *testing.T) {
	tests := []struct {
		name string
		err  *FieldError
		want string
	}{{
		name: "nested paths",
		err:  ErrMissingField("image").ViaFieldIndex("containers", 0).ViaField("spec").ViaField("spec.template"),
		want: "missing field(s): spec.template.spec.containers[0].image",
	}, {
		name: "current field is dropped",
		err:  ErrGeneric("Traffic targets sum to 90, want 100", CurrentField).ViaField("spec.traffic"),
		want: "Traffic targets sum to 90, want 100: spec.traffic",
	}, {
		name: "array value",
		err:  ErrInvalidArrayValue("x", "tag", 1).ViaField("spec.traffic"),
		want: "invalid value: x: spec.traffic.tag[1]",
	}, {
		name: "key",
		err:  ErrInvalidValue("x", "min-scale").ViaFieldKey("annotations", "autoscaling.knative.dev"),
		want: "invalid value: x: annotations[autoscaling.knative.dev].min-scale",
	}, {
		name: "same message merges paths, sorted; messages sorted; details on next line",
		err: ErrMissingField("b").Also(ErrMissingField("a"), nil,
			&FieldError{Message: "more than one container port is set", Paths: []string{"ports"}, Details: "Only a single port"}),
		want: "missing field(s): a, b\nmore than one container port is set: ports\nOnly a single port",
	}, {
		name: "also keeps receiver intact",
		err: func() *FieldError {
			base := ErrMissingField("a")
			_ = base.Also(ErrMissingField("b"))
			return base
		}(),
		want: "missing field(s): a",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestFieldErrorNil(t *testing.T) {
	var fe *FieldError
	if fe.Also(nil, nil) != nil || fe.ViaField("x") != nil || fe.asError() != nil {
		t.Error("nil FieldError must stay nil")
	}
	if got := fe.Also(ErrMissingField("a")).Error(); got != "missing field(s): a" {
		t.Errorf("nil.Also = %q", got)
	}
	var target *FieldError
	if err := Validate(&Service{}, nil); !errors.As(err, &target) || len(target.Errors()) == 0 {
		t.Errorf("Validate must return a *FieldError, got %T", err)
	}
}
