package dashboards

import (
	"io"
	"testing"
)

// BenchmarkRender renders the longest query (cost per million requests, two
// cAdvisor joins) for one revision, as the UI does for a chart.
func BenchmarkRender(b *testing.B) {
	opts := RenderOptions{Selector: Selector{Namespace: "default", Service: "hello", Revision: "hello-00001"}, Window: "1m"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CostPerMillionRequests.Render(opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderSimple renders a one-selector query.
func BenchmarkRenderSimple(b *testing.B) {
	opts := RenderOptions{Selector: Selector{Namespace: "default", Revision: "hello-00001"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := RequestVolume.Render(opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDashboards builds and marshals the five dashboards.
func BenchmarkDashboards(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dashboardFiles(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteRules generates the rule file.
func BenchmarkWriteRules(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteRules(io.Discard, RuleOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
