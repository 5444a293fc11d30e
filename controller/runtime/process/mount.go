package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/gantry-dev/gantry/controller/podspec"
)

// MountExecCommand is the hidden gantry command that sets up an app's
// volumes and user and then execs it: `gantry internal-mount-exec SPEC`.
// The backend starts it in a new mount namespace, so its mounts are seen
// by the app alone.
const MountExecCommand = "internal-mount-exec"

// execSpec is what MountExec does, passed as JSON in its one argument.
type execSpec struct {
	// Tmpfs are folders (Memory emptyDirs) a tmpfs is mounted on first.
	Tmpfs  []tmpfsMount `json:"tmpfs,omitempty"`
	Mounts []bindMount  `json:"mounts,omitempty"`
	Cred   *credential  `json:"cred,omitempty"`
	Dir    string       `json:"dir,omitempty"`
	Argv   []string     `json:"argv"`
}

type tmpfsMount struct {
	Path string `json:"path"`
	Size int64  `json:"size,omitempty"`
}

type bindMount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

type credential struct {
	UID uint32 `json:"uid"`
	GID uint32 `json:"gid"`
}

// geteuid is os.Geteuid, replaced in tests to see the unprivileged paths.
var geteuid = os.Geteuid

// canMount reports whether bind mounts in a private mount namespace are
// possible: Linux, as root.
func canMount() bool { return geteuid() == 0 }

// credentialOf is the user and group c runs as, or nil for gantry's own.
// With runAsUser but no runAsGroup, the group is the user's primary group
// on this machine, else 0, as a container runtime takes it from the image's
// /etc/passwd.
func credentialOf(c *podspec.Container) *credential {
	if c.RunAsUser == nil && c.RunAsGroup == nil {
		return nil
	}
	cr := &credential{UID: uint32(geteuid()), GID: uint32(os.Getegid())}
	if c.RunAsUser != nil {
		cr.UID, cr.GID = uint32(*c.RunAsUser), 0
		if u, err := user.LookupId(strconv.FormatInt(*c.RunAsUser, 10)); err == nil {
			if g, err := strconv.ParseUint(u.Gid, 10, 32); err == nil {
				cr.GID = uint32(g)
			}
		}
	}
	if c.RunAsGroup != nil {
		cr.GID = uint32(*c.RunAsGroup)
	}
	return cr
}

// mountSpec is how c's mounts are set up from the volumes in volDir.
func mountSpec(c *podspec.Container, volDir string) (*execSpec, error) {
	s := &execSpec{Cred: credentialOf(c), Dir: c.WorkingDir}
	for _, v := range c.Volumes {
		if v.EmptyDir && v.Medium == "Memory" {
			s.Tmpfs = append(s.Tmpfs, tmpfsMount{Path: filepath.Join(volDir, v.Name), Size: v.SizeLimit})
		}
	}
	for _, m := range c.Mounts {
		src := filepath.Join(volDir, m.Volume)
		if m.SubPath != "" {
			src = filepath.Join(src, filepath.FromSlash(m.SubPath))
		}
		if base := filepath.Join(volDir, m.Volume); !strings.HasPrefix(src+"/", base+"/") {
			return nil, fmt.Errorf("volume mount %s: subPath %q leaves the volume", m.Path, m.SubPath)
		}
		s.Mounts = append(s.Mounts, bindMount{Source: src, Target: m.Path, ReadOnly: m.ReadOnly})
	}
	// Parents first, so that a mount inside another one is not hidden by it.
	sort.SliceStable(s.Mounts, func(i, j int) bool {
		return strings.Count(filepath.Clean(s.Mounts[i].Target), "/") < strings.Count(filepath.Clean(s.Mounts[j].Target), "/")
	})
	return s, nil
}

// MountExec is the hidden command: it mounts, drops to the app's user and
// execs the app; it returns only on failure, with the exit code to use.
func MountExec(args []string) int {
	if len(args) != 1 {
		fmt.Fprintf(os.Stderr, "gantry %s: want one JSON argument\n", MountExecCommand)
		return 2
	}
	var s execSpec
	if err := json.Unmarshal([]byte(args[0]), &s); err != nil || len(s.Argv) == 0 {
		fmt.Fprintf(os.Stderr, "gantry %s: bad spec: %v\n", MountExecCommand, err)
		return 2
	}
	if err := mountAndExec(&s); err != nil {
		fmt.Fprintf(os.Stderr, "gantry %s: %v\n", MountExecCommand, err)
		var ee *exec.Error
		if errors.As(err, &ee) || errors.Is(err, fs.ErrNotExist) {
			return 127 // as a shell reports a command it cannot find
		}
		return 126
	}
	return 0 // not reached: exec replaced the process
}

func mountAndExec(s *execSpec) error {
	if len(s.Mounts)+len(s.Tmpfs) > 0 {
		// The backend unshared the namespace with private propagation; this
		// is a second guard, so that nothing can leak to the host's mounts.
		if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
			return fmt.Errorf("make mounts private: %w", err)
		}
	}
	for _, t := range s.Tmpfs {
		opts := "mode=1777"
		if t.Size > 0 {
			opts += ",size=" + strconv.FormatInt(t.Size, 10)
		}
		if err := syscall.Mount("tmpfs", t.Path, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, opts); err != nil {
			return fmt.Errorf("mount a tmpfs on %s: %w", t.Path, err)
		}
	}
	for _, m := range s.Mounts {
		if err := bind(m); err != nil {
			return err
		}
	}
	if c := s.Cred; c != nil {
		if err := syscall.Setgroups(nil); err != nil {
			return fmt.Errorf("setgroups: %w", err)
		}
		if err := syscall.Setgid(int(c.GID)); err != nil {
			return fmt.Errorf("setgid %d: %w", c.GID, err)
		}
		if err := syscall.Setuid(int(c.UID)); err != nil {
			return fmt.Errorf("setuid %d: %w", c.UID, err)
		}
		// A change of user clears the parent-death signal; gantry's death
		// must still end the app.
		if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0); errno != 0 {
			return fmt.Errorf("set the parent-death signal: %w", errno)
		}
	}
	if s.Dir != "" {
		if err := os.Chdir(s.Dir); err != nil {
			return fmt.Errorf("working directory: %w", err)
		}
	}
	path, err := exec.LookPath(s.Argv[0])
	if err != nil {
		return err
	}
	if err := syscall.Exec(path, s.Argv, os.Environ()); err != nil {
		return fmt.Errorf("exec %s: %w", path, err)
	}
	return nil
}

// bind mounts m.Source at m.Target, creating the target (a folder, or an
// empty file for a file) as needed, read-only when m says so.
func bind(m bindMount) error {
	st, err := os.Stat(m.Source)
	if errors.Is(err, fs.ErrNotExist) {
		// A subPath that does not exist yet is created, as the kubelet does.
		if err = os.MkdirAll(m.Source, 0o755); err == nil {
			st, err = os.Stat(m.Source)
		}
	}
	if err != nil {
		return fmt.Errorf("volume mount %s: %w", m.Target, err)
	}
	if st.IsDir() {
		err = os.MkdirAll(m.Target, 0o755)
	} else if err = os.MkdirAll(filepath.Dir(m.Target), 0o755); err == nil {
		var f *os.File
		if f, err = os.OpenFile(m.Target, os.O_CREATE|os.O_RDONLY, 0o644); err == nil {
			f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("volume mount %s: create the mount point: %w", m.Target, err)
	}
	if err := syscall.Mount(m.Source, m.Target, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		return fmt.Errorf("volume mount %s: bind %s: %w", m.Target, m.Source, err)
	}
	if m.ReadOnly {
		if err := syscall.Mount("", m.Target, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("volume mount %s: make it read-only: %w", m.Target, err)
		}
	}
	return nil
}
