package docker

import (
	"os"
	"testing"

	"github.com/gantry-dev/gantry/api"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

func TestSecretKeychain(t *testing.T) {
	s := &api.Secret{Type: secretDockerConfigJSON, StringData: map[string]string{keyDockerConfigJSON: `{"auths":{
		"https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"},
		"127.0.0.1:5000": {"username": "me", "password": "pw"}}}`}}
	s.Name = "regcred"
	kc, err := secretKeychain(s)
	if err != nil {
		t.Fatal(err)
	}
	for image, want := range map[string]authn.AuthConfig{
		"busybox":                 {Username: "user", Password: "pass"},
		"127.0.0.1:5000/app:v1":   {Username: "me", Password: "pw"},
		"ghcr.io/knative/hello:1": {},
	} {
		ref, err := name.ParseReference(image)
		if err != nil {
			t.Fatal(err)
		}
		a, err := kc.Resolve(ref.Context())
		if err != nil {
			t.Fatal(err)
		}
		got, err := a.Authorization()
		if err != nil {
			t.Fatal(err)
		}
		if got.Username != want.Username || got.Password != want.Password {
			t.Errorf("%s: %+v, want %+v", image, got, want)
		}
	}
	bad := &api.Secret{Type: "Opaque"}
	bad.Name = "plain"
	if _, err := secretKeychain(bad); err == nil {
		t.Error("an Opaque secret: want an error")
	}
	broken := &api.Secret{Type: secretDockerConfigJSON, Data: map[string][]byte{keyDockerConfigJSON: []byte("{")}}
	if _, err := secretKeychain(broken); err == nil {
		t.Error("bad JSON: want an error")
	}
}

func TestIsSampleAppImage(t *testing.T) {
	for image, want := range map[string]bool{"gantry/sample-app": true, "docker.io/gantry/sample-app:latest": true,
		"gantry/sample-app:v2": false, "ghcr.io/knative/helloworld-go": false} {
		if got := isSampleAppImage(image); got != want {
			t.Errorf("%s: %v", image, got)
		}
	}
}

// The sample app image carries the loader and libraries a dynamic binary needs.
func TestELFClosure(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	files, err := elfClosure(exe)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, err := elfClosure("/etc/hostname"); err == nil {
		t.Error("not an ELF file: want an error")
	}
}

func TestCgroupMounts(t *testing.T) {
	m, err := cgroupMounts()
	if err != nil {
		t.Fatal(err)
	}
	if len(m) == 0 {
		t.Skip("no cgroup file system mounted here")
	}
	dirs, err := cgroupDirs(os.Getpid())
	if err != nil || dirs == "" {
		t.Fatalf("cgroupDirs(self) = %q, %v", dirs, err)
	}
	if _, err := cgroupDirs(0); err == nil {
		t.Error("pid 0: want an error")
	}
}
