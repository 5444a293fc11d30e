package kube

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/api"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// The integration tests run against a real kube-apiserver and etcd
// (controller-runtime's envtest) from KUBEBUILDER_ASSETS, which
// hack/kube-env.sh builds from the Go module proxy. Without it they skip,
// unless GANTRY_REQUIRE_KUBE=1, when they fail. -short skips them too.
var (
	testCfg    *rest.Config
	testClient client.Client
	testEnv    *envtest.Environment
	envErr     error
	envStarted bool
)

func TestMain(m *testing.M) {
	code := func() int {
		assets := os.Getenv("KUBEBUILDER_ASSETS")
		if assets == "" || isShort() {
			return m.Run()
		}
		// A certificate folder of our own, so that restartAPIServer brings the
		// API server back with the same serving certificate (envtest makes a
		// new folder, and a new CA, for a folder it created itself).
		certDir, err := os.MkdirTemp("", "gantry-kube-apiserver-")
		if err != nil {
			envErr = err
			return m.Run()
		}
		defer os.RemoveAll(certDir)
		env := &envtest.Environment{
			BinaryAssetsDirectory: assets,
			ErrorIfCRDPathMissing: true,
			CRDInstallOptions:     envtest.CRDInstallOptions{Paths: crdPaths()},
			ControlPlane:          envtest.ControlPlane{APIServer: &envtest.APIServer{CertDir: certDir}},
		}
		testEnv = env
		testCfg, envErr = env.Start()
		if envErr == nil {
			envStarted = true
			defer env.Stop()
			testClient, envErr = client.New(testCfg, client.Options{Scheme: NewScheme()})
		}
		return m.Run()
	}()
	os.Exit(code)
}

func isShort() bool {
	for _, a := range os.Args {
		if a == "-test.short" || a == "-test.short=true" {
			return true
		}
	}
	return false
}

// restartAPIServer stops the kube-apiserver process, keeps it down for
// downFor, and starts it again on the same port, certificates and etcd (which
// keeps running), as an API server rolled or crashed under a controller.
func restartAPIServer(t *testing.T, downFor time.Duration) {
	t.Helper()
	as := testEnv.ControlPlane.GetAPIServer()
	start := time.Now()
	if err := as.Stop(); err != nil {
		t.Fatalf("stop kube-apiserver: %v", err)
	}
	t.Logf("kube-apiserver stopped in %v", time.Since(start).Round(time.Millisecond))
	time.Sleep(downFor)
	start = time.Now()
	if err := as.Start(); err != nil {
		t.Fatalf("restart kube-apiserver: %v", err)
	}
	t.Logf("kube-apiserver back in %v", time.Since(start).Round(time.Millisecond))
}

// crdPaths are Gantry's CRDs and the Gateway API's HTTPRoute CRD (from the
// module cache).
func crdPaths() []string {
	paths := []string{filepath.Join("..", "..", "deploy", "crds")}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	if err == nil {
		paths = append(paths, filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "standard", "gateway.networking.k8s.io_httproutes.yaml"))
	}
	return paths
}

// needKube skips (or fails, with GANTRY_REQUIRE_KUBE=1) a test without the
// API server.
func needKube(t *testing.T) {
	t.Helper()
	require := os.Getenv("GANTRY_REQUIRE_KUBE") == "1"
	switch {
	case envErr != nil:
		t.Fatalf("test API server: %v", envErr)
	case !envStarted && require:
		t.Fatal("GANTRY_REQUIRE_KUBE=1 but the API server did not start: set KUBEBUILDER_ASSETS (hack/kube-env.sh prints it) and do not pass -short")
	case !envStarted:
		t.Skip("no kube-apiserver: run hack/kube-env.sh test (or set KUBEBUILDER_ASSETS)")
	}
}

var nsSeq atomic.Int64

// testNamespaces creates a fresh app namespace and a system namespace.
func testNamespaces(t *testing.T) (ns, sys string) {
	t.Helper()
	n := nsSeq.Add(1)
	ns, sys = fmt.Sprintf("app-%d-%d", os.Getpid()%10000, n), fmt.Sprintf("sys-%d-%d", os.Getpid()%10000, n)
	for _, name := range []string{ns, sys} {
		if err := testClient.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
			t.Fatal(err)
		}
	}
	return ns, sys
}

// startController runs a controller until the test ends (or stop is called).
func startController(t *testing.T, o Options) (stop func()) {
	t.Helper()
	_, stop = startControllerC(t, o)
	return stop
}

// startControllerC is startController, also returning the Controller.
func startControllerC(t *testing.T, o Options) (_ *Controller, stop func()) {
	t.Helper()
	if o.Components == nil {
		o.Components = []string{ComponentController}
	}
	o.MetricsAddr, o.HealthAddr, o.GatewayAddr, o.AutoscalerAddr = "0", "0", "0", "0"
	o.LeaderElection = true
	o.SyncPeriod = 30 * time.Second
	c, err := New(testCfg, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Start(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("controller: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("controller did not stop")
		}
	}
	t.Cleanup(stop)
	return c, stop
}

// startGC runs a stand-in for kube-controller-manager's garbage collector,
// which envtest does not run: it deletes objects of ns whose controlling
// owner is gone, exactly as owner references tell it.
func startGC(t *testing.T, ns string) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for ctx.Err() == nil {
			collectOrphans(ctx, ns)
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
}

func collectOrphans(ctx context.Context, ns string) {
	lists := []client.ObjectList{&ConfigurationList{}, &RouteList{}, &RevisionList{}, &appsv1.DeploymentList{}, &corev1.ServiceList{}, &gwv1.HTTPRouteList{}}
	for _, l := range lists {
		if err := testClient.List(ctx, l, client.InNamespace(ns)); err != nil {
			continue
		}
		for _, o := range objectsOf(l) {
			ref := metav1.GetControllerOf(o)
			if ref == nil || !ownerGone(ctx, ns, ref) {
				continue
			}
			_ = testClient.Delete(ctx, o, client.PropagationPolicy(metav1.DeletePropagationBackground))
		}
	}
}

func objectsOf(l client.ObjectList) []client.Object {
	var out []client.Object
	switch l := l.(type) {
	case *ConfigurationList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case *RouteList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case *RevisionList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case *appsv1.DeploymentList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case *corev1.ServiceList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case *gwv1.HTTPRouteList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	}
	return out
}

// ownerGone reports whether ref's object no longer exists (by kind, name and UID).
func ownerGone(ctx context.Context, ns string, ref *metav1.OwnerReference) bool {
	var o client.Object
	switch {
	case ref.APIVersion == GroupVersion.String() && ref.Kind == api.KindService:
		o = &api.Service{}
	case ref.APIVersion == GroupVersion.String() && ref.Kind == api.KindConfiguration:
		o = &api.Configuration{}
	case ref.APIVersion == GroupVersion.String() && ref.Kind == api.KindRoute:
		o = &api.Route{}
	case ref.APIVersion == GroupVersion.String() && ref.Kind == api.KindRevision:
		o = &api.Revision{}
	default:
		return false // an owner the real GC would look for under another API: keep
	}
	err := testClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, o)
	if apierrors.IsNotFound(err) {
		return true
	}
	return err == nil && o.GetUID() != ref.UID
}

// eventually retries f until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = f(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
