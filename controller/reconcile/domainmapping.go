package reconcile

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-dev/gantry/api"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ConditionCertificateProvisioned is the DomainMapping condition about its
// TLS certificate (Knative's DomainMappingConditionCertificateProvisioned).
const ConditionCertificateProvisioned = api.ConditionCertificateProvisioned

// Knative's messages for a DomainMapping's conditions.
const (
	msgDomainAlreadyClaimed   = "The domain name is already in use by another DomainMapping"
	msgTLSNotEnabled          = "external-domain-tls is not enabled"
	msgCertProvidedExternally = "TLS certificate was provided externally"
	msgIngressNotConfigured   = "Ingress has not yet been reconciled."
)

// DomainMappingInputs is the observed state a DomainMapping resolves against.
type DomainMappingInputs struct {
	// Service and Route find the mapping's target by namespace and name; a
	// nil func or a nil result means not found.
	Service func(namespace, name string) *api.Service
	Route   func(namespace, name string) *api.Route

	// Claims maps each claimed host to the namespace that owns it (Knative's
	// ClusterDomainClaims); DomainClaims builds it from all DomainMappings. A
	// host owned by another namespace is refused.
	Claims map[string]string
	// RequireClaim refuses a host that nobody has claimed, as Knative does
	// when autocreate-cluster-domain-claims is false. When it is false an
	// unclaimed host is taken by the mapping.
	RequireClaim bool
	// RouteHosts maps the hosts routes and their tags already serve to the
	// route ("namespace/name"); a mapping cannot take one of them.
	RouteHosts map[string]string

	// TLSSecret checks the Secret spec.tls names, in the mapping's namespace:
	// nil when it exists and holds a valid kubernetes.io/tls pair (see
	// ValidTLSSecret). A nil func does not check.
	TLSSecret func(namespace, name string) error

	// Scheme is config-network's default-external-scheme ("" is http); a
	// mapping with spec.tls is https.
	Scheme string
	// Port and TLSPort are the gateway's plain and TLS ports, written into
	// the URL unless 0 or the scheme's default.
	Port, TLSPort int
}

// DomainMappingTarget is where a ready mapping sends its host: the traffic of
// a route, as if the request had been made to the route's own host.
type DomainMappingTarget struct {
	Host      string // the mapped host: the mapping's name
	Namespace string // of the mapping and the route
	Route     string // the route whose traffic Host gets
	RouteHost string // the route's host, which requests are rewritten to (Knative's RewriteHost)
	TLSSecret string // spec.tls.secretName; "" serves Host without TLS
}

// DomainMappingResult is what reconciling a DomainMapping decides.
type DomainMappingResult struct {
	Status api.DomainMappingStatus
	// Target is set once the host is claimed, the reference resolved and the
	// certificate (if any) usable: the gateway should then serve Host.
	Target *DomainMappingTarget
}

// DomainMapping reconciles dm: it claims dm's host, resolves spec.ref to a
// Service or Route of dm's namespace, checks the TLS secret, and reports
// Knative's conditions (DomainClaimed, ReferenceResolved,
// CertificateProvisioned, IngressReady, Ready) with Knative's reasons. Unlike
// Knative, which stops at the first failure, every condition is evaluated so
// the status names every problem at once.
func DomainMapping(dm *api.DomainMapping, in DomainMappingInputs, now time.Time) DomainMappingResult {
	st := *dm.Status.DeepCopy()
	st.ObservedGeneration = dm.Generation

	scheme, port := in.Scheme, in.Port
	if scheme == "" {
		scheme = "http"
	}
	if dm.Spec.TLS != nil {
		scheme, port = "https", in.TLSPort
	}
	st.URL = hostURL(scheme, dm.Name, port)
	st.Address = &api.Addressable{URL: st.URL}

	claimed := claimDomain(dm, in)
	st.Conditions = setCondition(st.Conditions, now, api.ConditionDomainClaimed, claimed.status, claimed.reason, claimed.msg)

	target, err := resolveDomainMappingRef(dm, in)
	if err != nil {
		st.Conditions = setCondition(st.Conditions, now, api.ConditionReferenceResolved, corev1.ConditionFalse, "ResolveFailed", err.Error())
	} else {
		st.Conditions = setCondition(st.Conditions, now, api.ConditionReferenceResolved, corev1.ConditionTrue, "", "")
	}

	cert := condition{corev1.ConditionTrue, "TLSNotEnabled", msgTLSNotEnabled}
	if dm.Spec.TLS != nil {
		cert = condition{corev1.ConditionTrue, "CertificateExternallyProvided", msgCertProvidedExternally}
		if in.TLSSecret != nil {
			if err := in.TLSSecret(dm.Namespace, dm.Spec.TLS.SecretName); err != nil {
				cert = condition{corev1.ConditionFalse, "CertificateProvisionFailed",
					fmt.Sprintf("TLS secret %q cannot be used: %v", dm.Spec.TLS.SecretName, err)}
			}
		}
	}
	st.Conditions = setCondition(st.Conditions, now, ConditionCertificateProvisioned, cert.status, cert.reason, cert.msg)

	var res DomainMappingResult
	if IsTrue(st.Conditions, api.ConditionDomainClaimed) && IsTrue(st.Conditions, api.ConditionReferenceResolved) &&
		IsTrue(st.Conditions, ConditionCertificateProvisioned) {
		if dm.Spec.TLS != nil {
			target.TLSSecret = dm.Spec.TLS.SecretName
		}
		res.Target = target
		st.Conditions = setCondition(st.Conditions, now, api.ConditionIngressReady, corev1.ConditionTrue, "", "")
	} else {
		st.Conditions = setCondition(st.Conditions, now, api.ConditionIngressReady, corev1.ConditionUnknown, "IngressNotConfigured", msgIngressNotConfigured)
	}
	st.Conditions = ready(st.Conditions, now, api.ConditionDomainClaimed, api.ConditionReferenceResolved,
		api.ConditionIngressReady, ConditionCertificateProvisioned)
	res.Status = st
	return res
}

type condition struct {
	status      corev1.ConditionStatus
	reason, msg string
}

// claimDomain decides DomainClaimed: a host served by a route, or claimed by
// another namespace, is refused.
func claimDomain(dm *api.DomainMapping, in DomainMappingInputs) condition {
	if route, ok := in.RouteHosts[dm.Name]; ok {
		return condition{corev1.ConditionFalse, "DomainAlreadyClaimed",
			fmt.Sprintf("The domain name is already in use by Route %s", route)}
	}
	owner, ok := in.Claims[dm.Name]
	switch {
	case ok && owner != dm.Namespace:
		return condition{corev1.ConditionFalse, "DomainAlreadyClaimed", msgDomainAlreadyClaimed}
	case !ok && in.RequireClaim:
		return condition{corev1.ConditionFalse, "DomainAlreadyClaimed",
			fmt.Sprintf("no ClusterDomainClaim found for domain %q (and autocreate-cluster-domain-claims property is not true)", dm.Name)}
	}
	return condition{status: corev1.ConditionTrue}
}

// resolveDomainMappingRef finds the route spec.ref leads to, with the checks
// and messages of Knative's reference resolution: the target must exist and
// have an address, without a path, in the mapping's namespace.
func resolveDomainMappingRef(dm *api.DomainMapping, in DomainMappingInputs) (*DomainMappingTarget, error) {
	ref := dm.Spec.Ref
	ns := ref.Namespace
	if ns == "" {
		ns = dm.Namespace
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil || (gv.Group != api.GroupKnative && gv.Group != api.GroupGantry) || gv.Version != "v1" ||
		(ref.Kind != api.KindService && ref.Kind != api.KindRoute) {
		return nil, fmt.Errorf("unsupported reference %s: want a Service or Route of %s", refString(ref, ns), api.APIVersionV1)
	}

	var address *api.Addressable
	routeName := ref.Name
	switch ref.Kind {
	case api.KindService:
		var svc *api.Service
		if in.Service != nil {
			svc = in.Service(ns, ref.Name)
		}
		if svc == nil {
			return nil, fmt.Errorf("failed to get object %s/%s: services.%s %q not found", ns, ref.Name, gv.Group, ref.Name)
		}
		// A Service's route has the Service's name.
		address, routeName = svc.Status.Address, svc.Name
	case api.KindRoute:
		var route *api.Route
		if in.Route != nil {
			route = in.Route(ns, ref.Name)
		}
		if route == nil {
			return nil, fmt.Errorf("failed to get object %s/%s: routes.%s %q not found", ns, ref.Name, gv.Group, ref.Name)
		}
		address, routeName = route.Status.Address, route.Name
	}
	if address == nil {
		return nil, fmt.Errorf("address not set for %s", refString(ref, ns))
	}
	if address.URL == "" {
		return nil, fmt.Errorf("URL missing in address of %s", refString(ref, ns))
	}
	u, err := url.Parse(address.URL)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("hostname missing in address of %s", refString(ref, ns))
	}
	if strings.TrimSuffix(u.Path, "/") != "" {
		return nil, fmt.Errorf("resolved URI %q contains a path", address.URL)
	}
	if ns != dm.Namespace {
		return nil, fmt.Errorf("resolved URI %q must be in same namespace as DomainMapping", address.URL)
	}
	return &DomainMappingTarget{Host: dm.Name, Namespace: ns, Route: routeName, RouteHost: u.Hostname()}, nil
}

func refString(ref api.KReference, ns string) string {
	return fmt.Sprintf("%s %s/%s (%s)", ref.Kind, ns, ref.Name, ref.APIVersion)
}

// hostURL is scheme://host[:port], leaving out a zero or default port.
func hostURL(scheme, host string, port int) string {
	if port == 0 || (scheme == "http" && port == 80) || (scheme == "https" && port == 443) {
		return scheme + "://" + host
	}
	return scheme + "://" + host + ":" + strconv.Itoa(port)
}

// DomainClaims returns who owns each DomainMapping host: the namespace of the
// oldest mapping of that host (ties go to the smallest namespace). A mapping
// keeps its host for as long as it exists, as Knative's auto-created
// ClusterDomainClaims make it; deleting it frees the host for the next one.
func DomainClaims(dms []*api.DomainMapping) map[string]string {
	sorted := slices.Clone(dms)
	sorted = slices.DeleteFunc(sorted, func(dm *api.DomainMapping) bool { return dm == nil || dm.DeletionTimestamp != nil })
	slices.SortStableFunc(sorted, func(a, b *api.DomainMapping) int {
		if c := a.CreationTimestamp.Time.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Namespace, b.Namespace)
	})
	claims := make(map[string]string, len(sorted))
	for _, dm := range sorted {
		if _, ok := claims[dm.Name]; !ok {
			claims[dm.Name] = dm.Namespace
		}
	}
	return claims
}

// ValidTLSSecret checks that s is a kubernetes.io/tls Secret whose tls.crt
// and tls.key (in data or stringData) form a valid certificate and key pair.
// A nil s is a Secret not found.
func ValidTLSSecret(s *api.Secret) error {
	if s == nil {
		return errors.New("secret not found")
	}
	if s.Type != string(corev1.SecretTypeTLS) {
		return fmt.Errorf("secret %s/%s has type %q, want %q", s.Namespace, s.Name, s.Type, corev1.SecretTypeTLS)
	}
	get := func(key string) []byte {
		if v, ok := s.StringData[key]; ok {
			return []byte(v)
		}
		return s.Data[key]
	}
	crt, key := get(corev1.TLSCertKey), get(corev1.TLSPrivateKeyKey)
	switch {
	case len(crt) == 0:
		return fmt.Errorf("secret %s/%s has no %q", s.Namespace, s.Name, corev1.TLSCertKey)
	case len(key) == 0:
		return fmt.Errorf("secret %s/%s has no %q", s.Namespace, s.Name, corev1.TLSPrivateKeyKey)
	}
	if _, err := tls.X509KeyPair(crt, key); err != nil {
		return fmt.Errorf("secret %s/%s: invalid TLS pair: %w", s.Namespace, s.Name, err)
	}
	return nil
}
