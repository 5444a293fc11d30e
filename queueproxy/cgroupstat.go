package queueproxy

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// errNoCgroup: GANTRY_APP_CGROUP is "none" or names nothing readable.
var errNoCgroup = errors.New("no readable cgroup")

// readCgroup returns a container's CPU seconds and working set bytes from its
// cgroup directories (v1: cpuacct.usage, memory.usage_in_bytes; v2:
// cpu.stat, memory.current). The working set is usage less inactive file
// pages, as cAdvisor computes container_memory_working_set_bytes.
func readCgroup(dirs string) (cpu, mem float64, err error) {
	if dirs == "none" {
		return 0, 0, errNoCgroup
	}
	gotCPU, gotMem := false, false
	for _, d := range strings.Split(dirs, ":") {
		if v, err := readUint(filepath.Join(d, "cpuacct.usage")); err == nil {
			cpu, gotCPU = float64(v)/1e9, true
		} else if st, err := readKeyed(filepath.Join(d, "cpu.stat")); err == nil {
			if v, ok := st["usage_usec"]; ok {
				cpu, gotCPU = float64(v)/1e6, true
			}
		}
		if v, err := readUint(filepath.Join(d, "memory.usage_in_bytes")); err == nil {
			st, _ := readKeyed(filepath.Join(d, "memory.stat"))
			mem, gotMem = workingSet(v, st["total_inactive_file"]), true
		} else if v, err := readUint(filepath.Join(d, "memory.current")); err == nil {
			st, _ := readKeyed(filepath.Join(d, "memory.stat"))
			mem, gotMem = workingSet(v, st["inactive_file"]), true
		}
	}
	if !gotCPU || !gotMem {
		return 0, 0, errNoCgroup
	}
	return cpu, mem, nil
}

func workingSet(usage, inactive uint64) float64 {
	if inactive > usage {
		return 0
	}
	return float64(usage - inactive)
}

func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
}

// readKeyed reads a "key value" per line file (cpu.stat, memory.stat).
func readKeyed(path string) (map[string]uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			out[k] = n
		}
	}
	return out, nil
}
