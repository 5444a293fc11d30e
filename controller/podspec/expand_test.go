package podspec

import "testing"

func TestExpand(t *testing.T) {
	env := map[string]string{"PORT": "8081", "K_REVISION": "hello-00001"}
	for in, want := range map[string]string{
		"plain":                 "plain",
		"$(PORT)":               "8081",
		"-p=$(PORT)":            "-p=8081",
		"$(K_REVISION)/$(PORT)": "hello-00001/8081",
		"$$(PORT)":              "$(PORT)",
		"$(MISSING)":            "$(MISSING)",
		"$(PORT":                "$(PORT",
		"cost $5":               "cost $5",
		"$":                     "$",
	} {
		if got := Expand(in, env); got != want {
			t.Errorf("Expand(%q) = %q, want %q", in, got, want)
		}
	}
}
