package e2e

import (
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// h2specKnown are the h2spec cases both h2c ports fail, each a deliberate
// behaviour of Go's HTTP/2 server (docs/h2c-conformance.md says why).
var h2specKnown = map[string]bool{
	"http2/3.5 Sends invalid connection preface":                                                                 true,
	"http2/6.5.3 Sends multiple values of SETTINGS_INITIAL_WINDOW_SIZE":                                          true,
	"http2/8.1.2.2 Sends a HEADERS frame that contains the connection-specific header field":                     true,
	`http2/8.1.2.2 Sends a HEADERS frame that contains the TE header field with any value other than "trailers"`: true,
}

type junit struct {
	Suites []struct {
		Cases []struct {
			Package   string    `xml:"package,attr"`
			Classname string    `xml:"classname,attr"`
			Error     *struct{} `xml:"error"`
			Failure   *struct{} `xml:"failure"`
			Skipped   *struct{} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// TestH2Spec runs h2spec against the gateway's port (HTTP/1.1 and h2c) and
// a queue-proxy's h2c port: every case passes but the known ones.
func TestH2Spec(t *testing.T) {
	h2spec := tool(t, "H2SPEC", "h2spec")
	s := startStack(t, "")
	// h2spec's :authority is the address it dials: route 127.0.0.1 to hello.
	s.mustGantry(helloYAML("H2")+`---
apiVersion: serving.knative.dev/v1beta1
kind: DomainMapping
metadata:
  name: 127.0.0.1
  namespace: default
spec:
  ref: {name: hello, kind: Service, apiVersion: serving.knative.dev/v1}
`, "apply", "-f", "-")
	s.waitServing("hello.default.localhost", "Hello H2!")
	var inst struct {
		Items []struct {
			Ports struct{ H2C int } `json:"ports"`
		} `json:"items"`
	}
	if err := s.getJSON("/api/v1/revisions/default/hello-00001/instances", &inst); err != nil || len(inst.Items) == 0 {
		t.Fatalf("instances: %v %+v", err, inst)
	}
	waitFor(t, 10*time.Second, "127.0.0.1 to route to hello", func() bool {
		code, _, _ := s.request("127.0.0.1", "/")
		return code == 200
	})
	_, gwPort, _ := strings.Cut(s.gateway, ":")
	for _, tc := range []struct{ name, port string }{
		{"gateway", gwPort},
		{"queue-proxy h2c", strconv.Itoa(inst.Items[0].Ports.H2C)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			report := filepath.Join(t.TempDir(), "h2spec.xml")
			out, err := exec.Command(h2spec, "-h", "127.0.0.1", "-p", tc.port, "-o", "3", "-j", report).CombinedOutput()
			if _, ok := err.(*exec.ExitError); err != nil && !ok {
				t.Fatalf("h2spec: %v\n%s", err, out)
			}
			b, err := os.ReadFile(report)
			if err != nil {
				t.Fatalf("no report: %v\n%s", err, out)
			}
			var r junit
			if err := xml.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			n, failed := 0, map[string]bool{}
			for _, su := range r.Suites {
				for _, c := range su.Cases {
					n++
					if c.Error != nil || c.Failure != nil {
						failed[c.Package+" "+c.Classname] = true
					}
				}
			}
			if n < 140 {
				t.Fatalf("h2spec ran %d cases, want the full suite (145)\n%s", n, out)
			}
			for k := range failed {
				if !h2specKnown[k] {
					t.Errorf("h2spec fails %s", k)
				}
			}
			for k := range h2specKnown {
				if !failed[k] {
					t.Errorf("h2spec now passes %s: take it off the known list and docs/h2c-conformance.md", k)
				}
			}
			if t.Failed() {
				t.Logf("h2spec output:\n%s", out)
			}
		})
	}
}
