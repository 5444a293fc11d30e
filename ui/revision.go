package ui

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/dashboards"
	"github.com/labstack/echo/v4"
)

// InstanceView is one instance of a revision: what the runtime reports, with
// the app process's CPU time and memory and the end of its log.
type InstanceView struct {
	Name     string         `json:"name"`
	Ready    bool           `json:"ready"`
	Address  string         `json:"address,omitempty"`
	Ports    map[string]int `json:"ports,omitempty"`
	AppPID   int            `json:"appPid,omitempty"`
	Restarts int            `json:"restarts"`
	Reason   string         `json:"reason,omitempty"`
	Message  string         `json:"message,omitempty"`
	Log      string         `json:"log,omitempty"`
	// CPUSeconds is the app process's CPU time (user and system) since it
	// started, MemoryBytes its resident memory; null when unknown.
	CPUSeconds  *float64 `json:"cpuSeconds"`
	MemoryBytes *float64 `json:"memoryBytes"`
	LogTail     []string `json:"logTail"`
}

// DecisionView is one autoscaler decision (scaling.Decision's JSON).
type DecisionView struct {
	Time           time.Time `json:"time"`
	Desired        int32     `json:"desired"`
	Scale          int32     `json:"scale"`
	Ready          int       `json:"ready"`
	Stable         float64   `json:"stableConcurrency"`
	Panic          float64   `json:"panicConcurrency"`
	Target         float64   `json:"targetPerPod"`
	EBC            int32     `json:"excessBurstCapacity"`
	InPanic        bool      `json:"panicMode"`
	DecisionReason string    `json:"reason"`
	BoundsReason   string    `json:"boundsReason"`
	Activity       string    `json:"activity"`
}

// RevisionDetail is GET /api/ui/revisions/NS/NAME.
type RevisionDetail struct {
	Namespace     string          `json:"namespace"`
	Name          string          `json:"name"`
	Service       string          `json:"service,omitempty"`
	Configuration string          `json:"configuration,omitempty"`
	Revision      RevisionSummary `json:"revision"`
	Instances     []InstanceView  `json:"instances"`
	// Autoscaler is the last decision, Decisions the recent ones, newest first.
	Autoscaler  *DecisionView  `json:"autoscaler"`
	Decisions   []DecisionView `json:"decisions"`
	Range       string         `json:"range"`
	Start       time.Time      `json:"start"`
	End         time.Time      `json:"end"`
	StepSeconds float64        `json:"stepSeconds"`
	Charts      []Chart        `json:"charts"`
	Alerts      []AlertRef     `json:"alerts"`
	Warnings    []string       `json:"warnings,omitempty"`
}

func byContainer(_ dashboards.Query, s series, _ bool) string {
	return cmp.Or(s.label("container"), "total")
}

var revisionCharts = []chartSpec{
	serviceCharts[0], // requests by code class
	serviceCharts[1], // latency
	serviceCharts[2], // pods, panic shaded
	{"cpu-usage", "CPU by container (vCPU)", dashboards.UnitShort, dashboards.CPUByRevision.Description,
		[]dashboards.Query{dashboards.CPUByRevision}, byContainer},
	{"memory-usage", "Memory by container", dashboards.UnitBytes, dashboards.MemoryByRevision.Description,
		[]dashboards.Query{dashboards.MemoryByRevision}, byContainer},
}

// Bounds of what the revision page shows.
const (
	maxDecisions   = 30
	logTailLines   = 40
	logTailBytes   = 16 << 10
	logLineMaxSize = 400
)

// roundTrip converts between two types with the same JSON shape: the
// runtime's and the autoscaler's reports reach the UI as any, so the UI does
// not depend on a runtime.
func roundTrip(in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

func (s *server) revisionDetail(ctx context.Context, ns, name string, tr timeRange) (RevisionDetail, error) {
	o, err := s.o.Store.Get(api.KindRevision, ns, name)
	if err != nil {
		return RevisionDetail{}, err
	}
	r := o.(*api.Revision)
	now := s.now()
	d := RevisionDetail{Namespace: ns, Name: name, Service: r.Labels[api.LabelService], Configuration: r.Labels[api.LabelConfiguration],
		Range: tr.Name, Instances: []InstanceView{}, Decisions: []DecisionView{}, Alerts: []AlertRef{}}
	var percent int64
	if d.Service != "" {
		if t, err := s.trafficOf(ns, d.Service); err == nil {
			for _, tt := range t.Targets {
				if tt.RevisionName == name {
					percent += tt.Percent
				}
			}
		}
	}
	d.Revision = revisionSummary(r, percent, now)
	if s.o.Instances != nil {
		if err := roundTrip(s.o.Instances(ns, name), &d.Instances); err != nil {
			d.Warnings = append(d.Warnings, "instances: "+err.Error())
		}
		if d.Instances == nil {
			d.Instances = []InstanceView{}
		}
		for i := range d.Instances {
			in := &d.Instances[i]
			if in.AppPID > 0 {
				in.CPUSeconds, in.MemoryBytes = procUsage(in.AppPID)
			}
			in.LogTail = tail(in.Log, logTailLines)
		}
	}
	if s.o.Decisions != nil {
		var ds []DecisionView
		if err := roundTrip(s.o.Decisions(ns, name), &ds); err != nil {
			d.Warnings = append(d.Warnings, "autoscaler: "+err.Error())
		}
		slices.Reverse(ds)
		if len(ds) > maxDecisions {
			ds = ds[:maxDecisions]
		}
		if len(ds) > 0 {
			d.Autoscaler = &ds[0]
			d.Decisions = ds
		}
	}
	charts, res := s.buildCharts(ctx, revisionCharts, dashboards.Selector{Namespace: ns, Revision: name}, []string{name}, tr)
	d.Charts = charts
	d.Warnings = append(d.Warnings, res.warnings...)
	d.Start, d.End, d.StepSeconds = res.grid.Start, res.grid.End(), res.grid.Step.Seconds()
	alerts, _ := s.activeAlerts()
	for _, a := range alerts[svcKey{ns, d.Service}] {
		if a.Revision == name {
			d.Alerts = append(d.Alerts, a)
		}
	}
	return d, nil
}

// procUsage reads a process's CPU time and resident memory from /proc
// (Linux); both are nil elsewhere or when the process is gone.
func procUsage(pid int) (cpu, mem *float64) {
	p := "/proc/" + strconv.Itoa(pid)
	if b, err := os.ReadFile(p + "/stat"); err == nil {
		// Fields after the command (which may hold spaces) start at state.
		if i := bytes.LastIndexByte(b, ')'); i > 0 {
			f := strings.Fields(string(b[i+1:]))
			if len(f) > 12 {
				ut, err1 := strconv.ParseFloat(f[11], 64)
				st, err2 := strconv.ParseFloat(f[12], 64)
				if err1 == nil && err2 == nil {
					v := (ut + st) / 100 // USER_HZ
					cpu = &v
				}
			}
		}
	}
	if b, err := os.ReadFile(p + "/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			if pages, err := strconv.ParseFloat(f[1], 64); err == nil {
				v := pages * float64(os.Getpagesize())
				mem = &v
			}
		}
	}
	return cpu, mem
}

// tail returns the last n lines of a log file, each cut to a readable length.
func tail(path string, n int) []string {
	out := []string{}
	if path == "" {
		return out
	}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return out
	}
	off := max(st.Size()-logTailBytes, 0)
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return out
	}
	if off > 0 {
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:] // drop the partial first line
		}
	}
	lines := strings.Split(strings.TrimRight(string(buf), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for _, l := range lines {
		if len(l) > logLineMaxSize {
			l = l[:logLineMaxSize] + "…"
		}
		out = append(out, l)
	}
	if len(out) == 1 && out[0] == "" {
		return []string{}
	}
	return out
}

func (s *server) apiRevision(c echo.Context) error {
	tr, err := rangeParam(c)
	if err != nil {
		return err
	}
	d, err := s.revisionDetail(c.Request().Context(), c.Param("namespace"), c.Param("name"), tr)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}
