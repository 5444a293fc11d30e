package kubecluster

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/controller/kube"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A Service becomes Ready; its pod runs both containers, ready; requests
// through the gateway on 127.0.0.1 reach it; the autoscaler scrapes the
// queue-proxy in the pod; deleting the Service removes what it owned.
func TestServiceServesInPods(t *testing.T) {
	k := connect(t)
	ns := k.namespace(t)
	k.warmService(t, ns, "hello", `
          env: [{name: TARGET, value: cluster}]
`)
	s := k.ready(t, ns, "hello", 3*time.Minute)
	rev := s.Status.LatestReadyRevisionName
	if rev != "hello-00001" {
		t.Fatalf("latest ready revision %q, want hello-00001", rev)
	}

	pods := k.pods(t, ns, rev)
	if len(pods) != 1 {
		t.Fatalf("revision %s has %d pods, want 1", rev, len(pods))
	}
	var names []string
	for _, c := range pods[0].Status.ContainerStatuses {
		names = append(names, c.Name)
		if !c.Ready {
			t.Errorf("container %s of pod %s is not ready: %+v", c.Name, pods[0].Name, c.State)
		}
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "queue-proxy,user-container" {
		t.Errorf("pod containers %v, want queue-proxy and user-container", names)
	}

	host := hostOf(t, s)
	k.routable(t, host)
	for i := range 20 {
		code, body, err := k.get(host, "/")
		if err != nil || code != 200 || !strings.Contains(body, rev) {
			t.Fatalf("request %d through the gateway: %d %q %v", i, code, body, err)
		}
	}

	// The gateway pod adapts its Ps as gantry up does (internal/procs): one
	// while the load is light, whatever the node's cores.
	gwMetrics := "http://" + k.systemPodIP(t, "gantry-gateway") + ":9090/metrics"
	if !poll(20*time.Second, func() bool {
		v, ok := k.metric(gwMetrics, "go_sched_gomaxprocs_threads")
		return ok && v == 1
	}) {
		v, ok := k.metric(gwMetrics, "go_sched_gomaxprocs_threads")
		t.Errorf("the gateway pod's go_sched_gomaxprocs_threads is %v (found: %v) while idle, want 1", v, ok)
	}

	// The autoscaler reads the queue-proxy's stats from the pod: under a
	// steady concurrency of 4 its stable concurrency for the revision rises.
	ascaler := "http://" + k.systemPodIP(t, "gantry-autoscaler") + ":9090/metrics"
	errsBefore, _ := k.metric(ascaler, "gantry_autoscaler_scrape_errors_total")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				k.get(host, "/?sleep=100")
			}
		}()
	}
	seen := poll(30*time.Second, func() bool {
		v, ok := k.metric(ascaler, "autoscaler_stable_request_concurrency", `revision_name="`+rev+`"`, `namespace_name="`+ns+`"`)
		return ok && v > 0.5
	})
	close(stop)
	wg.Wait()
	if !seen {
		v, _ := k.metric(ascaler, "autoscaler_stable_request_concurrency", `revision_name="`+rev+`"`)
		t.Errorf("the autoscaler's stable concurrency for %s stayed at %v under a load of 4", rev, v)
	}
	if errs, _ := k.metric(ascaler, "gantry_autoscaler_scrape_errors_total"); errs > errsBefore {
		t.Errorf("scrape errors went from %v to %v", errsBefore, errs)
	}

	// Deleting the Service: Kubernetes' garbage collector removes everything
	// it owned, through the owner references.
	if err := k.c.Delete(context.Background(), &api.Service{ObjectMeta: s.ObjectMeta}); err != nil {
		t.Fatal(err)
	}
	lists := map[string]client.ObjectList{
		"configurations": &kube.ConfigurationList{}, "revisions": &kube.RevisionList{}, "routes": &kube.RouteList{},
		"deployments": &appsv1.DeploymentList{}, "services": &corev1.ServiceList{}, "pods": &corev1.PodList{},
	}
	var left string
	if !poll(2*time.Minute, func() bool {
		left = ""
		for what, l := range lists {
			if err := k.c.List(context.Background(), l, client.InNamespace(ns)); err != nil {
				left += what + ": " + err.Error() + "; "
				continue
			}
			if n := countItems(l); n > 0 {
				left += fmt.Sprintf("%d %s; ", n, what)
			}
		}
		return left == ""
	}) {
		t.Errorf("after deleting the Service, still there: %s", left)
	}
}

func countItems(l client.ObjectList) int {
	switch l := l.(type) {
	case *kube.ConfigurationList:
		return len(l.Items)
	case *kube.RevisionList:
		return len(l.Items)
	case *kube.RouteList:
		return len(l.Items)
	case *appsv1.DeploymentList:
		return len(l.Items)
	case *corev1.ServiceList:
		return len(l.Items)
	case *corev1.PodList:
		return len(l.Items)
	}
	return -1
}

// A 30/70 split between two revisions lands within ±5% over 400 requests.
func TestTrafficSplitInPods(t *testing.T) {
	k := connect(t)
	ns := k.namespace(t)
	k.service(t, ns, `
apiVersion: serving.gantry.dev/v1
kind: Service
metadata: {name: split}
spec:
  template:
    metadata:
      name: split-v1
      annotations: {autoscaling.knative.dev/min-scale: "1"}
    spec:
      containers: [{image: "{{image}}"}]
`)
	k.ready(t, ns, "split", 3*time.Minute)
	k.update(t, ns, "split", func(s *api.Service) {
		s.Spec.Template.Name = "split-v2"
		s.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "TARGET", Value: "v2"}}
		s.Spec.Traffic = []api.TrafficTarget{
			{RevisionName: "split-v1", Percent: ptr.To[int64](30)},
			{RevisionName: "split-v2", Percent: ptr.To[int64](70)},
		}
	})
	s := k.ready(t, ns, "split", 3*time.Minute)
	host := hostOf(t, s)
	// The gateway pod learns the new split from its own watch.
	if !poll(20*time.Second, func() bool {
		_, body, _ := k.get(host, "/")
		return strings.Contains(body, "split-v2")
	}) {
		t.Fatal("split-v2 never answered through the gateway")
	}
	const n = 400
	counts := map[string]int{}
	for i := range n {
		code, body, err := k.get(host, "/")
		if err != nil || code != 200 {
			t.Fatalf("request %d: %d %q %v", i, code, body, err)
		}
		switch {
		case strings.Contains(body, "split-v1"):
			counts["split-v1"]++
		case strings.Contains(body, "split-v2"):
			counts["split-v2"]++
		default:
			t.Fatalf("request %d: answered by neither revision: %q", i, body)
		}
	}
	for rev, want := range map[string]float64{"split-v1": 0.30, "split-v2": 0.70} {
		got := float64(counts[rev]) / n
		if math.Abs(got-want) > 0.05 {
			t.Errorf("%s got %.1f%% of %d requests, want %.0f%% ±5%%", rev, got*100, n, want*100)
		}
	}
	t.Logf("split over %d requests: %v", n, counts)
}

// With a short stable window the Deployment goes to 0 replicas; the next
// request waits in the activator and is answered, and 20 concurrent
// requests during the next scale from zero all succeed.
func TestScaleToZeroAndBackInPods(t *testing.T) {
	k := connect(t)
	ns, rev, host := k.quickToZero(t, "zero")

	first := coldStart(t, k, ns, rev, host)
	t.Logf("cold start from zero in a pod: %v", first)

	k.toZero(t, ns, rev)
	const conc = 20
	var wg sync.WaitGroup
	errs := make(chan string, conc)
	for i := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body, err := k.get(host, "/")
			if err != nil || code != 200 || !strings.Contains(body, rev) {
				errs <- fmt.Sprintf("request %d: %d %q %v", i, code, body, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if d := k.deployment(t, ns, rev); d.Status.ReadyReplicas < 1 {
		t.Errorf("after the burst the deployment has %d ready replicas", d.Status.ReadyReplicas)
	}
}

// quickToZero makes a ready Service that scales to zero quickly (a 6 s
// stable window, a 2 s grace period) and returns its namespace, revision
// and host.
func (k *cluster) quickToZero(t testing.TB, name string) (ns, rev, host string) {
	t.Helper()
	k.setAutoscalerConfig(t, map[string]string{"scale-to-zero-grace-period": "2s"})
	ns = k.namespace(t)
	k.service(t, ns, `
apiVersion: serving.gantry.dev/v1
kind: Service
metadata: {name: `+name+`}
spec:
  template:
    metadata:
      annotations: {autoscaling.knative.dev/window: "6s"}
    spec:
      containers: [{image: "{{image}}"}]
`)
	s := k.ready(t, ns, name, 3*time.Minute)
	rev, host = s.Status.LatestReadyRevisionName, hostOf(t, s)
	k.routable(t, host)
	return ns, rev, host
}

// toZero waits until the revision's Deployment is at 0 replicas and its
// pods are gone (a terminating pod drains first: the queue-proxy's quiet
// period), so that the next request is a real cold start.
func (k *cluster) toZero(t testing.TB, ns, rev string) {
	t.Helper()
	if !poll(3*time.Minute, func() bool {
		d := k.deployment(t, ns, rev)
		return d.Spec.Replicas != nil && *d.Spec.Replicas == 0 && len(k.pods(t, ns, rev)) == 0
	}) {
		d := k.deployment(t, ns, rev)
		t.Fatalf("revision %s did not scale to zero: spec.replicas %v, ready %d", rev, ptr.Deref(d.Spec.Replicas, -1), d.Status.ReadyReplicas)
	}
}

// coldStart scales the revision to zero, then times one request.
func coldStart(t testing.TB, k *cluster, ns, rev, host string) time.Duration {
	t.Helper()
	k.toZero(t, ns, rev)
	start := time.Now()
	code, body, err := k.get(host, "/")
	took := time.Since(start)
	if err != nil || code != 200 || !strings.Contains(body, rev) {
		t.Fatalf("request from zero: %d %q %v", code, body, err)
	}
	return took
}

// routable checks that the gateway serves host as soon as the service is
// Ready: the controller asks every gateway pod before it says Ready
// (Knative's ingress probing), so the first request is routed, not a 404.
func (k *cluster) routable(t testing.TB, host string) {
	t.Helper()
	start := time.Now()
	code, _, err := k.get(host, "/")
	if err != nil || code == 404 {
		t.Errorf("the first request to %s right after Ready: %d (%v), want it routed", host, code, err)
	}
	if !poll(20*time.Second, func() bool {
		code, _, _ = k.get(host, "/")
		return code != 404
	}) {
		t.Fatalf("the gateway answers %d for %s 20 s after the service became Ready", code, host)
	}
	t.Logf("the gateway served %s %v after Ready", host, time.Since(start).Round(time.Millisecond))
}

// BenchmarkColdStartsInPod measures N cold starts from zero in a pod (N from
// GANTRY_KUBE_COLDSTARTS, default 10), for docs/kubernetes.md; bench/kube.sh
// runs it.
func BenchmarkColdStartsInPod(b *testing.B) {
	n, _ := strconv.Atoi(os.Getenv("GANTRY_KUBE_COLDSTARTS"))
	if n <= 0 {
		n = 10
	}
	k := connect(b)
	ns, rev, host := k.quickToZero(b, "cold")
	var took []time.Duration
	for range b.N {
		for i := range n {
			d := coldStart(b, k, ns, rev, host)
			b.Logf("cold start %d: %v", i+1, d.Round(time.Millisecond))
			took = append(took, d)
		}
	}
	slices.Sort(took)
	q := func(p float64) time.Duration { return took[int(math.Ceil(p*float64(len(took))))-1] }
	b.ReportMetric(float64(q(0.50).Milliseconds()), "p50-ms")
	b.ReportMetric(float64(q(0.95).Milliseconds()), "p95-ms")
	fmt.Printf("kube cold start from zero in a pod: n=%d p50=%v p95=%v min=%v max=%v\n", len(took),
		q(0.50).Round(time.Millisecond), q(0.95).Round(time.Millisecond), took[0].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
}

// config-network's client limits reach the queue-proxy in the pod: past
// max-request-header-bytes it answers 431.
func TestQueueProxyLimitsInPods(t *testing.T) {
	k := connect(t)
	k.setConfig(t, "config-network", map[string]string{"max-request-header-bytes": "8192"})
	ns := k.namespace(t)
	// The controller reads config-network from its own watch.
	time.Sleep(2 * time.Second)
	k.warmService(t, ns, "limited", "")
	s := k.ready(t, ns, "limited", 3*time.Minute)
	pods := k.pods(t, ns, s.Status.LatestReadyRevisionName)
	if len(pods) != 1 || pods[0].Status.PodIP == "" {
		t.Fatalf("want one running pod, have %d", len(pods))
	}
	send := func(header int) int {
		req, err := http.NewRequest("GET", "http://"+net.JoinHostPort(pods[0].Status.PodIP, "8012")+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Padding", strings.Repeat("a", header))
		resp, err := k.http.Do(req)
		if err != nil {
			t.Fatalf("request with a %d-byte header: %v", header, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send(1000); code != 200 {
		t.Errorf("a 1,000-byte header: %d, want 200", code)
	}
	if code := send(12 << 10); code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a 12 KiB header past the 8 KiB limit: %d, want 431", code)
	}
}

// config-deployment's progress-deadline reaches the Deployment, and a
// revision whose pod never becomes ready is failed with Knative's reason
// once the Deployment controller gives up on it.
func TestProgressDeadlineInPods(t *testing.T) {
	k := connect(t)
	k.setConfig(t, "config-deployment", map[string]string{"progress-deadline": "15s"})
	ns := k.namespace(t)
	time.Sleep(2 * time.Second) // the controller reads config-deployment from its own watch
	k.service(t, ns, `
apiVersion: serving.gantry.dev/v1
kind: Service
metadata: {name: stuck}
spec:
  template:
    spec:
      containers:
        - image: "{{image}}"
          readinessProbe: {httpGet: {path: "/?status=503"}}
`)
	const rev = "stuck-00001"
	var reason, msg string
	if !poll(2*time.Minute, func() bool {
		var r api.Revision
		if err := k.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: rev}, &r); err != nil {
			return false
		}
		for _, c := range r.Status.Conditions {
			if c.Type == api.ConditionReady {
				reason, msg = c.Reason, c.Message
				return c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded"
			}
		}
		return false
	}) {
		k.describe(t, ns)
		t.Fatalf("%s Ready reason %q (%s), want ProgressDeadlineExceeded", rev, reason, msg)
	}
	if d := k.deployment(t, ns, rev); d.Spec.ProgressDeadlineSeconds == nil || *d.Spec.ProgressDeadlineSeconds != 15 {
		t.Errorf("progressDeadlineSeconds %v, want config-deployment's 15", d.Spec.ProgressDeadlineSeconds)
	}
}

// A DomainMapping in the cluster: Ready once the gateway pods serve its
// host, and the first request for that host right after is the service's.
func TestDomainMappingInPods(t *testing.T) {
	k := connect(t)
	ns := k.namespace(t)
	k.warmService(t, ns, "mapped", `
          env: [{name: TARGET, value: mapped}]
`)
	k.ready(t, ns, "mapped", 3*time.Minute)
	host := ns + ".example.com"
	dm := &api.DomainMapping{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: host},
		Spec: api.DomainMappingSpec{Ref: api.KReference{Kind: api.KindService, Name: "mapped", APIVersion: api.GroupGantry + "/v1"}}}
	if err := k.c.Create(context.Background(), dm); err != nil {
		t.Fatal(err)
	}
	if !poll(time.Minute, func() bool {
		if err := k.c.Get(context.Background(), client.ObjectKeyFromObject(dm), dm); err != nil {
			return false
		}
		return slices.ContainsFunc(dm.Status.Conditions, func(c api.Condition) bool {
			return c.Type == api.ConditionReady && c.Status == corev1.ConditionTrue
		})
	}) {
		t.Fatalf("domain mapping %s not Ready: %+v", host, dm.Status.Conditions)
	}
	if code, body, err := k.get(host, "/"); err != nil || code != 200 || !strings.Contains(body, "Hello mapped!") {
		t.Errorf("the first request for %s right after Ready: %d %q %v", host, code, body, err)
	}
}
