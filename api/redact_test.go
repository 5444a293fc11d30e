package api

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRedacted(t *testing.T) {
	s := &Secret{ObjectMeta: metav1.ObjectMeta{Name: "db", Annotations: map[string]string{"a": "b"}},
		Data: map[string][]byte{"pw": []byte("s3cret")}, StringData: map[string]string{"pw": "other", "t": "x"}}
	orig := s.DeepCopy()
	want := &Secret{ObjectMeta: metav1.ObjectMeta{Name: "db", Annotations: map[string]string{"a": "b",
		AnnotationRedacted: "values not shown: data.pw=6 bytes, stringData.pw=5 bytes, stringData.t=1 bytes"}},
		Data: map[string][]byte{"pw": {}}, StringData: map[string]string{"pw": "", "t": ""}}
	if d := cmp.Diff(Object(want), Redacted(s)); d != "" {
		t.Errorf("Redacted (-want +got):\n%s", d)
	}
	if d := cmp.Diff(orig, s); d != "" {
		t.Errorf("Redacted changed its argument:\n%s", d)
	}
	empty := Redacted(&Secret{}).(*Secret)
	if got := empty.Annotations[AnnotationRedacted]; got != "values not shown: no data" {
		t.Errorf("empty secret: %q", got)
	}
	cm := &ConfigMap{Data: map[string]string{"k": "v"}}
	if Redacted(cm) != Object(cm) {
		t.Error("a ConfigMap is shown as it is")
	}
	if Validate(want, nil) == nil {
		t.Error("a redacted Secret validates; applying it would blank its values")
	}
}
