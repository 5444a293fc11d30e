package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"
)

// selfSigned returns a PEM certificate and key for host.
func selfSigned(t *testing.T, host string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

// TestDomainMapping maps custom hosts to a Service, over HTTP and, with a
// kubernetes.io/tls Secret, over HTTPS; a host another namespace claimed is refused.
func TestDomainMapping(t *testing.T) {
	s := startStack(t, "")
	s.mustGantry(helloYAML("Mapped"), "apply", "-f", "-")
	s.waitServing("hello.default.localhost", "Hello Mapped!")

	certPEM, keyPEM := selfSigned(t, "secure.example.test")
	s.mustGantry(fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata:
  name: secure-cert
type: kubernetes.io/tls
data:
  tls.crt: %s
  tls.key: %s
---
apiVersion: serving.knative.dev/v1beta1
kind: DomainMapping
metadata:
  name: secure.example.test
spec:
  ref:
    name: hello
    kind: Service
    apiVersion: serving.knative.dev/v1
  tls:
    secretName: secure-cert
---
apiVersion: serving.knative.dev/v1alpha1
kind: DomainMapping
metadata:
  name: plain.example.test
spec:
  ref:
    name: hello
    kind: Service
    apiVersion: serving.knative.dev/v1
`, base64.StdEncoding.EncodeToString(certPEM), base64.StdEncoding.EncodeToString(keyPEM)), "apply", "-f", "-")

	// Plain HTTP on the mapped host.
	s.waitServing("plain.example.test", "Hello Mapped!")

	// HTTPS with the stored certificate, verified against it.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "secure.example.test"}}}
	var body string
	waitFor(t, 30*time.Second, "https://secure.example.test to answer", func() bool {
		req, _ := http.NewRequest(http.MethodGet, "https://"+s.tls+"/", nil)
		req.Host = "secure.example.test"
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		return resp.StatusCode == 200
	})
	if !strings.Contains(body, "Hello Mapped!") {
		t.Errorf("https body %q", body)
	}
	var dm struct {
		Status struct {
			URL        string `json:"url"`
			Conditions []struct{ Type, Status, Reason, Message string }
		} `json:"status"`
	}
	if err := s.getJSON("/api/v1/domainmappings/default/secure.example.test", &dm); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dm.Status.URL, "https://secure.example.test") {
		t.Errorf("status.url = %q, want https://secure.example.test...", dm.Status.URL)
	}

	// Another namespace cannot take a claimed host.
	s.mustGantry(strings.Replace(helloYAML("Other"), "namespace: default", "namespace: other", 1)+`---
apiVersion: serving.knative.dev/v1beta1
kind: DomainMapping
metadata:
  name: plain.example.test
  namespace: other
spec:
  ref:
    name: hello
    kind: Service
    apiVersion: serving.knative.dev/v1
`, "apply", "-f", "-")
	waitFor(t, 20*time.Second, "the second claim to be refused", func() bool {
		if err := s.getJSON("/api/v1/domainmappings/other/plain.example.test", &dm); err != nil {
			return false
		}
		for _, c := range dm.Status.Conditions {
			if c.Type == "DomainClaimed" && c.Status == "False" {
				return true
			}
		}
		return false
	})
	// The host still goes to the first namespace's service.
	if code, b, _ := s.request("plain.example.test", "/"); code != 200 || !strings.Contains(b, "Hello Mapped!") {
		t.Errorf("plain.example.test answered %d %q after the refused claim", code, b)
	}
}
