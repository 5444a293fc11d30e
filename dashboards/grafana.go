package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// datasource is the Prometheus data source every panel and variable uses: the
// one picked in the dashboard's datasource variable.
var datasource = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}

// Selection variables: every board filters on these, chained top to bottom.
// They come from the autoscaler's gauges, which exist for every revision,
// with or without traffic.
// "All" is ".*" for namespace and service, and the listed revisions for
// revision, so that series without service_name (the activator's) still
// follow the service picked.
var selectionVars = []struct{ name, label, query, allValue string }{
	{VarNamespace, "Namespace", `label_values(autoscaler_actual_pods, namespace_name)`, ".*"},
	{VarService, "Service", `label_values(autoscaler_actual_pods{namespace_name=~"$namespace"}, service_name)`, ".*"},
	{VarRevision, "Revision", `label_values(autoscaler_actual_pods{namespace_name=~"$namespace", service_name=~"$service"}, revision_name)`, ""},
}

// Dashboard builds the dashboard with the given uid.
func Dashboard(uid string) (dashboard.Dashboard, error) {
	for _, b := range boards() {
		if b.uid == uid {
			return b.build()
		}
	}
	return dashboard.Dashboard{}, fmt.Errorf("no dashboard %q", uid)
}

// DashboardUIDs lists the dashboards' uids; each is written to <uid>.json.
func DashboardUIDs() []string {
	var uids []string
	for _, b := range boards() {
		uids = append(uids, b.uid)
	}
	return uids
}

// WriteDashboards writes every dashboard as <uid>.json in dir, creating dir.
func WriteDashboards(dir string) error {
	files, err := dashboardFiles()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write dashboards: %w", err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("write dashboards: %w", err)
		}
	}
	return nil
}

// dashboardFiles renders every dashboard, by file name.
func dashboardFiles() (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, b := range boards() {
		d, err := b.build()
		if err != nil {
			return nil, err
		}
		data, err := marshalDashboard(d)
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", b.uid, err)
		}
		files[b.uid+".json"] = data
	}
	return files, nil
}

func marshalDashboard(d dashboard.Dashboard) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep PromQL's <, > and & readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func option(text, value string) dashboard.VariableOption {
	return dashboard.VariableOption{
		Text:  dashboard.StringOrArrayOfString{String: cog.ToPtr(text)},
		Value: dashboard.StringOrArrayOfString{String: cog.ToPtr(value)},
	}
}

func (b board) build() (dashboard.Dashboard, error) {
	// NewDashboardBuilder is deprecated in favour of dashboardv2, but the v1
	// shape is the one Grafana's file provisioning and /api/dashboards/db take.
	//nolint:staticcheck // deprecated, see above
	db := dashboard.NewDashboardBuilder(b.title).
		Uid(b.uid).
		Description(b.description).
		Tags([]string{"gantry"}).
		Editable().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Refresh("30s").
		Time("now-1h", "now").
		Timezone(common.TimeZoneBrowser).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus"))
	for _, v := range selectionVars {
		vb := dashboard.NewQueryVariableBuilder(v.name).Label(v.label).
			Query(dashboard.StringOrMap{String: cog.ToPtr(v.query)}).
			Definition(v.query).
			Datasource(datasource).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
			Sort(dashboard.VariableSortAlphabeticalAsc).
			Multi(true).IncludeAll(true).
			Current(option("All", "$__all"))
		if v.allValue != "" {
			vb.AllValue(v.allValue)
		}
		db.WithVariable(vb)
	}
	for _, v := range b.extraVars {
		db.WithVariable(v)
	}
	id := uint32(0)
	for _, r := range b.rows {
		id++
		db.WithRow(dashboard.NewRowBuilder(r.title).Id(id))
		for _, p := range r.panels {
			id++
			switch p.kind {
			case statPanel:
				db.WithPanel(p.stat(id))
			default:
				db.WithPanel(p.timeseries(id))
			}
		}
	}
	d, err := db.Build()
	if err != nil {
		return dashboard.Dashboard{}, fmt.Errorf("dashboard %s: %w", b.uid, err)
	}
	return d, nil
}

func (p panel) targets() []cog.Builder[variants.Dataquery] {
	var ts []cog.Builder[variants.Dataquery]
	for i, q := range p.queries {
		t := prometheus.NewDataqueryBuilder().
			Datasource(datasource).
			RefId(string(rune('A' + i))).
			Expr(q.Expr).
			LegendFormat(q.Legend).
			Range()
		// Latency quantiles show the trace ids the queue-proxy attaches to
		// its latency buckets (exemplars), linking a slow point to its trace.
		if strings.Contains(q.Expr, "_latencies_bucket") {
			t = t.Exemplar(true)
		}
		// Grafana's own way to say MinWindow: the query's min interval is a
		// lower bound of $__rate_interval (and of the step).
		if q.MinWindow != "" {
			t = t.Interval(q.MinWindow)
		}
		ts = append(ts, t)
	}
	return ts
}

func (p panel) thresholds() *dashboard.ThresholdsConfigBuilder {
	steps := p.steps
	if len(steps) == 0 {
		steps = []dashboard.Threshold{base("green")}
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(steps)
}

func (p panel) stat(id uint32) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Id(id).Title(p.title).Description(p.description).
		Datasource(datasource).
		Targets(p.targets()).
		Unit(p.queries[0].Unit).
		Span(p.width).Height(p.height).
		Thresholds(p.thresholds()).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"mean"}).Values(false)).
		Orientation(common.VizOrientationAuto).
		TextMode(common.BigValueTextModeAuto).
		ColorMode(common.BigValueColorModeValue).
		GraphMode(common.BigValueGraphModeArea).
		JustifyMode(common.BigValueJustifyModeAuto).
		WideLayout(true).
		ShowPercentChange(false)
}

func (p panel) timeseries(id uint32) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Id(id).Title(p.title).Description(p.description).
		Datasource(datasource).
		Targets(p.targets()).
		Unit(p.queries[0].Unit).
		Span(p.width).Height(p.height).
		Thresholds(p.thresholds()).
		Legend(common.NewVizLegendOptionsBuilder().
			ShowLegend(true).
			DisplayMode(common.LegendDisplayModeTable).
			Placement(common.LegendPlacementBottom).
			Calcs([]string{"mean", "max", "lastNotNull"})).
		Tooltip(common.NewVizTooltipOptionsBuilder().
			Mode(common.TooltipDisplayModeMulti).
			Sort(common.SortOrderDescending)).
		DrawStyle(common.GraphDrawStyleLine).
		LineWidth(1).
		FillOpacity(10).
		ShowPoints(common.VisibilityModeNever).
		SpanNulls(common.BoolOrFloat64{Bool: cog.ToPtr(false)})
}
