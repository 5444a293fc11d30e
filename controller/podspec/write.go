package podspec

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// WriteVolumes writes c's volumes under dir, one folder per volume name, so
// that a runtime can mount dir/NAME at each mount's path. Files are written
// with their modes; an existing dir is replaced.
func WriteVolumes(dir string, c *Container) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("volumes %s: %w", dir, err)
	}
	for _, v := range c.Volumes {
		root := filepath.Join(dir, v.Name)
		if err := os.MkdirAll(root, 0o755); err != nil {
			return fmt.Errorf("volume %s: %w", v.Name, err)
		}
		if v.EmptyDir {
			// Writable by any user the container may run as.
			if err := os.Chmod(root, 0o1777); err != nil {
				return fmt.Errorf("volume %s: %w", v.Name, err)
			}
		}
		for _, f := range v.Files {
			clean := filepath.Clean("/" + f.Path)[1:]
			if clean == "" || strings.HasPrefix(clean, "..") {
				return fmt.Errorf("volume %s: bad path %q", v.Name, f.Path)
			}
			p := filepath.Join(root, clean)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return fmt.Errorf("volume %s: %w", v.Name, err)
			}
			mode := f.Mode
			if mode == 0 {
				mode = 0o644
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
