package kube

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/gantry-dev/gantry/api"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// GatewayRef names the Gateway (of Istio, Envoy Gateway, Contour or any other
// Gateway API implementation) that HTTPRoutes attach to.
type GatewayRef struct {
	Namespace, Name string
	// SectionName optionally picks one listener of the Gateway.
	SectionName string
}

// ParseGatewayRef reads "namespace/name" or "namespace/name/listener".
func ParseGatewayRef(s string) (GatewayRef, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return GatewayRef{}, fmt.Errorf("gateway %q: want NAMESPACE/NAME[/LISTENER]", s)
	}
	g := GatewayRef{Namespace: parts[0], Name: parts[1]}
	if len(parts) == 3 {
		g.SectionName = parts[2]
	}
	return g, nil
}

// IngressClassOf is the ingress class that serves route: its
// networking.knative.dev/ingress.class annotation, else config-network's.
func IngressClassOf(route *api.Route, cfg *api.Config) string {
	for _, k := range []string{AnnotationIngressClass, AnnotationIngressClassHyphen} {
		if v := route.Annotations[k]; v != "" {
			return v
		}
	}
	if cfg != nil && cfg.Network.IngressClass != "" {
		return cfg.Network.IngressClass
	}
	return IngressClassGantry
}

// IsGatewayAPIClass reports whether class asks for Gateway API HTTPRoutes.
func IsGatewayAPIClass(class string) bool {
	return class == IngressClassGatewayAPI || strings.HasPrefix(class, "gateway-api.")
}

// ServiceRef names a Service (port 80) a backendRef points at.
type ServiceRef struct {
	Namespace, Name string // Namespace "" is the route's
}

// MakeHTTPRoutes returns the Gateway API HTTPRoutes that serve route's
// resolved traffic (its status): one for the route's host with a weighted
// backendRef per revision (to the revision's Service, port 80), and one per
// tag for the tag's host. A route with no resolved traffic gets none.
func MakeHTTPRoutes(route *api.Route, gw GatewayRef) []*gwv1.HTTPRoute {
	return MakeHTTPRoutesVia(route, gw, nil)
}

// MakeHTTPRoutesVia is MakeHTTPRoutes where backend, when not nil, picks the
// Service for each revision: the activator (the gantry gateway, which buffers
// and pokes the autoscaler) for a revision with no ready instances, as
// Knative's activator in the path. Targets that land on one Service add up.
func MakeHTTPRoutesVia(route *api.Route, gw GatewayRef, backend func(revision string) ServiceRef) []*gwv1.HTTPRoute {
	if len(route.Status.Traffic) == 0 {
		return nil
	}
	if backend == nil {
		backend = func(rev string) ServiceRef { return ServiceRef{Name: RevisionServiceName(rev)} }
	}
	var out []*gwv1.HTTPRoute
	var main []gwv1.HTTPBackendRef
	for _, t := range route.Status.Traffic {
		if t.RevisionName == "" || t.Percent == nil || *t.Percent <= 0 {
			continue
		}
		to := backend(t.RevisionName)
		// Two targets on one Service (say, a tag and latest) add up.
		if i := slices.IndexFunc(main, func(b gwv1.HTTPBackendRef) bool { return sameService(b, to) }); i >= 0 {
			*main[i].Weight += int32(*t.Percent)
			continue
		}
		main = append(main, backendRef(to, int32(*t.Percent)))
	}
	if host := hostOfURL(route.Status.URL); host != "" && len(main) > 0 {
		out = append(out, makeHTTPRoute(route, route.Name, "", host, main, gw))
	}
	for _, t := range route.Status.Traffic {
		if t.Tag == "" || t.RevisionName == "" {
			continue
		}
		if host := hostOfURL(t.URL); host != "" {
			out = append(out, makeHTTPRoute(route, TagHTTPRouteName(route.Name, t.Tag), t.Tag, host,
				[]gwv1.HTTPBackendRef{backendRef(backend(t.RevisionName), 100)}, gw))
		}
	}
	return out
}

func backendRef(to ServiceRef, weight int32) gwv1.HTTPBackendRef {
	port := gwv1.PortNumber(80)
	w := weight
	ref := gwv1.BackendObjectReference{Name: gwv1.ObjectName(to.Name), Port: &port}
	if to.Namespace != "" {
		ns := gwv1.Namespace(to.Namespace)
		ref.Namespace = &ns
	}
	return gwv1.HTTPBackendRef{BackendRef: gwv1.BackendRef{BackendObjectReference: ref, Weight: &w}}
}

func sameService(b gwv1.HTTPBackendRef, to ServiceRef) bool {
	ns := ""
	if b.Namespace != nil {
		ns = string(*b.Namespace)
	}
	return string(b.Name) == to.Name && ns == to.Namespace
}

// ActivatorService is the gantry gateway's Service that HTTPRoutes send a
// revision's share to while it has no ready instances: the first two labels
// of host (name.namespace.svc...), else gantry-gateway in sys.
func ActivatorService(host, sys string) ServiceRef {
	if parts := strings.Split(host, "."); len(parts) >= 2 && parts[0] != "" && parts[1] != "" {
		return ServiceRef{Namespace: parts[1], Name: parts[0]}
	}
	return ServiceRef{Namespace: sys, Name: "gantry-gateway"}
}

func makeHTTPRoute(route *api.Route, name, tag, host string, refs []gwv1.HTTPBackendRef, gw GatewayRef) *gwv1.HTTPRoute {
	t := true
	labels := map[string]string{api.LabelRoute: route.Name, LabelManagedBy: ManagedBy}
	if s := route.Labels[api.LabelService]; s != "" {
		labels[api.LabelService] = s
	}
	if tag != "" {
		labels[LabelTag] = tag
	}
	parent := gwv1.ParentReference{Name: gwv1.ObjectName(gw.Name)}
	if gw.Namespace != "" {
		ns := gwv1.Namespace(gw.Namespace)
		parent.Namespace = &ns
	}
	if gw.SectionName != "" {
		sn := gwv1.SectionName(gw.SectionName)
		parent.SectionName = &sn
	}
	return &gwv1.HTTPRoute{
		TypeMeta: metav1.TypeMeta{APIVersion: gwv1.GroupVersion.String(), Kind: "HTTPRoute"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: route.Namespace, Labels: labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: GroupVersion.String(), Kind: api.KindRoute,
				Name: route.Name, UID: route.UID, Controller: &t, BlockOwnerDeletion: &t}}},
		Spec: gwv1.HTTPRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{parent}},
			Hostnames:       []gwv1.Hostname{gwv1.Hostname(host)},
			Rules:           []gwv1.HTTPRouteRule{{BackendRefs: refs}},
		},
	}
}

func hostOfURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Hostname()
}
