package metrics

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
)

type fsample struct {
	t int64
	f float64
}

func (s fsample) T() int64                      { return s.t }
func (s fsample) ST() int64                     { return 0 }
func (s fsample) F() float64                    { return s.f }
func (s fsample) H() *histogram.Histogram       { return nil }
func (s fsample) FH() *histogram.FloatHistogram { return nil }
func (s fsample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s fsample) Copy() chunks.Sample           { return s }

// writeBlock writes a persisted block with one series over [from, from+1h].
func writeBlock(t *testing.T, dir string, from time.Time) {
	t.Helper()
	var ss []chunks.Sample
	for ts := from; ts.Before(from.Add(time.Hour)); ts = ts.Add(time.Minute) {
		ss = append(ss, fsample{ts.UnixMilli(), 1})
	}
	series := storage.NewListSeries(labels.FromStrings("__name__", "old_metric", "at", from.Format(time.RFC3339)), ss)
	if _, err := tsdb.CreateBlock([]storage.Series{series}, dir, 0, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
}

func blockDirs(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "meta.json")); err == nil {
			n++
		}
	}
	return n
}

func TestRetentionDropsOldBlocks(t *testing.T) {
	now := time.Now().Truncate(time.Hour)
	for _, c := range []struct {
		retention  time.Duration
		wantBlocks int
	}{
		{24 * time.Hour, 1}, // the block 5 days older than the newest is dropped on open
		{0, 2},              // the default, 15 days, keeps both
	} {
		dir := t.TempDir()
		writeBlock(t, dir, now.Add(-5*24*time.Hour))
		writeBlock(t, dir, now.Add(-2*time.Hour))
		if n := blockDirs(t, dir); n != 2 {
			t.Fatalf("wrote %d blocks", n)
		}
		db := openTest(t, Options{Dir: dir, Retention: c.retention})
		want := c.retention
		if want == 0 {
			want = DefaultRetention
		}
		if db.Retention() != want {
			t.Errorf("Retention() = %v, want %v", db.Retention(), want)
		}
		if n := blockDirs(t, dir); n != c.wantBlocks {
			t.Errorf("retention %v: %d blocks on disk, want %d", c.retention, n, c.wantBlocks)
		}
		v := mustQuery(t, db, `count(last_over_time(old_metric[1h]))`, now.Add(-5*24*time.Hour+time.Hour))
		if got := len(v) == 1; got != (c.wantBlocks == 2) {
			t.Errorf("retention %v: old data queryable = %v", c.retention, got)
		}
	}
	if _, err := Open(Options{Dir: t.TempDir(), Retention: -time.Hour}); err == nil {
		t.Error("a negative retention was accepted")
	}
}

func TestOpenRegistersOwnMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	openTest(t, Options{Registerer: reg})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{"gantry_scrape_duration_seconds", "gantry_scrape_failures_total", "gantry_metrics_head_series", "gantry_scrape_targets"} {
		if !names[n] {
			t.Errorf("%s not registered (have %v)", n, names)
		}
	}
}

func TestReopenKeepsData(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Now().Add(-time.Minute)
	app := db.Storage().AppenderV2(t.Context())
	if _, err := app.Append(0, labels.FromStrings("__name__", "kept"), 0, ts.UnixMilli(), 42, nil, nil, storage.AOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTest(t, Options{Dir: dir}) // WAL replay
	if v := mustQuery(t, db, `kept`, ts); len(v) != 1 || v[0].Value != 42 {
		t.Errorf("after reopen: %v", v)
	}
	if _, err := db.ScrapeOnce(t.Context(), nil, time.Now()); err != nil {
		t.Fatal(err)
	}
}
