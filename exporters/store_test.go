package exporters

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func span(trace, id, parent, name string, start time.Time, ms int) Span {
	return Span{TraceID: trace, SpanID: id, ParentID: parent, Name: name, Service: "svc", Start: start,
		End: start.Add(time.Duration(ms) * time.Millisecond), DurationMS: float64(ms)}
}

func TestStoreBounded(t *testing.T) {
	st := NewStore(StoreOptions{MaxTraces: 3, MaxSpansPerTrace: 2})
	t0 := time.Now()
	for i := 0; i < 5; i++ {
		id := fmt.Sprintf("%032x", i+1)
		st.Add(span(id, "a", "", "root", t0, 10), span(id, "b", "a", "c1", t0, 5), span(id, "c", "a", "c2", t0, 5))
	}
	if st.Len() != 3 {
		t.Fatalf("len %d", st.Len())
	}
	list := st.List(ListOptions{})
	if len(list) != 3 || list[0].TraceID != fmt.Sprintf("%032x", 5) || list[2].TraceID != fmt.Sprintf("%032x", 3) {
		t.Fatalf("list %+v", list)
	}
	if _, ok := st.Get(fmt.Sprintf("%032x", 1)); ok {
		t.Error("oldest trace kept")
	}
	tr, _ := st.Get(fmt.Sprintf("%032x", 5))
	if len(tr.SpanList) != 2 || tr.Root != "root" {
		t.Errorf("spans per trace not bounded: %+v", tr)
	}
}

func TestTracesHandler(t *testing.T) {
	st := NewStore(StoreOptions{})
	t0 := time.Now()
	id := strings.Repeat("ab", 16)
	root := span(id, "1111111111111111", "", "GET", t0, 100)
	root.Attributes = map[string]string{"http.response.status_code": "503", "server.address": "hello.default.localhost", "url.path": "/x"}
	st.Add(root, span(id, "2222222222222222", "1111111111111111", "activator", t0.Add(time.Millisecond), 98),
		span(id, "3333333333333333", "2222222222222222", "activator.cold_start", t0.Add(time.Millisecond), 80))
	srv := httptest.NewServer(TracesHandler(st))
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/traces")
	if code != 200 || !strings.Contains(body, `href="/traces/`+id+`"`) || !strings.Contains(body, "503") {
		t.Errorf("/traces: %d %s", code, body)
	}
	code, body = get("/traces/" + id)
	if code != 200 || !strings.Contains(body, "<svg") || strings.Count(body, `class="span"`) != 3 ||
		!strings.Contains(body, "activator.cold_start") {
		t.Errorf("/traces/id: %d %s", code, body)
	}
	code, body = get("/api/v1/traces?error=true")
	var list struct {
		Enabled bool           `json:"enabled"`
		Traces  []TraceSummary `json:"traces"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil || code != 200 || !list.Enabled || len(list.Traces) != 1 ||
		!list.Traces[0].Error || list.Traces[0].StatusCode != 503 || list.Traces[0].Path != "/x" {
		t.Errorf("/api/v1/traces: %d %s", code, body)
	}
	code, body = get("/api/v1/traces/" + id)
	var tr Trace
	if err := json.Unmarshal([]byte(body), &tr); err != nil || code != 200 || len(tr.SpanList) != 3 || tr.SpanList[2].ParentID != "2222222222222222" {
		t.Errorf("/api/v1/traces/id: %d %s", code, body)
	}
	if code, _ := get("/api/v1/traces/" + strings.Repeat("0", 32)); code != 404 {
		t.Errorf("unknown trace: %d", code)
	}
	off := httptest.NewServer(TracesHandler(nil))
	defer off.Close()
	resp, err := http.Get(off.URL + "/traces")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "--trace-sampling") {
		t.Errorf("off page: %s", b)
	}
}
