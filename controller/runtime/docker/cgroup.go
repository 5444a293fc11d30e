package docker

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// cgroupDirs finds the cgroup directories of process pid on this host: for
// cgroup v1 the cpuacct and memory directories, for v2 the one unified
// directory, joined by ':' for the queue-proxy's GANTRY_APP_CGROUP.
func cgroupDirs(pid int) (string, error) {
	if pid <= 0 {
		return "", fmt.Errorf("no pid")
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", err
	}
	defer f.Close()
	mounts, err := cgroupMounts()
	if err != nil {
		return "", err
	}
	var dirs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// hierarchy-ID:controller-list:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		ctrls, path := parts[1], parts[2]
		for _, want := range []string{"cpuacct", "memory", ""} {
			has := ctrls == want
			if want != "" {
				for _, c := range strings.Split(ctrls, ",") {
					has = has || c == want
				}
			}
			if !has {
				continue
			}
			if root, ok := mounts[want]; ok {
				dirs = append(dirs, filepath.Join(root, path))
			}
			break
		}
	}
	// On a hybrid host the unified line carries no controllers; prefer v1.
	if len(dirs) > 1 {
		var v1 []string
		for _, d := range dirs {
			if _, err := os.Stat(filepath.Join(d, "cpuacct.usage")); err == nil {
				v1 = append(v1, d)
			} else if _, err := os.Stat(filepath.Join(d, "memory.usage_in_bytes")); err == nil {
				v1 = append(v1, d)
			}
		}
		if len(v1) > 0 {
			dirs = v1
		}
	}
	return strings.Join(dirs, ":"), sc.Err()
}

// cgroupMounts maps a v1 controller ("cpuacct", "memory") or "" (v2) to
// where its hierarchy is mounted.
func cgroupMounts() (map[string]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ... mountpoint ... - fstype source superoptions
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 3 {
			continue
		}
		switch qf[0] {
		case "cgroup2":
			out[""] = pf[4]
		case "cgroup":
			for _, o := range strings.Split(qf[2], ",") {
				if o == "cpuacct" || o == "memory" {
					out[o] = pf[4]
				}
			}
		}
	}
	return out, sc.Err()
}
