package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestLogFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(data)
		f.Close()
	}
	write("rev-a.log", "a1\n")
	write("rev-a.queue-proxy.log", "qp\n")
	write("rev-b.log", "b1\n")
	var out bytes.Buffer
	lf := logFiles{dir: dir, offsets: map[string]int64{}}
	if err := lf.print(&out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "[rev-a] a1\n[rev-b] b1\n" {
		t.Errorf("two instances: %q", got)
	}
	// Following prints only what was appended.
	out.Reset()
	write("rev-b.log", "b2\n")
	if err := lf.print(&out); err != nil || out.String() != "[rev-b] b2\n" {
		t.Errorf("follow: %q %v", out.String(), err)
	}
	out.Reset()
	one := logFiles{dir: dir, instance: "rev-a", offsets: map[string]int64{}}
	if err := one.print(&out); err != nil || out.String() != "a1\n" {
		t.Errorf("one instance: %q %v", out.String(), err)
	}
	out.Reset()
	qp := logFiles{dir: dir, instance: "rev-a", queueProxy: true, offsets: map[string]int64{}}
	if err := qp.print(&out); err != nil || out.String() != "qp\n" {
		t.Errorf("queue-proxy: %q %v", out.String(), err)
	}
}
