package apiserver

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/api"
)

func TestWatch(t *testing.T) {
	f := newFixture(t, nil)
	if rec := f.do(http.MethodPost, "/api/v1/apply", helloYAML); rec.Code != http.StatusOK {
		t.Fatal(rec.Body)
	}
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/services?watch=true&namespace=default", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("Content-Type %q", ct)
	}
	lines := bufio.NewScanner(resp.Body)
	next := func() (string, string) {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("watch ended: %v", lines.Err())
		}
		var ev struct {
			Type   string `json:"type"`
			Object struct {
				Metadata struct{ Name, Namespace string } `json:"metadata"`
			} `json:"object"`
		}
		if err := json.Unmarshal(lines.Bytes(), &ev); err != nil {
			t.Fatalf("event %q: %v", lines.Text(), err)
		}
		return ev.Type, ev.Object.Metadata.Name
	}
	if typ, name := next(); typ != EventAdded || name != "hello" {
		t.Fatalf("first event %s %s, want ADDED hello", typ, name)
	}
	// A status change, another namespace (not shown), a deletion.
	o, _ := f.st.Get(api.KindService, "default", "hello")
	svc := o.(*api.Service)
	svc.Status.URL = "http://hello.default.localhost"
	if err := f.st.UpdateStatus(svc); err != nil {
		t.Fatal(err)
	}
	if typ, name := next(); typ != EventModified || name != "hello" {
		t.Fatalf("after a status change: %s %s, want MODIFIED hello", typ, name)
	}
	if rec := f.do(http.MethodPost, "/api/v1/apply", byeYAML); rec.Code != http.StatusOK {
		t.Fatal(rec.Body)
	}
	if rec := f.do(http.MethodDelete, "/api/v1/services/default/hello", ""); rec.Code != http.StatusOK {
		t.Fatal(rec.Body)
	}
	if typ, name := next(); typ != EventDeleted || name != "hello" {
		t.Fatalf("after delete: %s %s, want DELETED hello", typ, name)
	}
}

// TestWatchEndsOnShutdown: an open watch does not hold up the server's
// graceful shutdown.
func TestWatchEndsOnShutdown(t *testing.T) {
	f := newFixture(t, nil)
	srv := httptest.NewUnstartedServer(f.h)
	srv.Start()
	resp, err := http.Get(srv.URL + "/api/v1/revisions?watch=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := srv.Config.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with an open watch: %v after %s", err, time.Since(start))
	}
	srv.Close()
}

// TestWatchRedactsSecrets: a watch shows a Secret's keys, not its values, as
// list and get do.
func TestWatchRedactsSecrets(t *testing.T) {
	f := newFixture(t, nil)
	if rec := f.do(http.MethodPost, "/api/v1/apply", "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: default}\nstringData: {token: s3cret-token}\n"); rec.Code != http.StatusOK {
		t.Fatal(rec.Body)
	}
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/secrets?watch=true", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.Contains(line, `"token":""`) || strings.Contains(line, "s3cret") {
		t.Errorf("watch event %q (%v): want the key with an empty value", line, err)
	}
}
