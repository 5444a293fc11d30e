package api

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// deepCopyObject copies obj through JSON.
func deepCopyObject(t *testing.T, obj Object) Object {
	t.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	cp := reflect.New(reflect.TypeOf(obj).Elem()).Interface().(Object)
	if err := json.Unmarshal(b, cp); err != nil {
		t.Fatal(err)
	}
	return cp
}

// assertSameObject compares two objects by their JSON form (which is what
// is stored and served).
func assertSameObject(t *testing.T, want, got Object) {
	t.Helper()
	w, _ := json.Marshal(want)
	g, _ := json.Marshal(got)
	var wm, gm any
	_ = json.Unmarshal(w, &wm)
	_ = json.Unmarshal(g, &gm)
	if diff := cmp.Diff(wm, gm); diff != "" {
		t.Errorf("object changed (-want +got):\n%s", diff)
	}
}
