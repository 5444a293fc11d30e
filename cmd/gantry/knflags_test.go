package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/gantry-dev/gantry/api"
	corev1 "k8s.io/api/core/v1"
)

func target(rev, tag string, pct int64, latest bool) api.TrafficTarget {
	return api.TrafficTarget{RevisionName: rev, Tag: tag, Percent: new(pct), LatestRevision: new(latest)}
}

func show(ts []api.TrafficTarget) string {
	var parts []string
	for _, t := range ts {
		s := t.RevisionName
		if *t.LatestRevision {
			s = "@latest"
		}
		if t.Tag != "" {
			s += "#" + t.Tag
		}
		parts = append(parts, s+"="+strconv.FormatInt(*t.Percent, 10))
	}
	return strings.Join(parts, ",")
}

func TestComputeTraffic(t *testing.T) {
	latestOnly := []api.TrafficTarget{target("", "", 100, true)}
	for _, c := range []struct {
		name     string
		current  []api.TrafficTarget
		f        trafficFlags
		want     string
		err      string
		mutation bool
	}{
		{"split", latestOnly, trafficFlags{traffic: []string{"hello-00001=50", "@latest=50"}, trafficSet: true}, "@latest=50,hello-00001=50", "", false},
		{"tag old", latestOnly, trafficFlags{tags: []string{"hello-00001=stable"}}, "@latest=100,hello-00001#stable=0", "", false},
		{"untag", []api.TrafficTarget{target("", "", 100, true), target("hello-00001", "stable", 0, false)}, trafficFlags{untags: []string{"stable"}}, "@latest=100", "", false},
		{"untag missing", latestOnly, trafficFlags{untags: []string{"nope"}}, "", "tag(s) nope not present for any revisions of service hello", false},
		{"tag taken", []api.TrafficTarget{target("", "", 100, true), target("hello-00001", "stable", 0, false)}, trafficFlags{tags: []string{"hello-00002=stable"}}, "", "refusing to overwrite existing tag in service, add flag '--untag stable'", false},
		{"repeat", latestOnly, trafficFlags{traffic: []string{"a=50", "a=50"}, trafficSet: true}, "", "repetition of revision reference a is not allowed", false},
		{"not a number", latestOnly, trafficFlags{traffic: []string{"a=x"}, trafficSet: true}, "", "error converting given x to integer", false},
		{"over 100", latestOnly, trafficFlags{traffic: []string{"a=70", "b=40"}, trafficSet: true}, "", "given traffic percents sum to 110, want <=100", false},
		{"negative", latestOnly, trafficFlags{traffic: []string{"a=-1"}, trafficSet: true}, "", "expected 0 <= percent <= 100", false},
		{"bad tag", latestOnly, trafficFlags{tags: []string{"stable"}}, "", `invalid --tag "stable"`, false},
		{"rest to the one left out", []api.TrafficTarget{target("", "", 50, true), target("hello-00001", "", 50, false)},
			trafficFlags{traffic: []string{"hello-00001=90"}, trafficSet: true}, "@latest=10,hello-00001=90", "", false},
		{"rest to a new revision", []api.TrafficTarget{target("hello-00001", "", 100, false)},
			trafficFlags{traffic: []string{"hello-00001=90"}, trafficSet: true}, "hello-00001=90,@latest=10", "", true},
		{"rest unclear: left to the API", []api.TrafficTarget{target("", "", 100, true)},
			trafficFlags{traffic: []string{"hello-00001=40", "@latest=50"}, trafficSet: true}, "@latest=50,hello-00001=40", "", false},
	} {
		got, err := computeTraffic("hello", c.current, c.f, c.mutation)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if s := show(got); s != c.want {
			t.Errorf("%s: got %s, want %s", c.name, s, c.want)
		}
	}
}

func TestSetEnv(t *testing.T) {
	env := []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}}
	got, err := setEnv(env, []string{"A-", "B=3", "C=4"})
	if err != nil || len(got) != 2 || got[0] != (corev1.EnvVar{Name: "B", Value: "3"}) || got[1] != (corev1.EnvVar{Name: "C", Value: "4"}) {
		t.Fatalf("setEnv = %v, %v", got, err)
	}
	if _, err := setEnv(nil, []string{"NOEQUALS"}); err == nil || !strings.Contains(err.Error(), `invalid --env "NOEQUALS"`) {
		t.Errorf("err %v", err)
	}
	if _, err := parsePort("h2c:0"); err == nil {
		t.Error("port 0 accepted")
	}
	if p, err := parsePort("h2c:8080"); err != nil || p.Name != "h2c" || p.ContainerPort != 8080 {
		t.Errorf("parsePort = %v, %v", p, err)
	}
}

func TestAlignRow(t *testing.T) {
	first := "NAME          SERVICE   READY   REASON\n"
	widths := columnWidths(strings.TrimRight(first, "\n"))
	got := alignRow("NAME    SERVICE   READY     REASON\nab-1    ab        Unknown   Deploying\n", widths)
	if want := "ab-1          ab        Unknown   Deploying"; got != want {
		t.Errorf("alignRow = %q, want %q", got, want)
	}
}
