package api

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// compatDir finds shared/compat/knative-docs: $GANTRY_COMPAT_DIR, else beside
// the repository (the test runs in api/, so two levels up).
func compatDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("GANTRY_COMPAT_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "compat", "knative-docs")
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		// A missing corpus must not pass silently: the compatibility promise
		// is only as good as this test.
		t.Fatalf("compat corpus %s not found (set GANTRY_COMPAT_DIR): %v", dir, err)
	}
	return dir
}

// TestKnativeDocsCompat applies every manifest of Knative's documentation:
// Decode, SetDefaults, then Validate (ParseConfigMap for ConfigMaps), each
// file on its own with a fresh Config, as each is a separate example.
func TestKnativeDocsCompat(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(compatDir(t), "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 60 {
		t.Fatalf("found %d manifests, want at least 60", len(files))
	}
	kinds := map[string]int{}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			cfg := DefaultConfig("")
			objs, err := Load(fh, cfg)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if len(objs) == 0 {
				t.Fatal("no objects decoded")
			}
			for _, o := range objs {
				kinds[KindOf(o)]++
				// Defaulting twice must change nothing (the stored object is
				// defaulted again on every apply).
				before := deepCopyObject(t, o)
				SetDefaults(o, cfg)
				assertSameObject(t, before, o)
			}
		})
	}
	t.Logf("kinds: %v", kinds)
}
