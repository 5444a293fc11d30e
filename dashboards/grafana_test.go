package dashboards

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

var update = flag.Bool("update", false, "rewrite the golden files and the generated files in deploy/")

const (
	goldenDir      = "testdata/golden"
	deployDashDir  = "../deploy/grafana/dashboards"
	deployRulesYML = "../deploy/prometheus/rules.yml"
)

// TestDashboardsRoundTrip reads each generated file back into the SDK's
// dashboard type: nothing is lost or unknown to the SDK.
func TestDashboardsRoundTrip(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	files, err := dashboardFiles()
	if err != nil {
		t.Fatal(err)
	}
	for _, uid := range DashboardUIDs() {
		data := files[uid+".json"]
		built, err := Dashboard(uid)
		if err != nil {
			t.Fatal(err)
		}
		var back dashboard.Dashboard
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatalf("%s: %v", uid, err)
		}
		if err := back.Validate(); err != nil {
			t.Errorf("%s: Validate: %v", uid, err)
		}
		if !back.Equals(built) {
			t.Errorf("%s: unmarshalled dashboard differs from the built one", uid)
		}
		again, err := marshalDashboard(back)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, data) {
			t.Errorf("%s: JSON changes on a round trip through dashboard.Dashboard", uid)
		}
		if len(back.Panels) == 0 {
			t.Errorf("%s: no panels after the round trip", uid)
		}
		for i, p := range back.Panels {
			if p.Panel == nil && p.RowPanel == nil {
				t.Errorf("%s: panel %d is empty after the round trip", uid, i)
			}
		}
	}
}

// jsonDashboard is the part of the Grafana JSON model the checks read.
type jsonDashboard struct {
	UID           string `json:"uid"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name, Type string
			Datasource *struct{ Type, UID string }
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID          int    `json:"id"`
		Type        string `json:"type"`
		Title       string `json:"title"`
		Description string `json:"description"`
		GridPos     struct{ H, W, X, Y int }
		Datasource  *struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			Expr         string `json:"expr"`
			LegendFormat string `json:"legendFormat"`
			RefID        string `json:"refId"`
			Datasource   *struct {
				UID string `json:"uid"`
			} `json:"datasource"`
		} `json:"targets"`
		FieldConfig struct {
			Defaults struct {
				Unit string `json:"unit"`
			} `json:"defaults"`
		} `json:"fieldConfig"`
		Options struct {
			Legend *struct {
				ShowLegend  bool   `json:"showLegend"`
				DisplayMode string `json:"displayMode"`
				Placement   string `json:"placement"`
			} `json:"legend"`
			Tooltip *struct {
				Mode string `json:"mode"`
				Sort string `json:"sort"`
			} `json:"tooltip"`
			Orientation *string `json:"orientation"`
		} `json:"options"`
	} `json:"panels"`
}

var usedVarRE = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)

// TestDashboardsValid checks what Grafana would accept silently but show
// wrong: duplicate ids, panels without data source, unit, legend or tooltip,
// undefined variables, a layout wider than the grid.
func TestDashboardsValid(t *testing.T) {
	files, err := dashboardFiles()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 5 {
		t.Errorf("%d dashboards, want 5", len(files))
	}
	for name, data := range files {
		var d jsonDashboard
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d.SchemaVersion < 39 {
			t.Errorf("%s: schemaVersion %d", name, d.SchemaVersion)
		}
		if name != d.UID+".json" {
			t.Errorf("%s: uid %q", name, d.UID)
		}
		vars := map[string]bool{"__rate_interval": true, "__interval": true}
		var order []string
		for _, v := range d.Templating.List {
			vars[v.Name] = true
			order = append(order, v.Name)
			if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != "${datasource}") {
				t.Errorf("%s: variable %s does not use ${datasource}", name, v.Name)
			}
		}
		if want := []string{"datasource", VarNamespace, VarService, VarRevision}; len(order) < 4 || !slices.Equal(order[:4], want) {
			t.Errorf("%s: variables %v, want %v first", name, order, want)
		}
		ids := map[int]string{}
		titles := map[string]bool{}
		for _, p := range d.Panels {
			if prev, dup := ids[p.ID]; dup || p.ID <= 0 {
				t.Errorf("%s: panel %q has id %d, as has %q", name, p.Title, p.ID, prev)
			}
			ids[p.ID] = p.Title
			if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("%s: panel %q is outside the grid: %+v", name, p.Title, p.GridPos)
			}
			if p.Type == "row" {
				continue
			}
			if titles[p.Title] {
				t.Errorf("%s: two panels titled %q", name, p.Title)
			}
			titles[p.Title] = true
			if p.Description == "" {
				t.Errorf("%s: panel %q has no description", name, p.Title)
			}
			if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" {
				t.Errorf("%s: panel %q datasource %+v", name, p.Title, p.Datasource)
			}
			if p.FieldConfig.Defaults.Unit == "" {
				t.Errorf("%s: panel %q has no unit", name, p.Title)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no targets", name, p.Title)
			}
			refs := map[string]bool{}
			for _, tg := range p.Targets {
				if tg.Expr == "" || tg.LegendFormat == "" || tg.RefID == "" || refs[tg.RefID] {
					t.Errorf("%s: panel %q target %+v: empty expr or legend, or duplicate refId", name, p.Title, tg)
				}
				refs[tg.RefID] = true
				if tg.Datasource == nil || tg.Datasource.UID != "${datasource}" {
					t.Errorf("%s: panel %q target %s has no datasource", name, p.Title, tg.RefID)
				}
				for _, m := range usedVarRE.FindAllStringSubmatch(tg.Expr, -1) {
					if !vars[m[1]] {
						t.Errorf("%s: panel %q uses undefined variable $%s", name, p.Title, m[1])
					}
				}
			}
			switch p.Type {
			case "timeseries":
				l, tt := p.Options.Legend, p.Options.Tooltip
				if l == nil || !l.ShowLegend || l.DisplayMode == "" || l.Placement == "" {
					t.Errorf("%s: panel %q legend %+v", name, p.Title, l)
				}
				if tt == nil || tt.Mode == "" || tt.Sort == "" {
					t.Errorf("%s: panel %q tooltip %+v", name, p.Title, tt)
				}
			case "stat":
				if o := p.Options.Orientation; o == nil || *o == "" {
					t.Errorf("%s: panel %q has no orientation", name, p.Title)
				}
			default:
				t.Errorf("%s: panel %q has type %q", name, p.Title, p.Type)
			}
		}
	}
}

// TestPanelsShareUnits: a panel has one unit, so its queries must agree.
func TestPanelsShareUnits(t *testing.T) {
	used := map[string]bool{}
	for _, b := range boards() {
		for _, r := range b.rows {
			for _, p := range r.panels {
				for _, q := range p.queries {
					used[q.ID] = true
					if q.Unit != p.queries[0].Unit {
						t.Errorf("%s: panel %q mixes units %s and %s", b.uid, p.title, p.queries[0].Unit, q.Unit)
					}
				}
			}
		}
	}
	for _, q := range Queries() {
		if !used[q.ID] {
			t.Errorf("query %s is on no dashboard", q.ID)
		}
	}
}

// TestGolden compares the dashboards with testdata/golden; -update rewrites them.
func TestGolden(t *testing.T) {
	files, err := dashboardFiles()
	if err != nil {
		t.Fatal(err)
	}
	var rules bytes.Buffer
	if err := WriteRules(&rules, RuleOptions{}); err != nil {
		t.Fatal(err)
	}
	files["rules.yml"] = rules.Bytes()
	compareDir(t, goldenDir, files, ".json")
}

// TestDeployFilesUpToDate keeps deploy/grafana/dashboards and
// deploy/prometheus/rules.yml equal to what the generators write;
// -update (or go generate ./dashboards) rewrites them.
func TestDeployFilesUpToDate(t *testing.T) {
	files, err := dashboardFiles()
	if err != nil {
		t.Fatal(err)
	}
	compareDir(t, deployDashDir, files, ".json")
	var rules bytes.Buffer
	if err := WriteRules(&rules, RuleOptions{}); err != nil {
		t.Fatal(err)
	}
	compareDir(t, filepath.Dir(deployRulesYML), map[string][]byte{filepath.Base(deployRulesYML): rules.Bytes()}, "")
}

// compareDir checks that dir holds files; with -update it writes them and
// removes other files ending in staleExt.
func compareDir(t *testing.T, dir string, files map[string][]byte, staleExt string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range files {
		path := filepath.Join(dir, name)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v (run go generate ./dashboards)", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is out of date: run go generate ./dashboards", path)
		}
	}
	if staleExt == "" {
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if _, ok := files[e.Name()]; ok || !strings.HasSuffix(e.Name(), staleExt) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if *update {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Errorf("%s is not generated any more: run go generate ./dashboards", path)
	}
}

func TestWriteDashboards(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sub")
	if err := WriteDashboards(dir); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"gantry-autoscaler.json", "gantry-control-plane.json", "gantry-overview.json", "gantry-resources.json", "gantry-response-time.json"}
	if !slices.Equal(names, want) {
		t.Errorf("WriteDashboards wrote %v, want %v", names, want)
	}
	if _, err := Dashboard("nope"); err == nil {
		t.Error("Dashboard(nope) did not fail")
	}
}
