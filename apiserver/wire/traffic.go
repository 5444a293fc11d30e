package wire

import (
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/store"
)

// TrafficRow is one traffic target with the share of requests it received.
type TrafficRow struct {
	RevisionName   string  `json:"revisionName"`
	Percent        int64   `json:"percent"`
	Tag            string  `json:"tag,omitempty"`
	URL            string  `json:"url,omitempty"`
	LatestRevision bool    `json:"latestRevision"`
	Requests       uint64  `json:"requests"`
	ObservedShare  float64 `json:"observedShare"` // percent of the route's requests
}

// Traffic is the answer of GET /api/v1/routes/NS/NAME/traffic, also shown on
// the UI's service page.
type Traffic struct {
	Route         string       `json:"route"`
	URL           string       `json:"url"`
	WindowSeconds float64      `json:"windowSeconds"`
	Targets       []TrafficRow `json:"targets"`
}

// RequestsFunc reports the requests a route's main host sent each revision
// recently, and over how long.
type RequestsFunc func(namespace, route string) (map[string]uint64, time.Duration)

// RouteTraffic lists a route's traffic targets with the share of requests
// each received. requests may be nil (no counts).
func RouteTraffic(st *store.Store, requests RequestsFunc, namespace, name string) (Traffic, error) {
	o, err := st.Get(api.KindRoute, namespace, name)
	if err != nil {
		return Traffic{}, err
	}
	r := o.(*api.Route)
	var counts map[string]uint64
	var window time.Duration
	if requests != nil {
		counts, window = requests(r.Namespace, r.Name)
	}
	var total uint64
	for _, n := range counts {
		total += n
	}
	resp := Traffic{Route: r.Name, URL: r.Status.URL, WindowSeconds: window.Seconds(), Targets: []TrafficRow{}}
	seen := map[string]bool{}
	for _, t := range r.Status.Traffic {
		row := TrafficRow{RevisionName: t.RevisionName, Tag: t.Tag, URL: t.URL, LatestRevision: t.LatestRevision != nil && *t.LatestRevision}
		if t.Percent != nil {
			row.Percent = *t.Percent
		}
		if !seen[t.RevisionName] {
			// A revision listed twice (say, by name and as latest) received its
			// requests once: count them on its first row.
			seen[t.RevisionName] = true
			row.Requests = counts[t.RevisionName]
			if total > 0 {
				row.ObservedShare = 100 * float64(row.Requests) / float64(total)
			}
		}
		resp.Targets = append(resp.Targets, row)
	}
	return resp, nil
}
