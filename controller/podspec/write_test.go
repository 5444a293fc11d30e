package podspec

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWriteVolumes(t *testing.T) {
	old := syscall.Umask(0o077) // modes must not depend on gantry's umask
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "volumes", "default", "hello-1")
	if err := os.MkdirAll(filepath.Join(dir, "stale"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := &Container{Volumes: []Volume{
		{Name: "s", Files: []File{{"password", []byte("s3cret"), 0o400}, {"creds/deep/user", []byte("admin"), 0o644}}},
		{Name: "tmp", EmptyDir: true},
		{Name: "empty"},
	}}
	if err := WriteVolumes(dir, c); err != nil {
		t.Fatalf("WriteVolumes: %v", err)
	}
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		v := info.Mode().String()
		if !d.IsDir() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			v += " " + string(b)
		}
		got[rel] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		".":                 "drwx------",
		"s":                 "drwxr-xr-x",
		"s/password":        "-r-------- s3cret",
		"s/creds":           "drwxr-xr-x",
		"s/creds/deep":      "drwxr-xr-x",
		"s/creds/deep/user": "-rw-r--r-- admin",
		"tmp":               "dtrwxrwxrwx",
		"empty":             "drwxr-xr-x",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("tree (-want +got):\n%s", d)
	}
}

func TestWriteVolumesErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		vols []Volume
		want string
	}{
		{"escaping path", []Volume{{Name: "s", Files: []File{{Path: "../x"}}}}, `volume s: bad path "../x"`},
		{"absolute path", []Volume{{Name: "s", Files: []File{{Path: "/etc/x"}}}}, `volume s: bad path "/etc/x"`},
		{"empty path", []Volume{{Name: "s", Files: []File{{Path: ""}}}}, `volume s: bad path ""`},
		{"escaping name", []Volume{{Name: "../s"}}, `volume "../s": bad name`},
		{"duplicate name", []Volume{{Name: "s"}, {Name: "s"}}, `file exists`},
		{"file over a folder", []Volume{{Name: "s", Files: []File{{Path: "a", Data: []byte("1")}, {Path: "a/b"}}}}, `volume s: `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := WriteVolumes(filepath.Join(t.TempDir(), "v"), &Container{Volumes: tc.vols})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("WriteVolumes: %v, want an error with %q", err, tc.want)
			}
		})
	}
}
