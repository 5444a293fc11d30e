package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/dashboards"
)

const downRules = `groups:
- name: gantry-test
  interval: 100ms
  rules:
  - record: job:up:sum
    expr: sum by (job) (up)
  - alert: TargetDown
    expr: up{job="broken"} == 0
    for: 400ms
    labels:
      severity: page
    annotations:
      summary: "{{ $labels.instance }} is down"
`

func TestAlertPendingThenFiringAndNotified(t *testing.T) {
	var (
		mu       sync.Mutex
		received [][]map[string]any
	)
	hook := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		var alerts []map[string]any
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &alerts) != nil {
			t.Errorf("webhook got %s %q: %s", r.Method, r.Header.Get("Content-Type"), b)
		}
		mu.Lock()
		received = append(received, alerts)
		mu.Unlock()
	})
	db := openTest(t, Options{NotifyURL: hook.URL + "/hook", ExternalURL: "http://gantry.test/prom"})
	if err := db.LoadRulesBytes("test.rules.yml", []byte(downRules)); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	scraped := make(chan struct{})
	go func() {
		defer close(scraped)
		db.RunScraper(ctx, func() []Target { return []Target{{URL: down, Labels: map[string]string{"job": "broken"}}} }, 50*time.Millisecond)
	}()
	defer func() { cancel(); <-scraped }()

	var sawPending bool
	deadline := time.Now().Add(10 * time.Second)
	for {
		alerts := db.Alerts()
		if len(alerts) == 1 && alerts[0].State == "pending" {
			sawPending = true
		}
		if len(alerts) == 1 && alerts[0].State == "firing" {
			a := alerts[0]
			if a.Name != "TargetDown" || a.Labels["severity"] != "page" || a.Labels["instance"] != down ||
				a.Annotations["summary"] != down+" is down" || a.Value != 0 || a.Expr != `up{job="broken"} == 0` || a.ActiveAt.IsZero() {
				t.Errorf("alert: %+v", a)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no firing alert after 10s: %+v", alerts)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !sawPending {
		t.Error("the alert never showed as pending before firing")
	}

	srv := httptest.NewServer(db.APIHandler())
	defer srv.Close()
	_, m := getJSON(t, http.MethodGet, srv.URL+"/api/v1/alerts", nil)
	as := m["data"].(map[string]any)["alerts"].([]any)
	if m["status"] != "success" || len(as) != 1 {
		t.Fatalf("/api/v1/alerts: %v", m)
	}
	a := as[0].(map[string]any)
	if a["state"] != "firing" || a["labels"].(map[string]any)["alertname"] != "TargetDown" || a["value"] != "0e+00" || a["activeAt"] == nil {
		t.Errorf("/api/v1/alerts alert: %v", a)
	}

	_, m = getJSON(t, http.MethodGet, srv.URL+"/api/v1/rules", nil)
	groups := m["data"].(map[string]any)["groups"].([]any)
	if len(groups) != 1 {
		t.Fatalf("/api/v1/rules: %v", m)
	}
	g := groups[0].(map[string]any)
	rs := g["rules"].([]any)
	if g["name"] != "gantry-test" || g["file"] != "test.rules.yml" || g["interval"] != 0.1 || len(rs) != 2 {
		t.Fatalf("group: %v", g)
	}
	rec, alert := rs[0].(map[string]any), rs[1].(map[string]any)
	if rec["type"] != "recording" || rec["name"] != "job:up:sum" || rec["health"] != "ok" {
		t.Errorf("recording rule: %v", rec)
	}
	if alert["type"] != "alerting" || alert["state"] != "firing" || alert["duration"] != 0.4 || len(alert["alerts"].([]any)) != 1 {
		t.Errorf("alerting rule: %v", alert)
	}
	_, m = getJSON(t, http.MethodGet, srv.URL+"/api/v1/rules", map[string][]string{"type": {"record"}})
	if rs := m["data"].(map[string]any)["groups"].([]any)[0].(map[string]any)["rules"].([]any); len(rs) != 1 {
		t.Errorf("type=record: %v", rs)
	}
	// The recording rule wrote its series.
	if v := mustQuery(t, db, `job:up:sum{job="broken"}`, time.Now()); len(v) != 1 {
		t.Errorf("recorded series: %v", v)
	}

	// The firing alert reached the webhook in Alertmanager's v2 format.
	for {
		mu.Lock()
		n := len(received)
		var got []map[string]any
		if n > 0 {
			got = received[0]
		}
		mu.Unlock()
		if n > 0 {
			if len(got) != 1 || got[0]["labels"].(map[string]any)["alertname"] != "TargetDown" ||
				got[0]["annotations"].(map[string]any)["summary"] != down+" is down" ||
				got[0]["startsAt"] == nil || got[0]["endsAt"] == nil ||
				!bytes.HasPrefix([]byte(got[0]["generatorURL"].(string)), []byte("http://gantry.test/prom/graph?g0.expr=")) {
				t.Errorf("webhook alerts: %v", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the webhook got no alert")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLoadRulesRejectsBadRulesAndKeepsOld(t *testing.T) {
	db := openTest(t, Options{})
	if err := db.LoadRulesBytes("a.yml", []byte(downRules)); err != nil {
		t.Fatal(err)
	}
	if err := db.LoadRulesBytes("a.yml", []byte("groups:\n- name: x\n  rules:\n  - alert: Bad\n    expr: sum(\n")); err == nil {
		t.Fatal("a rule with a broken expression was accepted")
	}
	if err := db.LoadRules(filepath.Join(t.TempDir(), "missing.yml")); err == nil {
		t.Fatal("a missing rule file was accepted")
	}
	if n := len(db.ruleGroups()); n != 1 {
		t.Fatalf("groups after failed loads: %d, want the old one", n)
	}
	f := filepath.Join(t.TempDir(), "b.yml")
	if err := os.WriteFile(f, []byte("groups:\n- name: fromfile\n  rules:\n  - record: x\n    expr: vector(1)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := db.LoadRules(f); err != nil {
		t.Fatal(err)
	}
	if err := db.LoadRulesBytes("a.yml", nil); err != nil {
		t.Fatal(err)
	}
	if gs := db.ruleGroups(); len(gs) != 1 || gs[0].Name() != "fromfile" {
		t.Fatalf("groups: %v", gs)
	}
}

// The rules the dashboards package generates load as they are.
func TestDashboardRulesLoad(t *testing.T) {
	db := openTest(t, Options{})
	var buf bytes.Buffer
	if err := dashboards.WriteRules(&buf, dashboards.RuleOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := db.LoadRulesBytes("gantry.rules.yml", buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if len(db.ruleGroups()) == 0 {
		t.Fatal("no rule groups loaded")
	}
}
