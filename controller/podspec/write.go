package podspec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// WriteVolumes writes c's volumes under dir, one folder per volume name, so
// that a runtime can mount dir/NAME at each mount's path. Files are written
// with their modes; an existing dir is replaced. dir itself is private to
// its owner: it holds Secrets, and mounts do not need the path to it.
func WriteVolumes(dir string, c *Container) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("volumes %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("volumes %s: %w", dir, err)
	}
	// MkdirAll's mode is filtered by the umask, and an existing parent chain is kept.
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("volumes %s: %w", dir, err)
	}
	for _, v := range c.Volumes {
		if v.Name == "" || v.Name == "." || v.Name == ".." || strings.ContainsAny(v.Name, `/\`) {
			return fmt.Errorf("volume %q: bad name", v.Name)
		}
		root := filepath.Join(dir, v.Name)
		if err := os.Mkdir(root, 0o755); err != nil {
			return fmt.Errorf("volume %s: %w", v.Name, err)
		}
		// Readable, or for an emptyDir writable, by any user the container
		// may run as; 0777 as the kubelet makes an emptyDir, plus the sticky bit.
		mode := os.FileMode(0o755)
		if v.EmptyDir {
			mode = 0o777 | os.ModeSticky
		}
		if err := os.Chmod(root, mode); err != nil {
			return fmt.Errorf("volume %s: %w", v.Name, err)
		}
		for _, f := range v.Files {
			clean := path.Clean(f.Path)
			if !relativePath(f.Path) || clean == "." {
				return fmt.Errorf("volume %s: bad path %q", v.Name, f.Path)
			}
			p := filepath.Join(root, filepath.FromSlash(clean))
			if err := mkdirs(root, path.Dir(clean)); err != nil {
				return fmt.Errorf("volume %s: %w", v.Name, err)
			}
			mode := f.Mode
			if mode == 0 {
				mode = 0o644 // a File made by hand; Resolve always sets the mode
			}
			if err := os.WriteFile(p, f.Data, mode.Perm()); err != nil {
				return fmt.Errorf("volume %s: %w", v.Name, err)
			}
			// WriteFile's mode is filtered by the umask.
			if err := os.Chmod(p, mode.Perm()); err != nil {
				return fmt.Errorf("volume %s: %w", v.Name, err)
			}
		}
	}
	return nil
}

// mkdirs creates rel's folders under root, each 0755 whatever the umask, so
// that the container's user can reach the files.
func mkdirs(root, rel string) error {
	if rel == "." {
		return nil
	}
	p := root
	for _, el := range strings.Split(rel, "/") {
		p = filepath.Join(p, el)
		if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		if err := os.Chmod(p, 0o755); err != nil {
			return err
		}
	}
	return nil
}
