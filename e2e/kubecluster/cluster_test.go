package kubecluster

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/controller/kube"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// cluster is the running cluster the tests use.
type cluster struct {
	dir, gateway, image string
	c                   client.Client
	http                *http.Client
}

var (
	once    sync.Once
	shared  *cluster
	initErr error
)

// connect returns the cluster in $GANTRY_KUBE_CLUSTER. Without one the test
// skips, unless GANTRY_REQUIRE_KUBE=1: then it fails with the reason
// test.sh recorded in $GANTRY_KUBE_CLUSTER_ERROR.
func connect(t testing.TB) *cluster {
	t.Helper()
	dir := os.Getenv("GANTRY_KUBE_CLUSTER")
	if dir == "" {
		why := os.Getenv("GANTRY_KUBE_CLUSTER_ERROR")
		if why == "" {
			why = "GANTRY_KUBE_CLUSTER is not set (hack/kube-cluster.sh up DIR starts one; test.sh does)"
		}
		if os.Getenv("GANTRY_REQUIRE_KUBE") == "1" {
			t.Fatalf("no cluster: %s", why)
		}
		t.Skipf("no cluster: %s", why)
	}
	once.Do(func() { shared, initErr = open(dir) })
	if initErr != nil {
		t.Fatalf("cluster in %s: %v", dir, initErr)
	}
	return shared
}

func open(dir string) (*cluster, error) {
	read := func(name string) (string, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		return strings.TrimSpace(string(b)), err
	}
	gw, err := read("gateway-addr")
	if err != nil {
		return nil, err
	}
	img, err := read("sample-app-image")
	if err != nil {
		return nil, err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig"))
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: kube.NewScheme()})
	if err != nil {
		return nil, err
	}
	return &cluster{dir: dir, gateway: gw, image: img, c: c,
		http: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}, nil
}

// namespace makes a namespace for one test and deletes it afterwards.
func (k *cluster) namespace(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("e2e-%s-%d", strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), time.Now().UnixNano()%100000)
	if len(name) > 63 {
		name = name[len(name)-63:]
	}
	name = strings.Trim(name, "-")
	if err := k.c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		k.c.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	})
	return name
}

// service creates a Service from YAML ({{image}} is the sample app's image).
func (k *cluster) service(t testing.TB, ns, doc string) *api.Service {
	t.Helper()
	var s api.Service
	if err := yaml.UnmarshalStrict([]byte(strings.ReplaceAll(doc, "{{image}}", k.image)), &s); err != nil {
		t.Fatal(err)
	}
	s.Namespace = ns
	if err := k.c.Create(context.Background(), &s); err != nil {
		t.Fatalf("create service %s: %v", s.Name, err)
	}
	return &s
}

// warmService creates a Service of the sample app held at one pod
// (min-scale 1); container is more YAML of its container, indented under
// "- image:", or "".
func (k *cluster) warmService(t testing.TB, ns, name, container string) *api.Service {
	t.Helper()
	return k.service(t, ns, `
apiVersion: serving.gantry.dev/v1
kind: Service
metadata: {name: `+name+`}
spec:
  template:
    metadata:
      annotations: {autoscaling.knative.dev/min-scale: "1"}
    spec:
      containers:
        - image: "{{image}}"
`+container)
}

// ready waits for the Service's Ready condition at its current generation.
func (k *cluster) ready(t testing.TB, ns, name string, timeout time.Duration) *api.Service {
	t.Helper()
	var s api.Service
	var last string
	ok := poll(timeout, func() bool {
		if err := k.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &s); err != nil {
			last = err.Error()
			return false
		}
		for _, c := range s.Status.Conditions {
			if c.Type == "Ready" {
				last = fmt.Sprintf("Ready=%s %s: %s (generation %d, observed %d)", c.Status, c.Reason, c.Message, s.Generation, s.Status.ObservedGeneration)
				return c.Status == corev1.ConditionTrue && s.Status.ObservedGeneration == s.Generation
			}
		}
		return false
	})
	if !ok {
		k.describe(t, ns)
		t.Fatalf("service %s/%s not ready after %v: %s", ns, name, timeout, last)
	}
	return &s
}

// describe logs what the namespace holds, for a failure's reader.
func (k *cluster) describe(t testing.TB, ns string) {
	var pods corev1.PodList
	if err := k.c.List(context.Background(), &pods, client.InNamespace(ns)); err == nil {
		for _, p := range pods.Items {
			t.Logf("pod %s: phase %s, conditions %+v, containers %+v", p.Name, p.Status.Phase, p.Status.Conditions, p.Status.ContainerStatuses)
		}
	}
	var revs kube.RevisionList
	if err := k.c.List(context.Background(), &revs, client.InNamespace(ns)); err == nil {
		for _, r := range revs.Items {
			t.Logf("revision %s: %+v", r.Name, r.Status.Conditions)
		}
	}
}

// get sends one request for host through the gateway on 127.0.0.1.
func (k *cluster) get(host, path string) (int, string, error) {
	req, err := http.NewRequest("GET", "http://"+k.gateway+path, nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	resp, err := k.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func hostOf(t testing.TB, s *api.Service) string {
	t.Helper()
	u, err := url.Parse(s.Status.URL)
	if err != nil || u.Host == "" {
		t.Fatalf("service %s has no URL: %q", s.Name, s.Status.URL)
	}
	return u.Host
}

func poll(timeout time.Duration, ok func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if ok() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// pods lists a revision's pods.
func (k *cluster) pods(t testing.TB, ns, revision string) []corev1.Pod {
	t.Helper()
	var l corev1.PodList
	if err := k.c.List(context.Background(), &l, client.InNamespace(ns), client.MatchingLabels{api.LabelRevision: revision}); err != nil {
		t.Fatal(err)
	}
	return l.Items
}

// podIP is the IP of the first running pod with these labels in the system
// namespace (the host reaches pod IPs over the CNI bridge).
func (k *cluster) systemPodIP(t testing.TB, app string) string {
	t.Helper()
	var l corev1.PodList
	if err := k.c.List(context.Background(), &l, client.InNamespace("gantry-system"), client.MatchingLabels{"app.kubernetes.io/name": app}); err != nil {
		t.Fatal(err)
	}
	for _, p := range l.Items {
		if p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" && p.DeletionTimestamp == nil {
			return p.Status.PodIP
		}
	}
	t.Fatalf("no running %s pod", app)
	return ""
}

// metric returns the value of the first sample of name whose labels
// contain every one of match, from a Prometheus text endpoint.
func (k *cluster) metric(url, name string, match ...string) (float64, bool) {
	resp, err := k.http.Get(url)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		if !slices.ContainsFunc(match, func(m string) bool { return !strings.Contains(line, m) }) {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			return v, err == nil
		}
	}
	return 0, false
}

// deployment returns the revision's Deployment.
func (k *cluster) deployment(t testing.TB, ns, revision string) *appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	if err := k.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: revision + "-deployment"}, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

// update changes a Service, retrying on conflicts.
func (k *cluster) update(t testing.TB, ns, name string, change func(*api.Service)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var s api.Service
		if err := k.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &s); err != nil {
			return err
		}
		change(&s)
		return k.c.Update(context.Background(), &s)
	})
	if err != nil {
		t.Fatalf("update service %s: %v", name, err)
	}
}

// setAutoscalerConfig merges keys into gantry-system/config-autoscaler and
// puts the old data back when the test ends.
func (k *cluster) setAutoscalerConfig(t testing.TB, data map[string]string) {
	t.Helper()
	k.setConfig(t, "config-autoscaler", data)
}

// setConfig merges keys into a ConfigMap of gantry-system and puts the old
// data back when the test ends.
func (k *cluster) setConfig(t testing.TB, name string, data map[string]string) {
	t.Helper()
	var old map[string]string
	set := func(change func(cm *corev1.ConfigMap)) error {
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var cm corev1.ConfigMap
			if err := k.c.Get(context.Background(), client.ObjectKey{Namespace: "gantry-system", Name: name}, &cm); err != nil {
				return err
			}
			change(&cm)
			return k.c.Update(context.Background(), &cm)
		})
	}
	if err := set(func(cm *corev1.ConfigMap) {
		old = cm.Data
		cm.Data = map[string]string{}
		for k, v := range old {
			cm.Data[k] = v
		}
		for k, v := range data {
			cm.Data[k] = v
		}
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := set(func(cm *corev1.ConfigMap) { cm.Data = old }); err != nil {
			t.Errorf("restore %s: %v", name, err)
		}
	})
}

func isGone(err error) bool { return apierrors.IsNotFound(err) }
