package kube

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gantry-dev/gantry/gateway"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ingressProber tells whether the gateways serve a route's traffic yet, so
// that a route is Ready only once a request to it is routed, as Knative's
// ingress probing does. It asks every ready gantry-gateway pod of the system
// namespace (gateway.ProbeHeader), and the gateway of this process, if any.
// With neither there is nobody to ask, and the route is Ready as computed.
type ingressProber struct {
	reader client.Reader // uncached: the cache holds only revisions' pods
	ns     string
	local  atomic.Pointer[gateway.Gateway]
	http   *http.Client
}

func newIngressProber(reader client.Reader, ns string) *ingressProber {
	return &ingressProber{reader: reader, ns: ns, http: &http.Client{Timeout: time.Second,
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}}
}

// gatewayPodLabel selects the gateway's pods (deploy/kustomize).
const gatewayPodLabel = "gantry-gateway"

// serves reports whether every gateway serves entries; why says what is
// missing when not.
func (p *ingressProber) serves(ctx context.Context, entries []gateway.RouteEntry) (ok bool, why string) {
	if g := p.local.Load(); g != nil {
		for _, e := range entries {
			if h, found := g.ServedHash(e.Host); !found || h != gateway.TrafficHash(e.Targets) {
				return false, "this process's gateway does not serve " + e.Host + " yet"
			}
		}
	}
	var pods corev1.PodList
	if err := p.reader.List(ctx, &pods, client.InNamespace(p.ns), client.MatchingLabels{"app.kubernetes.io/name": gatewayPodLabel}); err != nil {
		return false, fmt.Sprintf("list gateway pods: %v", err)
	}
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.Status.PodIP == "" || pod.DeletionTimestamp != nil || !podReady(pod) {
			continue
		}
		addr := net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(int(httpPort(pod))))
		for _, e := range entries {
			if err := p.probe(ctx, addr, e); err != nil {
				return false, fmt.Sprintf("gateway pod %s: %v", pod.Name, err)
			}
		}
	}
	return true, ""
}

// probe asks the gateway at addr for e.Host's traffic.
func (p *ingressProber) probe(ctx context.Context, addr string, e gateway.RouteEntry) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
	if err != nil {
		return err
	}
	req.Host = e.Host
	req.Header.Set(gateway.ProbeHeader, "probe")
	resp, err := p.http.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if want := gateway.TrafficHash(e.Targets); resp.StatusCode != http.StatusOK || resp.Header.Get(gateway.HashHeader) != want {
		return fmt.Errorf("%s: %d, traffic %q, want %q", e.Host, resp.StatusCode, resp.Header.Get(gateway.HashHeader), want)
	}
	return nil
}

// httpPort is the gateway container's port named http, else 8080.
func httpPort(pod *corev1.Pod) int32 {
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == "http" {
				return p.ContainerPort
			}
		}
	}
	return 8080
}
