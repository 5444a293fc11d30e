package exporters

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// TracesHandler serves the store: /traces (recent traces, HTML),
// /traces/{id} (one trace as an SVG waterfall), /api/v1/traces (JSON list;
// ?limit=N&service=S&error=true) and /api/v1/traces/{id} (JSON trace). A nil
// store answers that tracing is off, with how to turn it on.
func TracesHandler(s *Store) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/traces", func(w http.ResponseWriter, r *http.Request) {
		if s == nil {
			writeJSON(w, http.StatusOK, map[string]any{"enabled": false, "traces": []TraceSummary{}, "hint": offHint})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"enabled": true, "traces": nonNil(s.List(listOptions(r)))})
	})
	mux.HandleFunc("GET /api/v1/traces/{id}", func(w http.ResponseWriter, r *http.Request) {
		t, ok := lookup(s, r.PathValue("id"))
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "trace " + r.PathValue("id") + " not found (only the most recent traces are kept)"})
			return
		}
		writeJSON(w, http.StatusOK, t)
	})
	mux.HandleFunc("GET /traces", func(w http.ResponseWriter, r *http.Request) {
		page := listPage{Enabled: s != nil, Hint: offHint}
		if s != nil {
			page.Traces = s.List(listOptions(r))
		}
		render(w, http.StatusOK, listTmpl, page)
	})
	mux.HandleFunc("GET /traces/{id}", func(w http.ResponseWriter, r *http.Request) {
		t, ok := lookup(s, r.PathValue("id"))
		if !ok {
			render(w, http.StatusNotFound, listTmpl, listPage{Enabled: s != nil, Hint: offHint,
				NotFound: r.PathValue("id")})
			return
		}
		render(w, http.StatusOK, traceTmpl, waterfall(t))
	})
	return mux
}

const offHint = "tracing is off: start gantry up with --trace-sampling 1 (or set OTEL_EXPORTER_OTLP_ENDPOINT)"

func lookup(s *Store, id string) (Trace, bool) {
	if s == nil {
		return Trace{}, false
	}
	return s.Get(strings.ToLower(id))
}

func listOptions(r *http.Request) ListOptions {
	q := r.URL.Query()
	n, _ := strconv.Atoi(q.Get("limit"))
	errOnly, _ := strconv.ParseBool(q.Get("error"))
	return ListOptions{Limit: min(n, 1000), Service: q.Get("service"), ErrorOnly: errOnly}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func render(w http.ResponseWriter, code int, t *template.Template, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if err := t.Execute(w, data); err != nil {
		fmt.Fprintf(w, "<p>render: %s</p>", template.HTMLEscapeString(err.Error()))
	}
}

type listPage struct {
	Enabled  bool
	Hint     string
	NotFound string
	Traces   []TraceSummary
}

// row is one span of the waterfall, in tree order.
type row struct {
	Span
	Depth        int
	Y            int     // top of the row, px
	X, W         float64 // bar position and width, px
	OffsetMS     float64 // start relative to the trace start
	Label        string
	LabelX       int
	Color        string
	AttrList     []string
	BarTextX     float64
	BarTextRight bool
}

type tracePage struct {
	Trace
	Rows       []row
	Height     int
	Ticks      []tick
	LabelWidth int
	ChartWidth int
}

type tick struct {
	X     float64
	Label string
}

const (
	rowHeight  = 24
	labelWidth = 380
	chartWidth = 720
	topMargin  = 26
)

var serviceColors = []string{"#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7"}

// waterfall lays the spans out as a tree: children under their parent in
// start order, each bar placed on one time axis.
func waterfall(t Trace) tracePage {
	p := tracePage{Trace: t, LabelWidth: labelWidth, ChartWidth: chartWidth}
	if len(t.SpanList) == 0 {
		return p
	}
	start := t.SpanList[0].Start
	end := start
	ids := map[string]bool{}
	for _, sp := range t.SpanList {
		ids[sp.SpanID] = true
		if sp.Start.Before(start) {
			start = sp.Start
		}
		if sp.End.After(end) {
			end = sp.End
		}
	}
	total := end.Sub(start)
	if total <= 0 {
		total = time.Microsecond
	}
	children := map[string][]Span{}
	var roots []Span
	for _, sp := range t.SpanList {
		if sp.ParentID == "" || !ids[sp.ParentID] {
			roots = append(roots, sp)
		} else {
			children[sp.ParentID] = append(children[sp.ParentID], sp)
		}
	}
	colors := map[string]string{}
	scale := float64(chartWidth-10) / float64(total)
	var walk func(sp Span, depth int)
	walk = func(sp Span, depth int) {
		if _, ok := colors[sp.Service]; !ok {
			colors[sp.Service] = serviceColors[len(colors)%len(serviceColors)]
		}
		r := row{Span: sp, Depth: depth, Y: topMargin + len(p.Rows)*rowHeight, Color: colors[sp.Service],
			X: float64(labelWidth) + float64(sp.Start.Sub(start))*scale, LabelX: 6 + depth*14,
			OffsetMS: float64(sp.Start.Sub(start).Microseconds()) / 1000}
		r.W = max(float64(sp.End.Sub(sp.Start))*scale, 1)
		r.Label = sp.Service + "  " + sp.Name
		if sp.Error {
			r.Color = "#e15759"
		}
		keys := make([]string, 0, len(sp.Attributes))
		for k := range sp.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			r.AttrList = append(r.AttrList, k+"="+sp.Attributes[k])
		}
		r.BarTextX = r.X + r.W + 4
		if r.BarTextX > float64(labelWidth+chartWidth-70) {
			r.BarTextX, r.BarTextRight = r.X-4, true
		}
		p.Rows = append(p.Rows, r)
		kids := children[sp.SpanID]
		sort.SliceStable(kids, func(i, j int) bool { return kids[i].Start.Before(kids[j].Start) })
		for _, c := range kids {
			walk(c, depth+1)
		}
	}
	sort.SliceStable(roots, func(i, j int) bool { return roots[i].Start.Before(roots[j].Start) })
	for _, r := range roots {
		walk(r, 0)
	}
	p.Height = topMargin + len(p.Rows)*rowHeight + 8
	for i := 0; i <= 4; i++ {
		d := total * time.Duration(i) / 4
		p.Ticks = append(p.Ticks, tick{X: float64(labelWidth) + float64(d)*scale,
			Label: strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) + " ms"})
	}
	return p
}

const pageHead = `<!doctype html><html><head><meta charset="utf-8"><title>{{block "title" .}}Traces{{end}} · Gantry</title>
<style>body{font:14px system-ui,sans-serif;margin:20px;color:#222}table{border-collapse:collapse}
td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left;font-variant-numeric:tabular-nums}
.err{color:#c0392b;font-weight:600}code{font-size:12px}svg text{font:12px system-ui,sans-serif}
.hint{background:#fff6dd;padding:8px 12px;border:1px solid #eed58a}</style></head><body>
<p><a href="/traces">Recent traces</a> · <a href="/">Gantry</a></p>`

var listTmpl = template.Must(template.New("list").Funcs(funcs).Parse(pageHead + `
<h1>Recent traces</h1>
{{if .NotFound}}<p class="hint">Trace <code>{{.NotFound}}</code> is not in the store: only the most recent traces are kept in memory.</p>{{end}}
{{if not .Enabled}}<p class="hint">{{.Hint}}</p>{{else if not .Traces}}<p>No traces yet. Send a request through the gateway.</p>{{else}}
<table><tr><th>Started</th><th>Trace</th><th>Root</th><th>Host / path</th><th>Status</th><th>Duration</th><th>Spans</th></tr>
{{range .Traces}}<tr><td>{{.Start.Format "15:04:05.000"}}</td><td><a href="/traces/{{.TraceID}}"><code>{{.TraceID}}</code></a></td>
<td>{{.Service}} {{.Root}}</td><td>{{.Host}}{{.Path}}</td><td{{if .Error}} class="err"{{end}}>{{if .StatusCode}}{{.StatusCode}}{{else if .Error}}error{{end}}</td>
<td>{{ms .DurationMS}}</td><td>{{.Spans}}</td></tr>
{{end}}</table>{{end}}</body></html>`))

var traceTmpl = template.Must(template.New("trace").Funcs(funcs).Parse(pageHead + `
<h1>Trace <code>{{.TraceID}}</code></h1>
<p>{{.Service}} {{.Root}} {{.Host}}{{.Path}} · {{if .StatusCode}}<span{{if .Error}} class="err"{{end}}>{{.StatusCode}}</span> · {{end}}{{ms .DurationMS}} · {{.Spans}} spans · started {{.Start.Format "2006-01-02 15:04:05.000"}}
· <a href="/api/v1/traces/{{.TraceID}}">JSON</a></p>
<svg id="waterfall" xmlns="http://www.w3.org/2000/svg" width="{{add .LabelWidth .ChartWidth}}" height="{{.Height}}" role="img" aria-label="trace waterfall">
{{range .Ticks}}<line x1="{{f .X}}" y1="18" x2="{{f .X}}" y2="{{$.Height}}" stroke="#e5e5e5"/><text x="{{f .X}}" y="12" fill="#777">{{.Label}}</text>
{{end}}{{range .Rows}}<g class="span" data-span-id="{{.SpanID}}" data-parent-id="{{.ParentID}}"><title>{{.Service}} {{.Name}} ({{.Kind}}) {{ms .DurationMS}} at +{{ms .OffsetMS}}{{if .Status}} · {{.Status}}{{end}}{{range .AttrList}}
{{.}}{{end}}</title>
<text x="{{.LabelX}}" y="{{add .Y 16}}">{{.Label}}</text>
<rect x="{{f .X}}" y="{{add .Y 4}}" width="{{f .W}}" height="16" rx="2" fill="{{.Color}}"/>
<text x="{{f .BarTextX}}" y="{{add .Y 16}}" fill="#555"{{if .BarTextRight}} text-anchor="end"{{end}}>{{ms .DurationMS}}</text></g>
{{end}}</svg>
<h2>Spans</h2><table><tr><th>Service</th><th>Span</th><th>Kind</th><th>Start</th><th>Duration</th><th>Attributes</th></tr>
{{range .Rows}}<tr><td>{{.Service}}</td><td style="padding-left:{{add 10 (mul .Depth 14)}}px"{{if .Error}} class="err"{{end}}>{{.Name}}{{if .Status}} ({{.Status}}){{end}}</td><td>{{.Kind}}</td>
<td>+{{ms .OffsetMS}}</td><td>{{ms .DurationMS}}</td><td><code>{{range .AttrList}}{{.}}<br>{{end}}</code></td></tr>
{{end}}</table></body></html>`))

var funcs = template.FuncMap{
	"ms":  func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) + " ms" },
	"f":   func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	"add": func(a, b int) int { return a + b },
	"mul": func(a, b int) int { return a * b },
}
