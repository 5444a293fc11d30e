package api

import (
	"fmt"
	"strings"
)

// AnnotationRedacted marks a Secret whose values were left out for display;
// it lists each key's size. Applying such a Secret is refused, so that
// `gantry get secret -o yaml | gantry apply -f -` cannot blank real values.
const AnnotationRedacted = "serving.gantry.dev/redacted"

// Redacted is obj as the API shows it: a Secret keeps its keys, with every
// data and stringData value emptied and its size in AnnotationRedacted;
// other objects are returned as they are. obj is not changed.
func Redacted(obj Object) Object {
	s, ok := obj.(*Secret)
	if !ok || s == nil {
		return obj
	}
	c := s.DeepCopy()
	var sizes []string
	for _, k := range sortedKeys(c.Data) {
		sizes = append(sizes, fmt.Sprintf("data.%s=%d bytes", k, len(c.Data[k])))
		c.Data[k] = []byte{}
	}
	for _, k := range sortedKeys(c.StringData) {
		sizes = append(sizes, fmt.Sprintf("stringData.%s=%d bytes", k, len(c.StringData[k])))
		c.StringData[k] = ""
	}
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[AnnotationRedacted] = "values not shown: " + strings.Join(sizes, ", ")
	if len(sizes) == 0 {
		c.Annotations[AnnotationRedacted] = "values not shown: no data"
	}
	return c
}
