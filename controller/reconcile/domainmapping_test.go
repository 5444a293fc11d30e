package reconcile

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var dmNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newDM(name, ns string, ref api.KReference, opts ...func(*api.DomainMapping)) *api.DomainMapping {
	dm := &api.DomainMapping{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Generation: 3}}
	dm.Spec.Ref = ref
	for _, o := range opts {
		o(dm)
	}
	return dm
}

func ksvcRef(name string) api.KReference {
	return api.KReference{Kind: api.KindService, Name: name, APIVersion: api.APIVersionV1}
}

func routeRef(name string) api.KReference {
	return api.KReference{Kind: api.KindRoute, Name: name, APIVersion: api.APIVersionV1}
}

func withTLS(secret string) func(*api.DomainMapping) {
	return func(dm *api.DomainMapping) { dm.Spec.TLS = &api.SecretTLS{SecretName: secret} }
}

// dmWorld is the observed state: services and routes by "namespace/name".
type dmWorld struct {
	services map[string]*api.Service
	routes   map[string]*api.Route
}

func dmAddressed(url string) api.RouteStatusFields {
	return api.RouteStatusFields{URL: url, Address: &api.Addressable{URL: url}}
}

func newDMWorld() dmWorld {
	svc := func(ns, name, url string) *api.Service {
		s := &api.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
		s.Status.RouteStatusFields = dmAddressed(url)
		return s
	}
	route := func(ns, name, url string) *api.Route {
		r := &api.Route{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
		r.Status.RouteStatusFields = dmAddressed(url)
		return r
	}
	w := dmWorld{
		services: map[string]*api.Service{
			"default/hello":      svc("default", "hello", "http://hello.default.localhost:8080"),
			"default/pending":    {ObjectMeta: metav1.ObjectMeta{Name: "pending", Namespace: "default"}},
			"default/no-url":     {ObjectMeta: metav1.ObjectMeta{Name: "no-url", Namespace: "default"}, Status: api.ServiceStatus{RouteStatusFields: api.RouteStatusFields{Address: &api.Addressable{}}}},
			"default/with-path":  svc("default", "with-path", "http://with-path.default.localhost/sub/"),
			"default/bad-url":    svc("default", "bad-url", "::not a url"),
			"other/hello":        svc("other", "hello", "http://hello.other.localhost"),
			"default/slash-only": svc("default", "slash-only", "http://slash-only.default.localhost/"),
		},
		routes: map[string]*api.Route{
			"default/blue-green": route("default", "blue-green", "http://blue-green.default.example.com"),
		},
	}
	return w
}

func (w dmWorld) inputs() DomainMappingInputs {
	return DomainMappingInputs{
		Service: func(ns, name string) *api.Service { return w.services[ns+"/"+name] },
		Route:   func(ns, name string) *api.Route { return w.routes[ns+"/"+name] },
	}
}

func dmCond(t api.ConditionType, st corev1.ConditionStatus, reason, msg string) api.Condition {
	return api.Condition{Type: t, Status: st, Reason: reason, Message: msg, LastTransitionTime: metav1.NewTime(dmNow)}
}

var (
	claimedOK   = dmCond(api.ConditionDomainClaimed, corev1.ConditionTrue, "", "")
	resolvedOK  = dmCond(api.ConditionReferenceResolved, corev1.ConditionTrue, "", "")
	tlsOff      = dmCond(ConditionCertificateProvisioned, corev1.ConditionTrue, "TLSNotEnabled", "external-domain-tls is not enabled")
	tlsExternal = dmCond(ConditionCertificateProvisioned, corev1.ConditionTrue, "CertificateExternallyProvided", "TLS certificate was provided externally")
	ingressOK   = dmCond(api.ConditionIngressReady, corev1.ConditionTrue, "", "")
	ingressNot  = dmCond(api.ConditionIngressReady, corev1.ConditionUnknown, "IngressNotConfigured", "Ingress has not yet been reconciled.")
	readyOK     = dmCond(api.ConditionReady, corev1.ConditionTrue, "", "")
)

func dmNotReady(reason, msg string) api.Condition {
	return dmCond(api.ConditionReady, corev1.ConditionFalse, reason, msg)
}

func TestDomainMapping(t *testing.T) {
	okSecret := func(ns, name string) error {
		if ns == "default" && name == "good-cert" {
			return nil
		}
		return errors.New(`secret "` + ns + "/" + name + `" not found`)
	}
	tests := []struct {
		name       string
		dm         *api.DomainMapping
		in         func(*DomainMappingInputs)
		wantURL    string
		wantConds  []api.Condition
		wantTarget *DomainMappingTarget
	}{{
		name:      "Knative Service in the same namespace",
		dm:        newDM("example.org", "default", ksvcRef("hello")),
		wantURL:   "http://example.org",
		wantConds: []api.Condition{claimedOK, resolvedOK, tlsOff, ingressOK, readyOK},
		wantTarget: &DomainMappingTarget{Host: "example.org", Namespace: "default", Route: "hello",
			RouteHost: "hello.default.localhost"},
	}, {
		name:      "Route target, namespace spelled out",
		dm:        newDM("www.example.com", "default", api.KReference{Kind: api.KindRoute, Name: "blue-green", Namespace: "default", APIVersion: api.APIVersionV1}),
		wantURL:   "http://www.example.com",
		wantConds: []api.Condition{claimedOK, resolvedOK, tlsOff, ingressOK, readyOK},
		wantTarget: &DomainMappingTarget{Host: "www.example.com", Namespace: "default", Route: "blue-green",
			RouteHost: "blue-green.default.example.com"},
	}, {
		name:      "Gantry's own group",
		dm:        newDM("example.org", "default", api.KReference{Kind: api.KindService, Name: "hello", APIVersion: api.GroupGantry + "/v1"}),
		wantURL:   "http://example.org",
		wantConds: []api.Condition{claimedOK, resolvedOK, tlsOff, ingressOK, readyOK},
		wantTarget: &DomainMappingTarget{Host: "example.org", Namespace: "default", Route: "hello",
			RouteHost: "hello.default.localhost"},
	}, {
		name:       "address ending in a slash has no path",
		dm:         newDM("example.org", "default", ksvcRef("slash-only")),
		wantURL:    "http://example.org",
		wantConds:  []api.Condition{claimedOK, resolvedOK, tlsOff, ingressOK, readyOK},
		wantTarget: &DomainMappingTarget{Host: "example.org", Namespace: "default", Route: "slash-only", RouteHost: "slash-only.default.localhost"},
	}, {
		name:    "host claimed by another namespace is refused",
		dm:      newDM("example.org", "default", ksvcRef("hello")),
		in:      func(in *DomainMappingInputs) { in.Claims = map[string]string{"example.org": "other"} },
		wantURL: "http://example.org",
		wantConds: []api.Condition{
			dmCond(api.ConditionDomainClaimed, corev1.ConditionFalse, "DomainAlreadyClaimed", "The domain name is already in use by another DomainMapping"),
			resolvedOK, tlsOff, ingressNot,
			dmNotReady("DomainAlreadyClaimed", "The domain name is already in use by another DomainMapping"),
		},
	}, {
		name: "host claimed by the mapping's own namespace",
		dm:   newDM("example.org", "default", ksvcRef("hello")),
		in: func(in *DomainMappingInputs) {
			in.Claims = map[string]string{"example.org": "default"}
			in.RequireClaim = true
		},
		wantURL:    "http://example.org",
		wantConds:  []api.Condition{claimedOK, resolvedOK, tlsOff, ingressOK, readyOK},
		wantTarget: &DomainMappingTarget{Host: "example.org", Namespace: "default", Route: "hello", RouteHost: "hello.default.localhost"},
	}, {
		name: "claim required and missing",
		dm:   newDM("example.org", "default", ksvcRef("hello")),
		in: func(in *DomainMappingInputs) {
			in.RequireClaim = true
			in.Claims = map[string]string{"other.org": "default"}
		},
		wantURL: "http://example.org",
		wantConds: []api.Condition{
			dmCond(api.ConditionDomainClaimed, corev1.ConditionFalse, "DomainAlreadyClaimed",
				`no ClusterDomainClaim found for domain "example.org" (and autocreate-cluster-domain-claims property is not true)`),
			resolvedOK, tlsOff, ingressNot,
			dmNotReady("DomainAlreadyClaimed", `no ClusterDomainClaim found for domain "example.org" (and autocreate-cluster-domain-claims property is not true)`),
		},
	}, {
		name: "host already served by a route",
		dm:   newDM("hello.other.localhost", "default", ksvcRef("hello")),
		in: func(in *DomainMappingInputs) {
			in.RouteHosts = map[string]string{"hello.other.localhost": "other/hello"}
		},
		wantURL: "http://hello.other.localhost",
		wantConds: []api.Condition{
			dmCond(api.ConditionDomainClaimed, corev1.ConditionFalse, "DomainAlreadyClaimed", "The domain name is already in use by Route other/hello"),
			resolvedOK, tlsOff, ingressNot,
			dmNotReady("DomainAlreadyClaimed", "The domain name is already in use by Route other/hello"),
		},
	}, {
		name:    "Service not found",
		dm:      newDM("example.org", "default", ksvcRef("missing")),
		wantURL: "http://example.org",
		wantConds: []api.Condition{claimedOK,
			dmCond(api.ConditionReferenceResolved, corev1.ConditionFalse, "ResolveFailed", `failed to get object default/missing: services.serving.knative.dev "missing" not found`),
			tlsOff, ingressNot,
			dmNotReady("ResolveFailed", `failed to get object default/missing: services.serving.knative.dev "missing" not found`),
		},
	}, {
		name:    "Route not found",
		dm:      newDM("example.org", "default", routeRef("hello")),
		wantURL: "http://example.org",
		wantConds: []api.Condition{claimedOK,
			dmCond(api.ConditionReferenceResolved, corev1.ConditionFalse, "ResolveFailed", `failed to get object default/hello: routes.serving.knative.dev "hello" not found`),
			tlsOff, ingressNot,
			dmNotReady("ResolveFailed", `failed to get object default/hello: routes.serving.knative.dev "hello" not found`),
		},
	}, {
		name:    "no lookup funcs: nothing found",
		dm:      newDM("example.org", "default", ksvcRef("hello")),
		in:      func(in *DomainMappingInputs) { in.Service, in.Route = nil, nil },
		wantURL: "http://example.org",
		wantConds: []api.Condition{claimedOK,
			dmCond(api.ConditionReferenceResolved, corev1.ConditionFalse, "ResolveFailed", `failed to get object default/hello: services.serving.knative.dev "hello" not found`),
			tlsOff, ingressNot,
			dmNotReady("ResolveFailed", `failed to get object default/hello: services.serving.knative.dev "hello" not found`),
		},
	}, {
		name:    "target without an address yet",
		dm:      newDM("example.org", "default", ksvcRef("pending")),
		wantURL: "http://example.org",
		wantConds: []api.Condition{claimedOK,
			dmCond(api.ConditionReferenceResolved, corev1.ConditionFalse, "ResolveFailed", "address not set for Service default/pending (serving.knative.dev/v1)"),
			tlsOff, ingressNot,
			dmNotReady("ResolveFailed", "address not set for Service default/pending (serving.knative.dev/v1)"),
		},
	}, {
		name:    "address without a URL",
		dm:      newDM("example.org", "default", ksvcRef("no-url")),
		wantURL: "http://example.org",
		wantConds: []api.Condition{claimedOK,
			dmCond(api.ConditionReferenceResolved, corev1.ConditionFalse, "ResolveFailed", "URL missing in address of Service default/no-url (serving.knative.dev/v1)"),
			tlsOff, ingressNot,
			dmNotReady("ResolveFailed", "URL missing in address of Service default/no-url (serving.knative.dev/v1)"),
		},
	}, {
		name:    "address without a host",
		dm:      newDM("example.org", "default", ksvcRef("bad-url")),
		wantURL: "http://example.org",
		wantConds: []api.Condition{claimedOK,
			dmCond(api.ConditionReferenceResolved, corev1.ConditionFalse, "ResolveFailed", "hostname missing in address of Service default/bad-url (serving.knative.dev/v1)"),
			tlsOff, ingressNot,
			dmNotReady("ResolveFailed", "hostname missing in address of Service default/bad-url (serving.knative.dev/v1)"),
		},
	}, {
		name:    "address with a path",
		dm:      newDM("example.org", "default", ksvcRef("with-path")),
		wantURL: "http://example.org",
		wantConds: []api.Condition{claimedOK,
			dmCond(api.ConditionReferenceResolved, corev1.ConditionFalse, "ResolveFailed", `resolved URI "http://with-path.default.localhost/sub/" contains a path`),
			tlsOff, ingressNot,
			dmNotReady("ResolveFailed", `resolved URI "http://with-path.default.localhost/sub/" contains a path`),
		},
	}, {
		name:    "target in another namespace",
		dm:      newDM("example.org", "default", api.KReference{Kind: api.KindService, Name: "hello", Namespace: "other", APIVersion: api.APIVersionV1}),
		wantURL: "http://example.org",
		wantConds: []api.Condition{claimedOK,
			dmCond(api.ConditionReferenceResolved, corev1.ConditionFalse, "ResolveFailed", `resolved URI "http://hello.other.localhost" must be in same namespace as DomainMapping`),
			tlsOff, ingressNot,
			dmNotReady("ResolveFailed", `resolved URI "http://hello.other.localhost" must be in same namespace as DomainMapping`),
		},
	}, {
		name:    "Kubernetes Service is not a supported target",
		dm:      newDM("example.org", "default", api.KReference{Kind: "Service", Name: "hello", APIVersion: "v1"}),
		wantURL: "http://example.org",
		wantConds: []api.Condition{claimedOK,
			dmCond(api.ConditionReferenceResolved, corev1.ConditionFalse, "ResolveFailed", "unsupported reference Service default/hello (v1): want a Service or Route of serving.knative.dev/v1"),
			tlsOff, ingressNot,
			dmNotReady("ResolveFailed", "unsupported reference Service default/hello (v1): want a Service or Route of serving.knative.dev/v1"),
		},
	}, {
		name:    "Configuration is not a supported target",
		dm:      newDM("example.org", "default", api.KReference{Kind: api.KindConfiguration, Name: "hello", APIVersion: api.APIVersionV1}),
		wantURL: "http://example.org",
		wantConds: []api.Condition{claimedOK,
			dmCond(api.ConditionReferenceResolved, corev1.ConditionFalse, "ResolveFailed", "unsupported reference Configuration default/hello (serving.knative.dev/v1): want a Service or Route of serving.knative.dev/v1"),
			tlsOff, ingressNot,
			dmNotReady("ResolveFailed", "unsupported reference Configuration default/hello (serving.knative.dev/v1): want a Service or Route of serving.knative.dev/v1"),
		},
	}, {
		name:    "claim and reference both fail: Ready reports the claim",
		dm:      newDM("example.org", "default", ksvcRef("missing")),
		in:      func(in *DomainMappingInputs) { in.Claims = map[string]string{"example.org": "other"} },
		wantURL: "http://example.org",
		wantConds: []api.Condition{
			dmCond(api.ConditionDomainClaimed, corev1.ConditionFalse, "DomainAlreadyClaimed", "The domain name is already in use by another DomainMapping"),
			dmCond(api.ConditionReferenceResolved, corev1.ConditionFalse, "ResolveFailed", `failed to get object default/missing: services.serving.knative.dev "missing" not found`),
			tlsOff, ingressNot,
			dmNotReady("DomainAlreadyClaimed", "The domain name is already in use by another DomainMapping"),
		},
	}, {
		name:       "TLS with a valid secret is https",
		dm:         newDM("secure.example.org", "default", ksvcRef("hello"), withTLS("good-cert")),
		in:         func(in *DomainMappingInputs) { in.TLSSecret = okSecret },
		wantURL:    "https://secure.example.org",
		wantConds:  []api.Condition{claimedOK, resolvedOK, tlsExternal, ingressOK, readyOK},
		wantTarget: &DomainMappingTarget{Host: "secure.example.org", Namespace: "default", Route: "hello", RouteHost: "hello.default.localhost", TLSSecret: "good-cert"},
	}, {
		name:    "TLS with a missing or invalid secret",
		dm:      newDM("secure.example.org", "default", ksvcRef("hello"), withTLS("nope")),
		in:      func(in *DomainMappingInputs) { in.TLSSecret = okSecret },
		wantURL: "https://secure.example.org",
		wantConds: []api.Condition{claimedOK, resolvedOK,
			dmCond(ConditionCertificateProvisioned, corev1.ConditionFalse, "CertificateProvisionFailed", `TLS secret "nope" cannot be used: secret "default/nope" not found`),
			ingressNot,
			dmNotReady("CertificateProvisionFailed", `TLS secret "nope" cannot be used: secret "default/nope" not found`),
		},
	}, {
		name:       "TLS without a secret check",
		dm:         newDM("secure.example.org", "default", ksvcRef("hello"), withTLS("unchecked")),
		wantURL:    "https://secure.example.org",
		wantConds:  []api.Condition{claimedOK, resolvedOK, tlsExternal, ingressOK, readyOK},
		wantTarget: &DomainMappingTarget{Host: "secure.example.org", Namespace: "default", Route: "hello", RouteHost: "hello.default.localhost", TLSSecret: "unchecked"},
	}, {
		name:       "gateway ports in the URL",
		dm:         newDM("example.org", "default", ksvcRef("hello")),
		in:         func(in *DomainMappingInputs) { in.Port, in.TLSPort = 8080, 8443 },
		wantURL:    "http://example.org:8080",
		wantConds:  []api.Condition{claimedOK, resolvedOK, tlsOff, ingressOK, readyOK},
		wantTarget: &DomainMappingTarget{Host: "example.org", Namespace: "default", Route: "hello", RouteHost: "hello.default.localhost"},
	}, {
		name:       "TLS port in the URL",
		dm:         newDM("example.org", "default", ksvcRef("hello"), withTLS("c")),
		in:         func(in *DomainMappingInputs) { in.Port, in.TLSPort = 8080, 8443 },
		wantURL:    "https://example.org:8443",
		wantConds:  []api.Condition{claimedOK, resolvedOK, tlsExternal, ingressOK, readyOK},
		wantTarget: &DomainMappingTarget{Host: "example.org", Namespace: "default", Route: "hello", RouteHost: "hello.default.localhost", TLSSecret: "c"},
	}, {
		name:       "default ports are left out",
		dm:         newDM("example.org", "default", ksvcRef("hello")),
		in:         func(in *DomainMappingInputs) { in.Port, in.TLSPort = 80, 443 },
		wantURL:    "http://example.org",
		wantConds:  []api.Condition{claimedOK, resolvedOK, tlsOff, ingressOK, readyOK},
		wantTarget: &DomainMappingTarget{Host: "example.org", Namespace: "default", Route: "hello", RouteHost: "hello.default.localhost"},
	}, {
		name:       "default-external-scheme https",
		dm:         newDM("example.org", "default", ksvcRef("hello")),
		in:         func(in *DomainMappingInputs) { in.Scheme = "https" },
		wantURL:    "https://example.org",
		wantConds:  []api.Condition{claimedOK, resolvedOK, tlsOff, ingressOK, readyOK},
		wantTarget: &DomainMappingTarget{Host: "example.org", Namespace: "default", Route: "hello", RouteHost: "hello.default.localhost"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newDMWorld().inputs()
			if tt.in != nil {
				tt.in(&in)
			}
			got := DomainMapping(tt.dm, in, dmNow)
			want := api.DomainMappingStatus{
				Status: api.Status{ObservedGeneration: 3, Conditions: tt.wantConds},
				URL:    tt.wantURL, Address: &api.Addressable{URL: tt.wantURL},
			}
			if diff := cmp.Diff(want, got.Status); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantTarget, got.Target); diff != "" {
				t.Errorf("target (-want +got):\n%s", diff)
			}
			if tt.dm.Status.Conditions != nil {
				t.Errorf("DomainMapping modified its input's status")
			}
		})
	}
}

// TestDomainMappingTransitions checks that a condition keeps its transition
// time while its status holds, and takes a new one when it flips.
func TestDomainMappingTransitions(t *testing.T) {
	in := newDMWorld().inputs()
	dm := newDM("example.org", "default", ksvcRef("hello"))
	dm.Status = DomainMapping(dm, in, dmNow).Status

	later := dmNow.Add(time.Minute)
	in.Claims = map[string]string{"example.org": "other"}
	res := DomainMapping(dm, in, later)
	if res.Target != nil {
		t.Errorf("target of a refused host = %+v, want nil", res.Target)
	}
	for typ, wantTime := range map[api.ConditionType]time.Time{
		api.ConditionDomainClaimed:      later,
		api.ConditionReferenceResolved:  dmNow,
		ConditionCertificateProvisioned: dmNow,
		api.ConditionIngressReady:       later,
		api.ConditionReady:              later,
	} {
		c := GetCondition(res.Status.Conditions, typ)
		if c == nil {
			t.Fatalf("no %s condition", typ)
		}
		if !c.LastTransitionTime.Time.Equal(wantTime) {
			t.Errorf("%s lastTransitionTime = %v, want %v", typ, c.LastTransitionTime.Time, wantTime)
		}
	}
	if len(res.Status.Conditions) != 5 {
		t.Errorf("conditions = %d, want 5 (no duplicates)", len(res.Status.Conditions))
	}
}

func TestDomainClaims(t *testing.T) {
	at := func(name, ns string, ago time.Duration, opts ...func(*api.DomainMapping)) *api.DomainMapping {
		dm := newDM(name, ns, ksvcRef("hello"), opts...)
		dm.CreationTimestamp = metav1.NewTime(dmNow.Add(-ago))
		return dm
	}
	deleting := func(dm *api.DomainMapping) { ts := metav1.NewTime(dmNow); dm.DeletionTimestamp = &ts }
	got := DomainClaims([]*api.DomainMapping{
		at("a.example.org", "late", time.Minute),
		at("a.example.org", "early", time.Hour),
		at("b.example.org", "zeta", time.Hour),
		at("b.example.org", "alpha", time.Hour),
		at("c.example.org", "gone", 2*time.Hour, deleting),
		at("c.example.org", "next", time.Hour),
		nil,
		at("d.example.org", "only", 0),
	})
	want := map[string]string{
		"a.example.org": "early", // oldest wins
		"b.example.org": "alpha", // same age: smallest namespace
		"c.example.org": "next",  // a mapping being deleted frees its host
		"d.example.org": "only",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DomainClaims (-want +got):\n%s", diff)
	}
}

// selfSigned returns a PEM certificate and key for host, and another key.
func dmSelfSigned(t *testing.T, host string) (crt, key, otherKey []byte) {
	t.Helper()
	newKey := func() (*ecdsa.PrivateKey, []byte) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return k, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	}
	k, key := newKey()
	_, otherKey = newKey()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: dmNow.Add(-time.Hour), NotAfter: dmNow.Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), key, otherKey
}

func TestValidTLSSecret(t *testing.T) {
	crt, key, otherKey := dmSelfSigned(t, "secure.example.org")
	secret := func(typ string, data map[string][]byte, stringData map[string]string) *api.Secret {
		return &api.Secret{ObjectMeta: metav1.ObjectMeta{Name: "cert", Namespace: "default"}, Type: typ, Data: data, StringData: stringData}
	}
	tests := []struct {
		name    string
		s       *api.Secret
		wantErr string
	}{
		{name: "valid pair in data", s: secret("kubernetes.io/tls", map[string][]byte{"tls.crt": crt, "tls.key": key}, nil)},
		{name: "valid pair in stringData", s: secret("kubernetes.io/tls", nil, map[string]string{"tls.crt": string(crt), "tls.key": string(key)})},
		{name: "stringData wins over data", s: secret("kubernetes.io/tls", map[string][]byte{"tls.crt": []byte("junk"), "tls.key": key}, map[string]string{"tls.crt": string(crt)})},
		{name: "not found", s: nil, wantErr: "secret not found"},
		{name: "wrong type", s: secret("Opaque", map[string][]byte{"tls.crt": crt, "tls.key": key}, nil),
			wantErr: `secret default/cert has type "Opaque", want "kubernetes.io/tls"`},
		{name: "no certificate", s: secret("kubernetes.io/tls", map[string][]byte{"tls.key": key}, nil),
			wantErr: `secret default/cert has no "tls.crt"`},
		{name: "no key", s: secret("kubernetes.io/tls", map[string][]byte{"tls.crt": crt}, nil),
			wantErr: `secret default/cert has no "tls.key"`},
		{name: "key of another certificate", s: secret("kubernetes.io/tls", map[string][]byte{"tls.crt": crt, "tls.key": otherKey}, nil),
			wantErr: "secret default/cert: invalid TLS pair: tls: private key does not match public key"},
		{name: "not PEM", s: secret("kubernetes.io/tls", map[string][]byte{"tls.crt": []byte("junk"), "tls.key": key}, nil),
			wantErr: "secret default/cert: invalid TLS pair: tls: failed to find any PEM data in certificate input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidTLSSecret(tt.s)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("ValidTLSSecret: %v", err)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
				t.Errorf("ValidTLSSecret error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestDomainMappingKnativeDocs reconciles the DomainMapping of Knative's
// documentation (v1alpha1) against the Service it names.
func TestDomainMappingKnativeDocs(t *testing.T) {
	dir := os.Getenv("GANTRY_COMPAT_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "compat", "knative-docs")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*domainmapping*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no DomainMapping manifests in %s (set GANTRY_COMPAT_DIR): %v", dir, err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			objs, err := api.Load(fh, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range objs {
				dm, ok := o.(*api.DomainMapping)
				if !ok {
					continue
				}
				w := newDMWorld()
				svc := &api.Service{ObjectMeta: metav1.ObjectMeta{Name: dm.Spec.Ref.Name, Namespace: dm.Namespace}}
				svc.Status.RouteStatusFields = dmAddressed("http://" + dm.Spec.Ref.Name + "." + dm.Namespace + ".localhost:8080")
				w.services[dm.Namespace+"/"+dm.Spec.Ref.Name] = svc
				res := DomainMapping(dm, w.inputs(), dmNow)
				if !IsTrue(res.Status.Conditions, api.ConditionReady) {
					t.Errorf("not ready: %+v", res.Status.Conditions)
				}
				want := &DomainMappingTarget{Host: dm.Name, Namespace: dm.Namespace, Route: dm.Spec.Ref.Name,
					RouteHost: dm.Spec.Ref.Name + "." + dm.Namespace + ".localhost"}
				if diff := cmp.Diff(want, res.Target); diff != "" {
					t.Errorf("target (-want +got):\n%s", diff)
				}
				if res.Status.URL != "http://"+dm.Name {
					t.Errorf("url = %q, want http://%s", res.Status.URL, dm.Name)
				}
			}
		})
	}
}
