package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
)

// A controller asks a gateway which traffic it serves for a host before it
// calls a route Ready, as Knative's ingress probing does: a request for the
// host with ProbeHeader "probe" is answered by the gateway itself, 200 with
// the TrafficHash of its entry in HashHeader, or 404 without one.
const (
	ProbeHeader = "K-Network-Probe"
	HashHeader  = "K-Network-Hash"
)

// TrafficHash names the split of an entry: each target's revision and
// percent, in order. The gateway and the controller compute it from the same
// route status, so equal hashes mean the gateway serves what the route says.
func TrafficHash(targets []Target) string {
	h := sha256.New()
	var b []byte
	for _, t := range targets {
		b = append(b[:0], t.Namespace...)
		b = append(b, '/')
		b = append(b, t.Revision...)
		b = append(b, '=')
		b = strconv.AppendInt(b, t.Percent, 10)
		b = append(b, '\n')
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// ServedHash is the TrafficHash of the entry for host, if the gateway has one.
func (g *Gateway) ServedHash(host string) (string, bool) {
	e, ok := g.table.Load().Lookup(host)
	if !ok {
		return "", false
	}
	return TrafficHash(e.Targets), true
}

// answerProbe answers a probe request; it is not counted as traffic.
func (g *Gateway) answerProbe(w http.ResponseWriter, r *http.Request) {
	hash, ok := g.ServedHash(r.Host)
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Header().Set(HashHeader, hash)
	w.WriteHeader(http.StatusOK)
}
