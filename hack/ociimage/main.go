// Command ociimage writes a FROM-scratch image as a docker-archive tarball
// (what `ctr images import` and `docker load` read), from files on this
// machine. No base image is pulled: hack/kube-cluster.sh builds the gantry,
// sample-app and pause images with it from static Go binaries.
//
//	go run ./hack/ociimage -o out.tar -ref NAME:TAG [-user UID] [-entrypoint /bin/x,arg] SRC=DST ...
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ociimage:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("ociimage", flag.ContinueOnError)
	out := fs.String("o", "", "output tarball")
	ref := fs.String("ref", "", "image reference to tag it with")
	user := fs.String("user", "65532", "user the image runs as (numeric, so runAsNonRoot can check it)")
	entry := fs.String("entrypoint", "", "entrypoint, comma-separated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || *ref == "" || fs.NArg() == 0 {
		return fmt.Errorf("usage: ociimage -o OUT -ref NAME:TAG [-entrypoint A,B] SRC=DST ...")
	}
	tag, err := name.NewTag(*ref)
	if err != nil {
		return fmt.Errorf("ref %q: %w", *ref, err)
	}
	layer, err := layerOf(fs.Args())
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return err
	}
	cfg := v1.Config{User: *user, Env: []string{"PATH=/"}}
	if *entry != "" {
		cfg.Entrypoint = strings.Split(*entry, ",")
	}
	img, err = mutate.Config(img, cfg)
	if err != nil {
		return err
	}
	img, err = mutate.ConfigFile(img, withPlatform(img))
	if err != nil {
		return err
	}
	tmp := *out + ".tmp"
	if err := tarball.WriteToFile(tmp, tag, img); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	return os.Rename(tmp, *out)
}

// withPlatform marks the image linux/GOARCH, which the
// CRI checks before it runs it.
func withPlatform(img v1.Image) *v1.ConfigFile {
	cf, err := img.ConfigFile()
	if err != nil || cf == nil {
		cf = &v1.ConfigFile{}
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	return cf
}

// layerOf builds one layer holding each SRC at DST (and /tmp, writable by
// everyone, which Go programs expect).
func layerOf(specs []string) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777}); err != nil {
		return nil, err
	}
	for _, s := range specs {
		src, dst, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("file %q: want SRC=DST", s)
		}
		if err := addFile(tw, src, strings.TrimPrefix(path.Clean(dst), "/")); err != nil {
			return nil, fmt.Errorf("add %s: %w", src, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}

func addFile(tw *tar.Writer, src, dst string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: dst, Mode: int64(st.Mode().Perm()) | 0o555, Size: st.Size()}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}
