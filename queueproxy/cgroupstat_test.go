package queueproxy

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadCgroup(t *testing.T) {
	write := func(dir, name, data string) {
		t.Helper()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root := t.TempDir()
	// cgroup v1: separate cpuacct and memory hierarchies.
	cpuDir, memDir := filepath.Join(root, "cpuacct", "docker", "x"), filepath.Join(root, "memory", "docker", "x")
	write(cpuDir, "cpuacct.usage", "2500000000\n")
	write(memDir, "memory.usage_in_bytes", "10485760\n")
	write(memDir, "memory.stat", "cache 100\ntotal_inactive_file 2097152\n")
	cpu, mem, err := readCgroup(cpuDir + ":" + memDir)
	if err != nil || cpu != 2.5 || mem != 8<<20 {
		t.Errorf("v1: cpu %v mem %v err %v, want 2.5 8MiB", cpu, mem, err)
	}
	// cgroup v2: one directory.
	v2 := filepath.Join(root, "unified", "x")
	write(v2, "cpu.stat", "usage_usec 1500000\nuser_usec 1000000\n")
	write(v2, "memory.current", "4194304\n")
	write(v2, "memory.stat", "anon 1\ninactive_file 1048576\n")
	cpu, mem, err = readCgroup(v2)
	if err != nil || cpu != 1.5 || mem != 3<<20 {
		t.Errorf("v2: cpu %v mem %v err %v, want 1.5 3MiB", cpu, mem, err)
	}
	if _, _, err := readCgroup("none"); err == nil {
		t.Error("none: want an error")
	}
	if _, _, err := readCgroup(filepath.Join(root, "missing")); err == nil {
		t.Error("missing dir: want an error")
	}
}
