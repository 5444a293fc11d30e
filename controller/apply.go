package controller

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/store"
)

// Applied says what apply did to one object.
type Applied struct {
	Kind      string       `json:"kind"`
	Namespace string       `json:"namespace"`
	Name      string       `json:"name"`
	Result    store.Result `json:"result"`
}

// ErrInvalid marks an apply refused because of the objects themselves (the
// caller's fault), as opposed to a store failure. Test with errors.Is.
var ErrInvalid = errors.New("invalid")

// invalidError is an ErrInvalid whose message is only the problem itself.
type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

// Invalid returns an ErrInvalid error with the given message.
func Invalid(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

// Apply defaults and validates every object, then stores all of them in one
// transaction. One invalid object refuses the whole batch, so nothing stored
// changes. ConfigMaps are validated against the configuration they would produce.
func Apply(st *store.Store, cfg *api.Config, objs []api.Object) ([]Applied, error) {
	if len(objs) == 0 {
		return nil, Invalid("no objects to apply")
	}
	// Config maps in this batch apply to the validation of the rest of it.
	next := *cfg
	var problems []string
	for _, o := range objs {
		// Only knative-serving's ConfigMaps configure the stack (Controller.Config).
		if cm, ok := o.(*api.ConfigMap); ok && cm.Namespace == api.ConfigNamespace {
			if err := api.ParseConfigMap(cm, &next); err != nil {
				problems = append(problems, fmt.Sprintf("%s %s/%s: %v", api.KindOf(o), o.GetNamespace(), o.GetName(), err))
			}
		}
	}
	for _, o := range objs {
		if _, ok := o.(*api.ConfigMap); ok {
			continue
		}
		api.SetDefaults(o, &next)
		if err := api.Validate(o, &next); err != nil {
			problems = append(problems, fmt.Sprintf("%s %s/%s: %s", api.KindOf(o), o.GetNamespace(), o.GetName(), oneLine(err.Error())))
		}
	}
	if len(problems) > 0 {
		return nil, Invalid("%s", strings.Join(problems, "; "))
	}
	results, err := st.Put(objs...)
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, Invalid("%v", err)
		}
		return nil, err
	}
	out := make([]Applied, len(objs))
	for i, o := range objs {
		out[i] = Applied{Kind: api.KindOf(o), Namespace: o.GetNamespace(), Name: o.GetName(), Result: results[i]}
	}
	return out, nil
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
