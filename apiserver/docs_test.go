package apiserver

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDocsListEveryRoute keeps docs/api.md's routes table and the code in step.
func TestDocsListEveryRoute(t *testing.T) {
	b, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([A-Z]+) (/[^`]*)` \\|")
	var documented []string
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		documented = append(documented, m[1]+" "+m[2])
	}
	param := regexp.MustCompile(`:([a-z]+)`)
	var served []string
	for _, r := range Routes() {
		served = append(served, r.Method+" "+param.ReplaceAllString(r.Path, "{$1}"))
	}
	sort.Strings(documented)
	sort.Strings(served)
	if diff := cmp.Diff(served, documented); diff != "" {
		t.Errorf("docs/api.md routes (-served +documented):\n%s", diff)
	}
	if !strings.Contains(string(b), `{"error": `) {
		t.Error("docs/api.md does not show the error shape")
	}
}
