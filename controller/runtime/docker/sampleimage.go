package docker

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gantry-dev/gantry/controller/runtime"
	"github.com/moby/moby/client"
)

// SampleAppImage is the bundled sample app's image. No registry serves it:
// the docker runtime builds it from the gantry binary itself (FROM scratch,
// the binary and the shared libraries it links), once per binary.
const SampleAppImage = "gantry/sample-app"

func isSampleAppImage(image string) bool {
	n := strings.TrimPrefix(image, "docker.io/")
	n = strings.TrimPrefix(n, "index.docker.io/")
	return n == SampleAppImage || n == SampleAppImage+":latest"
}

func (b *Backend) sampleAppImage(ctx context.Context, progress func(string)) (runtime.Prepared, error) {
	sum, err := fileDigest(b.o.Binary)
	if err != nil {
		return runtime.Prepared{}, &runtime.Error{Reason: "SampleAppImage", Message: fmt.Sprintf("sample app image: %v", err), Err: err}
	}
	tag := SampleAppImage + ":" + sum[:12]
	note := "image " + SampleAppImage + " is built locally from the gantry binary"
	if img, err := b.cli.ImageInspect(ctx, tag); err == nil {
		return runtime.Prepared{Image: img.ID, Notes: []string{note}}, nil
	}
	if progress != nil {
		progress("building " + tag + " from " + b.o.Binary)
	}
	b.log.Info("building the sample app image", "image", tag)
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(sampleContext(pw, b.o.Binary)) }()
	res, err := b.cli.ImageBuild(ctx, pr, client.ImageBuildOptions{Tags: []string{tag, SampleAppImage + ":latest"},
		Remove: true, ForceRemove: true, Labels: map[string]string{labelManaged: "true", labelBinary: sum}})
	if err != nil {
		pr.CloseWithError(err)
		return runtime.Prepared{}, &runtime.Error{Reason: "SampleAppImage", Message: fmt.Sprintf("build %s: %v", tag, err), Err: err}
	}
	defer res.Body.Close()
	if err := buildOutput(res.Body); err != nil {
		return runtime.Prepared{}, &runtime.Error{Reason: "SampleAppImage", Message: fmt.Sprintf("build %s: %v", tag, err), Err: err}
	}
	img, err := b.cli.ImageInspect(ctx, tag)
	if err != nil {
		return runtime.Prepared{}, engineError(err)
	}
	b.pruneSampleImages(ctx, img.ID)
	return runtime.Prepared{Image: img.ID, Notes: []string{note}}, nil
}

// pruneSampleImages removes sample app images of earlier gantry binaries
// (each `go run` builds a new one); images in use stay.
func (b *Backend) pruneSampleImages(ctx context.Context, keep string) {
	list, err := b.cli.ImageList(ctx, client.ImageListOptions{Filters: client.Filters{}.Add("label", labelBinary)})
	if err != nil {
		return
	}
	for _, im := range list.Items {
		if im.ID == keep {
			continue
		}
		if _, err := b.cli.ImageRemove(ctx, im.ID, client.ImageRemoveOptions{PruneChildren: true}); err == nil {
			b.log.Info("removed an old sample app image", "id", shortID(im.ID))
		}
	}
}

// buildOutput reads a build's JSON stream and returns its error, if any.
func buildOutput(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var m struct {
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if m.Error != "" {
			return fmt.Errorf("%s", m.Error)
		}
	}
}

// sampleContext writes a build context: the binary, the shared libraries
// and loader it links (none for a static build), and a Dockerfile.
func sampleContext(w io.Writer, binary string) error {
	files, err := elfClosure(binary)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	df := "FROM scratch\nCOPY rootfs/ /\nENTRYPOINT [\"/gantry\", \"sample-app\"]\n"
	if err := tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(df))}); err != nil {
		return err
	}
	if _, err := io.WriteString(tw, df); err != nil {
		return err
	}
	add := func(src, dst string, mode int64) error {
		f, err := os.Open(src)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: "rootfs/" + strings.TrimPrefix(dst, "/"), Mode: mode, Size: st.Size()}); err != nil {
			return err
		}
		_, err = io.Copy(tw, f)
		return err
	}
	if err := add(binary, "/gantry", 0o755); err != nil {
		return err
	}
	for _, lib := range files {
		if err := add(lib, lib, 0o755); err != nil {
			return err
		}
	}
	return tw.Close()
}

// elfClosure lists the loader and shared libraries a dynamic ELF binary
// needs, by path on this machine, recursively.
func elfClosure(binary string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	var walk func(path string, top bool) error
	walk = func(path string, top bool) error {
		f, err := elf.Open(path)
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type != elf.PT_INTERP {
				continue
			}
			b, err := io.ReadAll(p.Open())
			if err != nil {
				return err
			}
			interp := strings.TrimRight(string(b), "\x00")
			if !seen[interp] {
				seen[interp] = true
				out = append(out, interp)
			}
		}
		libs, err := f.ImportedLibraries()
		if err != nil {
			return nil // static
		}
		for _, l := range libs {
			p := findLib(l)
			if p == "" {
				return fmt.Errorf("%s needs %s, not found", path, l)
			}
			if seen[p] {
				continue
			}
			seen[p] = true
			out = append(out, p)
			if err := walk(p, false); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk(binary, true)
}

var libDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
	"/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"}

func findLib(name string) string {
	for _, d := range libDirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
