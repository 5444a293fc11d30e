package queueproxy

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// processCollector exports CPU and memory of the app and of the proxy under
// cAdvisor's names, so per-request cost queries work the same on one machine
// as on Kubernetes. Working set is approximated by the resident set size.
type processCollector struct {
	cpu, mem      *prometheus.Desc
	ns, pod       string
	appPID        func() int
	discoveredPID atomic.Int64
	userPort      int
	cgroup        string
}

func newProcessCollector(e Env, appPID func() int) *processCollector {
	labels := []string{"namespace", "pod", "container"}
	return &processCollector{
		cpu: prometheus.NewDesc("container_cpu_usage_seconds_total",
			"Cumulative cpu time consumed in seconds.", labels, nil),
		mem: prometheus.NewDesc("container_memory_working_set_bytes",
			"Current working set in bytes.", labels, nil),
		ns: e.Namespace, pod: e.Pod, appPID: appPID, userPort: e.UserPort, cgroup: e.AppCgroup,
	}
}

func (c *processCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.cpu
	ch <- c.mem
}

func (c *processCollector) Collect(ch chan<- prometheus.Metric) {
	c.collect(ch, os.Getpid(), "queue-proxy")
	if c.cgroup != "" {
		if cpu, mem, err := readCgroup(c.cgroup); err == nil {
			ch <- prometheus.MustNewConstMetric(c.cpu, prometheus.CounterValue, cpu, c.ns, c.pod, "user-container")
			ch <- prometheus.MustNewConstMetric(c.mem, prometheus.GaugeValue, mem, c.ns, c.pod, "user-container")
		}
		return
	}
	if pid := c.resolveAppPID(); pid > 0 {
		c.collect(ch, pid, "user-container")
	}
}

func (c *processCollector) collect(ch chan<- prometheus.Metric, pid int, container string) {
	cpu, rss, err := readProcStat(pid)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.cpu, prometheus.CounterValue, cpu, c.ns, c.pod, container)
	ch <- prometheus.MustNewConstMetric(c.mem, prometheus.GaugeValue, rss, c.ns, c.pod, container)
}

// resolveAppPID prefers the configured PID and otherwise finds, once and
// again whenever it exits, the process listening on USER_PORT.
func (c *processCollector) resolveAppPID() int {
	if c.appPID != nil {
		if pid := c.appPID(); pid > 0 {
			return pid
		}
	}
	if pid := int(c.discoveredPID.Load()); pid > 0 {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			return pid
		}
	}
	pid := findListenerPID(c.userPort)
	c.discoveredPID.Store(int64(pid))
	return pid
}

// readProcStat returns a process's CPU seconds (user+system) and RSS bytes.
func readProcStat(pid int) (cpu, rss float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	cpu, err = parseProcStatCPU(b)
	if err != nil {
		return 0, 0, err
	}
	m, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", pid))
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(string(m))
	if len(f) < 2 {
		return 0, 0, fmt.Errorf("statm of %d: short", pid)
	}
	pages, err := strconv.ParseFloat(f[1], 64)
	if err != nil {
		return 0, 0, fmt.Errorf("statm of %d: %w", pid, err)
	}
	return cpu, pages * float64(os.Getpagesize()), nil
}

// parseProcStatCPU reads utime+stime from /proc/PID/stat; the command name
// may hold spaces and parentheses, so fields are counted after the last ')'.
func parseProcStatCPU(b []byte) (float64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("proc stat: no ')'")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("proc stat: %d fields", len(f))
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("proc stat: bad utime/stime %q %q", f[11], f[12])
	}
	return (ut + st) / clockTicks, nil
}

// ProcessCPUSeconds is the CPU time (user+system) a process has used so far.
func ProcessCPUSeconds(pid int) (float64, error) {
	cpu, _, err := readProcStat(pid)
	return cpu, err
}

// findListenerPID returns the process holding a listening TCP socket on
// port, or 0: socket inodes come from /proc/net/tcp{,6}, owners from /proc/*/fd.
func findListenerPID(port int) int {
	if port <= 0 {
		return 0
	}
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		listeningInodes(f, port, inodes)
	}
	if len(inodes) == 0 {
		return 0
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		pid, err := strconv.Atoi(filepath.Base(p))
		if err != nil {
			continue
		}
		fds, err := os.ReadDir(p + "/fd")
		if err != nil {
			continue
		}
		for _, fd := range fds {
			l, err := os.Readlink(p + "/fd/" + fd.Name())
			if err == nil && strings.HasPrefix(l, "socket:[") && inodes[l[len("socket:["):len(l)-1]] {
				return pid
			}
		}
	}
	return 0
}

func listeningInodes(path string, port int, into map[string]bool) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	want := fmt.Sprintf(":%04X", port)
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
		if len(fs) < 10 || fs[3] != "0A" || !strings.HasSuffix(fs[1], want) {
			continue
		}
		into[fs[9]] = true
	}
}
