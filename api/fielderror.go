package api

import (
	"fmt"
	"slices"
	"strings"
)

// FieldError is one or more validation problems, each with a message, the
// field paths it concerns and optional details. It behaves like Knative's
// apis.FieldError: errors are built at the failing field and prefixed with
// ViaField/ViaIndex on the way up, so paths read "spec.template.spec.timeoutSeconds",
// and Also collects every problem so callers see them all at once.
//
// A nil *FieldError means "no problem"; all methods accept a nil receiver.
type FieldError struct {
	Message string
	Paths   []string
	Details string

	// others holds further problems collected with Also. They are kept flat:
	// every element is a leaf with an empty others.
	others []FieldError
}

var _ error = (*FieldError)(nil)

// CurrentField names the field being validated itself, for errors built
// before the caller knows the field's name.
const CurrentField = ""

// leaves returns every problem in fe as a flat list.
func (fe *FieldError) leaves() []FieldError {
	if fe == nil {
		return nil
	}
	out := make([]FieldError, 0, len(fe.others)+1)
	if fe.Message != "" || fe.Details != "" || len(fe.Paths) > 0 {
		out = append(out, FieldError{Message: fe.Message, Paths: fe.Paths, Details: fe.Details})
	}
	return append(out, fe.others...)
}

// fromLeaves builds a FieldError holding leaves, or nil when there are none.
func fromLeaves(leaves []FieldError) *FieldError {
	if len(leaves) == 0 {
		return nil
	}
	head := leaves[0]
	return &FieldError{Message: head.Message, Paths: head.Paths, Details: head.Details, others: slices.Clone(leaves[1:])}
}

// Also returns a new FieldError holding the problems of fe and of every err.
// Nil errors are skipped; fe itself is not modified.
func (fe *FieldError) Also(errs ...*FieldError) *FieldError {
	all := fe.leaves()
	for _, e := range errs {
		all = append(all, e.leaves()...)
	}
	return fromLeaves(all)
}

// ViaField prefixes every path with the given field names (outermost last
// call wins, as in Knative: err.ViaField("spec") turns "x" into "spec.x").
func (fe *FieldError) ViaField(prefix ...string) *FieldError {
	if fe == nil {
		return nil
	}
	leaves := fe.leaves()
	for i := range leaves {
		paths := make([]string, len(leaves[i].Paths))
		for j, p := range leaves[i].Paths {
			paths[j] = joinPath(append(slices.Clone(prefix), p))
		}
		leaves[i].Paths = paths
	}
	return fromLeaves(leaves)
}

// ViaIndex prefixes every path with "[index]", to be followed by ViaField.
func (fe *FieldError) ViaIndex(index int) *FieldError {
	return fe.ViaField(fmt.Sprintf("[%d]", index))
}

// ViaFieldIndex is ViaIndex(index).ViaField(field): "field[index].path".
func (fe *FieldError) ViaFieldIndex(field string, index int) *FieldError {
	return fe.ViaIndex(index).ViaField(field)
}

// ViaKey prefixes every path with "[key]", to be followed by ViaField.
func (fe *FieldError) ViaKey(key string) *FieldError {
	return fe.ViaField("[" + key + "]")
}

// ViaFieldKey is ViaKey(key).ViaField(field): "field[key].path".
func (fe *FieldError) ViaFieldKey(field, key string) *FieldError {
	return fe.ViaKey(key).ViaField(field)
}

// joinPath joins path parts with dots, gluing "[i]" parts to the part before
// them and dropping empty parts (CurrentField).
func joinPath(parts []string) string {
	var out []string
	for _, part := range parts {
		for _, p := range splitPath(part) {
			switch {
			case p == CurrentField:
			case len(out) > 0 && strings.HasPrefix(p, "[") && strings.HasSuffix(p, "]"):
				out[len(out)-1] += p
			default:
				out = append(out, p)
			}
		}
	}
	return strings.Join(out, ".")
}

// splitPath splits a path at dots outside brackets, so a key such as
// "[autoscaling.knative.dev/min-scale]" stays whole.
func splitPath(p string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '[':
			depth++
		case ']':
			depth = max(depth-1, 0)
		case '.':
			if depth == 0 {
				parts = append(parts, p[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, p[start:])
}

// Errors returns every problem as a leaf FieldError, problems with the same
// message and details merged into one with all their paths, sorted by
// message, then details; each one's paths sorted.
func (fe *FieldError) Errors() []*FieldError {
	var merged []*FieldError
	byKey := map[string]*FieldError{}
	for _, l := range fe.leaves() {
		k := l.Message + "\x00" + l.Details
		if m, ok := byKey[k]; ok {
			for _, p := range l.Paths {
				if !slices.Contains(m.Paths, p) {
					m.Paths = append(m.Paths, p)
				}
			}
			continue
		}
		m := &FieldError{Message: l.Message, Details: l.Details, Paths: slices.Clone(l.Paths)}
		byKey[k] = m
		merged = append(merged, m)
	}
	for _, m := range merged {
		slices.Sort(m.Paths)
	}
	slices.SortStableFunc(merged, func(a, b *FieldError) int {
		if c := strings.Compare(a.Message, b.Message); c != 0 {
			return c
		}
		return strings.Compare(a.Details, b.Details)
	})
	return merged
}

// Error formats each problem as "message: path1, path2", followed by its
// details on the next line when it has any, one problem per line.
func (fe *FieldError) Error() string {
	var lines []string
	for _, e := range fe.Errors() {
		line := e.Message + ": " + strings.Join(e.Paths, ", ")
		if e.Details != "" {
			line += "\n" + e.Details
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// asError turns fe into an error without the typed-nil trap.
func (fe *FieldError) asError() error {
	if fe == nil {
		return nil
	}
	return fe
}

// Constructors with Knative's wording.

// ErrMissingField reports required fields that are absent.
func ErrMissingField(paths ...string) *FieldError {
	return &FieldError{Message: "missing field(s)", Paths: paths}
}

// ErrDisallowedFields reports fields that must not be set.
func ErrDisallowedFields(paths ...string) *FieldError {
	return &FieldError{Message: "must not set the field(s)", Paths: paths}
}

// ErrInvalidValue reports a bad value at path.
func ErrInvalidValue(value any, path string, details ...string) *FieldError {
	return &FieldError{Message: fmt.Sprint("invalid value: ", value), Paths: []string{path}, Details: strings.Join(details, ", ")}
}

// ErrInvalidArrayValue reports a bad value of field at index: "field[index]".
func ErrInvalidArrayValue(value any, field string, index int) *FieldError {
	return ErrInvalidValue(value, CurrentField).ViaFieldIndex(field, index)
}

// ErrGeneric reports a problem with a custom message.
func ErrGeneric(message string, paths ...string) *FieldError {
	return &FieldError{Message: message, Paths: paths}
}

// ErrMissingOneOf reports that none of a set of exclusive fields is set.
func ErrMissingOneOf(paths ...string) *FieldError {
	return &FieldError{Message: "expected exactly one, got neither", Paths: paths}
}

// ErrMultipleOneOf reports that more than one of a set of exclusive fields is set.
func ErrMultipleOneOf(paths ...string) *FieldError {
	return &FieldError{Message: "expected exactly one, got both", Paths: paths}
}

// ErrInvalidKeyName reports a bad map key or name.
func ErrInvalidKeyName(key, path string, details ...string) *FieldError {
	return &FieldError{Message: fmt.Sprintf("invalid key name %q", key), Paths: []string{path}, Details: strings.Join(details, ", ")}
}

// ErrOutOfBoundsValue reports a value outside [lower, upper].
func ErrOutOfBoundsValue(value, lower, upper any, path string) *FieldError {
	return &FieldError{Message: fmt.Sprintf("expected %v <= %v <= %v", lower, value, upper), Paths: []string{path}}
}
