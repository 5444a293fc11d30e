package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s
}

func newStore(t *testing.T) *Store {
	t.Helper()
	s := openStore(t, t.TempDir())
	t.Cleanup(func() { s.Close() })
	return s
}

func service(ns, name, image string) *api.Service {
	s := &api.Service{}
	s.SetGroupVersionKind(api.GroupVersionKind(api.KindService))
	s.Namespace, s.Name = ns, name
	s.Spec.Template.Spec.Containers = []corev1.Container{{Image: image}}
	return s
}

func configMap(ns, name string, data map[string]string) *api.ConfigMap {
	c := &api.ConfigMap{Data: data}
	c.SetGroupVersionKind(api.GroupVersionKind(api.KindConfigMap))
	c.Namespace, c.Name = ns, name
	return c
}

func mustPut(t *testing.T, s *Store, objs ...api.Object) []Result {
	t.Helper()
	res, err := s.Put(objs...)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	return res
}

func getService(t *testing.T, s *Store, ns, name string) *api.Service {
	t.Helper()
	o, err := s.Get(api.KindService, ns, name)
	if err != nil {
		t.Fatalf("Get %s/%s: %v", ns, name, err)
	}
	return o.(*api.Service)
}

func TestPutCreateSetsMetadata(t *testing.T) {
	s := newStore(t)
	fixed := time.Date(2024, 5, 6, 7, 8, 9, 500_000_000, time.UTC)
	s.now = func() time.Time { return fixed }

	svc := service("default", "hello", "img:1")
	if got := mustPut(t, s, svc); !cmp.Equal(got, []Result{Created}) {
		t.Fatalf("results = %v, want [created]", got)
	}
	// The caller's object is updated with the stored metadata.
	if svc.ResourceVersion == "" || svc.UID == "" || svc.Generation != 1 {
		t.Errorf("caller object metadata not set: rv=%q uid=%q gen=%d", svc.ResourceVersion, svc.UID, svc.Generation)
	}
	got := getService(t, s, "default", "hello")
	if got.Generation != 1 {
		t.Errorf("generation = %d, want 1", got.Generation)
	}
	if want := metav1.NewTime(fixed.Truncate(time.Second)); !got.CreationTimestamp.Equal(&want) {
		t.Errorf("creationTimestamp = %v, want %v", got.CreationTimestamp, want)
	}
	if got.UID != svc.UID || got.ResourceVersion != svc.ResourceVersion {
		t.Errorf("stored uid/rv = %q/%q, caller has %q/%q", got.UID, got.ResourceVersion, svc.UID, svc.ResourceVersion)
	}
	if diff := cmp.Diff(svc.Spec, got.Spec); diff != "" {
		t.Errorf("stored spec differs (-put +got):\n%s", diff)
	}
	if got.Kind != api.KindService || got.APIVersion != api.APIVersionV1 {
		t.Errorf("TypeMeta = %v, want Service serving.knative.dev/v1", got.TypeMeta)
	}
}

func TestPutKeepsGivenUIDAndCreationTimestamp(t *testing.T) {
	s := newStore(t)
	svc := service("default", "hello", "img:1")
	ts := metav1.NewTime(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	svc.UID, svc.CreationTimestamp = "my-uid", ts
	mustPut(t, s, svc)
	got := getService(t, s, "default", "hello")
	if got.UID != "my-uid" || !got.CreationTimestamp.Equal(&ts) {
		t.Errorf("uid/creation = %q/%v, want my-uid/%v", got.UID, got.CreationTimestamp, ts)
	}
}

func TestPutUIDsAreUnique(t *testing.T) {
	s := newStore(t)
	a, b := service("default", "a", "i"), service("default", "b", "i")
	mustPut(t, s, a, b)
	if a.UID == b.UID {
		t.Errorf("two objects got the same UID %q", a.UID)
	}
}

func TestPutResults(t *testing.T) {
	tests := []struct {
		name       string
		change     func(*api.Service)
		wantResult Result
		wantGen    int64
	}{
		{"identical", func(*api.Service) {}, Unchanged, 1},
		{"spec change bumps generation", func(s *api.Service) { s.Spec.Template.Spec.Containers[0].Image = "img:2" }, Updated, 2},
		{"label change keeps generation", func(s *api.Service) { s.Labels = map[string]string{"team": "a"} }, Updated, 1},
		{"annotation change keeps generation", func(s *api.Service) { s.Annotations = map[string]string{"a": "b"} }, Updated, 1},
		{"owner reference change keeps generation", func(s *api.Service) {
			s.OwnerReferences = []metav1.OwnerReference{{Kind: "X", Name: "x", UID: "u"}}
		}, Updated, 1},
		{"status only is ignored by Put", func(s *api.Service) { s.Status.ObservedGeneration = 42 }, Unchanged, 1},
		{"nil and empty labels are the same", func(s *api.Service) { s.Labels = map[string]string{} }, Unchanged, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			mustPut(t, s, service("default", "hello", "img:1"))
			before := getService(t, s, "default", "hello")

			upd := service("default", "hello", "img:1")
			tc.change(upd)
			res := mustPut(t, s, upd)
			if res[0] != tc.wantResult {
				t.Errorf("result = %q, want %q", res[0], tc.wantResult)
			}
			after := getService(t, s, "default", "hello")
			if after.Generation != tc.wantGen {
				t.Errorf("generation = %d, want %d", after.Generation, tc.wantGen)
			}
			if upd.Generation != tc.wantGen {
				t.Errorf("caller generation = %d, want %d", upd.Generation, tc.wantGen)
			}
			if after.UID != before.UID || !after.CreationTimestamp.Equal(&before.CreationTimestamp) {
				t.Errorf("uid/creationTimestamp changed on update: %q/%v -> %q/%v", before.UID, before.CreationTimestamp, after.UID, after.CreationTimestamp)
			}
			rvChanged := after.ResourceVersion != before.ResourceVersion
			if rvChanged != (tc.wantResult != Unchanged) {
				t.Errorf("resourceVersion %q -> %q, want changed=%v", before.ResourceVersion, after.ResourceVersion, tc.wantResult != Unchanged)
			}
			if upd.ResourceVersion != after.ResourceVersion {
				t.Errorf("caller resourceVersion = %q, stored %q", upd.ResourceVersion, after.ResourceVersion)
			}
			if after.Status.ObservedGeneration == 42 {
				t.Error("Put wrote the status")
			}
		})
	}
}

func TestPutKeepsStatus(t *testing.T) {
	s := newStore(t)
	mustPut(t, s, service("default", "hello", "img:1"))
	st := getService(t, s, "default", "hello")
	st.Status.URL = "http://hello.default.localhost"
	st.Status.ObservedGeneration = 1
	if err := s.UpdateStatus(st); err != nil {
		t.Fatal(err)
	}
	// A user re-applies with a new spec and no status.
	mustPut(t, s, service("default", "hello", "img:2"))
	got := getService(t, s, "default", "hello")
	if got.Status.URL != "http://hello.default.localhost" || got.Status.ObservedGeneration != 1 {
		t.Errorf("status lost on Put: %+v", got.Status)
	}
	if got.Spec.Template.Spec.Containers[0].Image != "img:2" {
		t.Errorf("spec not replaced: %q", got.Spec.Template.Spec.Containers[0].Image)
	}
}

func TestUpdateStatus(t *testing.T) {
	s := newStore(t)
	svc := service("default", "hello", "img:1")
	svc.Labels = map[string]string{"app": "x"}
	mustPut(t, s, svc)
	before := getService(t, s, "default", "hello")

	ch := make(chan Event, 10)
	s.Watch(ch)

	upd := before.DeepCopy()
	upd.Spec.Template.Spec.Containers[0].Image = "SHOULD-NOT-BE-STORED"
	upd.Labels = map[string]string{"app": "SHOULD-NOT-BE-STORED"}
	upd.Status.URL = "http://x"
	upd.Status.Conditions = []api.Condition{{Type: api.ConditionReady, Status: corev1.ConditionTrue}}
	if err := s.UpdateStatus(upd); err != nil {
		t.Fatalf("UpdateStatus: %v", err)
	}
	got := getService(t, s, "default", "hello")
	if diff := cmp.Diff(before.Spec, got.Spec); diff != "" {
		t.Errorf("UpdateStatus changed the spec (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(before.Labels, got.Labels); diff != "" {
		t.Errorf("UpdateStatus changed a Service's labels (-before +after):\n%s", diff)
	}
	if got.Generation != before.Generation {
		t.Errorf("generation %d -> %d on a status update", before.Generation, got.Generation)
	}
	if diff := cmp.Diff(upd.Status, got.Status); diff != "" {
		t.Errorf("status not stored (-want +got):\n%s", diff)
	}
	if got.ResourceVersion == before.ResourceVersion || upd.ResourceVersion != got.ResourceVersion {
		t.Errorf("resourceVersion: before %q, stored %q, caller %q", before.ResourceVersion, got.ResourceVersion, upd.ResourceVersion)
	}
	select {
	case ev := <-ch:
		if want := (Event{Ref: api.Ref{Kind: api.KindService, Namespace: "default", Name: "hello"}}); ev != want {
			t.Errorf("event = %+v, want %+v", ev, want)
		}
	default:
		t.Error("no event for a status change")
	}

	// The same status again changes nothing and tells nobody.
	rv := got.ResourceVersion
	if err := s.UpdateStatus(got.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	if again := getService(t, s, "default", "hello"); again.ResourceVersion != rv {
		t.Errorf("unchanged status bumped resourceVersion %q -> %q", rv, again.ResourceVersion)
	}
	select {
	case ev := <-ch:
		t.Errorf("event %+v for an unchanged status", ev)
	default:
	}
}

func TestUpdateStatusRevisionRoutingLabels(t *testing.T) {
	s := newStore(t)
	rev := &api.Revision{}
	rev.SetGroupVersionKind(api.GroupVersionKind(api.KindRevision))
	rev.Namespace, rev.Name = "default", "hello-00001"
	rev.Labels = map[string]string{api.LabelRoutingState: api.RoutingStatePending}
	mustPut(t, s, rev)

	upd := rev.DeepCopy()
	upd.Labels[api.LabelRoutingState] = api.RoutingStateActive
	upd.Annotations = map[string]string{api.AnnotationRoutingModified: "2024-01-01T00:00:00Z"}
	if err := s.UpdateStatus(upd); err != nil {
		t.Fatal(err)
	}
	o, err := s.Get(api.KindRevision, "default", "hello-00001")
	if err != nil {
		t.Fatal(err)
	}
	got := o.(*api.Revision)
	if got.Labels[api.LabelRoutingState] != api.RoutingStateActive || got.Annotations[api.AnnotationRoutingModified] == "" {
		t.Errorf("revision routing metadata not written by UpdateStatus: labels %v annotations %v", got.Labels, got.Annotations)
	}
}

func TestUpdateStatusNotFound(t *testing.T) {
	s := newStore(t)
	err := s.UpdateStatus(service("default", "ghost", "i"))
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateStatus of a missing object: err = %v, want ErrNotFound", err)
	}
}

func TestPutConflict(t *testing.T) {
	s := newStore(t)
	mustPut(t, s, service("default", "hello", "img:1"))
	a := getService(t, s, "default", "hello")
	b := getService(t, s, "default", "hello")

	a.Spec.Template.Spec.Containers[0].Image = "img:a"
	mustPut(t, s, a)

	b.Spec.Template.Spec.Containers[0].Image = "img:b"
	res, err := s.Put(b)
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("stale Put: err = %v, want ErrConflict", err)
	}
	if res != nil {
		t.Errorf("results on error = %v, want nil", res)
	}
	if got := getService(t, s, "default", "hello"); got.Spec.Template.Spec.Containers[0].Image != "img:a" {
		t.Errorf("stale Put overwrote: image %q", got.Spec.Template.Spec.Containers[0].Image)
	}

	// The current resourceVersion is accepted.
	cur := getService(t, s, "default", "hello")
	cur.Spec.Template.Spec.Containers[0].Image = "img:c"
	if res := mustPut(t, s, cur); res[0] != Updated {
		t.Errorf("Put with current resourceVersion: %q, want configured", res[0])
	}
	// An empty resourceVersion means "replace unconditionally".
	if res := mustPut(t, s, service("default", "hello", "img:d")); res[0] != Updated {
		t.Errorf("Put with empty resourceVersion: %q, want configured", res[0])
	}
}

func TestPutIsAllOrNothing(t *testing.T) {
	s := newStore(t)
	mustPut(t, s, service("default", "existing", "img:1"))
	ch := make(chan Event, 10)
	s.Watch(ch)

	first := service("default", "first", "img:1")
	changed := service("default", "existing", "img:CHANGED")
	invalid := service("default", "", "img:1") // no name
	res, err := s.Put(first, changed, invalid)
	if err == nil {
		t.Fatal("Put with an object without a name succeeded")
	}
	if res != nil {
		t.Errorf("results = %v, want nil on error", res)
	}
	if _, err := s.Get(api.KindService, "default", "first"); !errors.Is(err, ErrNotFound) {
		t.Errorf("first object of a failed batch was written (Get err = %v)", err)
	}
	if got := getService(t, s, "default", "existing"); got.Spec.Template.Spec.Containers[0].Image != "img:1" || got.Generation != 1 {
		t.Errorf("update in a failed batch was written: image %q generation %d", got.Spec.Template.Spec.Containers[0].Image, got.Generation)
	}
	select {
	case ev := <-ch:
		t.Errorf("event %+v sent for a failed batch", ev)
	default:
	}
	// The failed transaction did not consume resource versions that a later
	// write would skip or reuse inconsistently: a fresh write works.
	if res := mustPut(t, s, service("default", "first", "img:1")); res[0] != Created {
		t.Errorf("after a failed batch: %q, want created", res[0])
	}
}

func TestPutConflictInBatchWritesNothing(t *testing.T) {
	s := newStore(t)
	mustPut(t, s, service("default", "a", "img:1"))
	stale := getService(t, s, "default", "a")
	mustPut(t, s, service("default", "a", "img:2"))

	stale.Spec.Template.Spec.Containers[0].Image = "img:3"
	_, err := s.Put(service("default", "new", "img:1"), stale)
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	if _, err := s.Get(api.KindService, "default", "new"); !errors.Is(err, ErrNotFound) {
		t.Errorf("object before the conflicting one was written (err = %v)", err)
	}
}

func TestPersistenceAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	svc := service("default", "hello", "img:1")
	svc.Labels = map[string]string{"app": "hello"}
	mustPut(t, s, svc)
	mustPut(t, s, configMap(api.ConfigNamespace, "config-domain", map[string]string{"example.com": ""}))
	stored := getService(t, s, "default", "hello")
	stored.Status.URL = "http://hello.default.localhost"
	if err := s.UpdateStatus(stored); err != nil {
		t.Fatal(err)
	}
	want := getService(t, s, "default", "hello")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openStore(t, dir)
	defer s2.Close()
	got := getService(t, s2, "default", "hello")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("object changed across Close/Open (-before +after):\n%s", diff)
	}
	cm, err := s2.Get(api.KindConfigMap, api.ConfigNamespace, "config-domain")
	if err != nil {
		t.Fatal(err)
	}
	if d := cm.(*api.ConfigMap).Data; !cmp.Equal(d, map[string]string{"example.com": ""}) {
		t.Errorf("config map data after reopen = %v", d)
	}
	// Resource versions keep growing after a reopen (no reuse).
	next := service("default", "other", "img:1")
	mustPut(t, s2, next)
	if next.ResourceVersion == want.ResourceVersion {
		t.Errorf("resourceVersion %q reused after reopen", next.ResourceVersion)
	}
}

func TestOpenTwiceIsLocked(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for bbolt's 2s lock timeout")
	}
	dir := t.TempDir()
	s := openStore(t, dir)
	defer s.Close()
	_, err := Open(dir)
	if err == nil {
		t.Fatal("second Open of a locked store succeeded")
	}
	if want := "locked by another gantry process"; !contains(err.Error(), want) {
		t.Errorf("err = %q, want it to contain %q", err, want)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestList(t *testing.T) {
	s := newStore(t)
	// Insert in an order that is not the sorted order.
	for _, ref := range []string{"ab/x", "a/z", "b/a", "a/a", "a-b/m", "ab/a", "a/ab"} {
		var ns, name string
		fmt.Sscanf(replaceSlash(ref), "%s %s", &ns, &name)
		mustPut(t, s, service(ns, name, "i"))
	}
	names := func(objs []api.Object) []string {
		var out []string
		for _, o := range objs {
			out = append(out, o.GetNamespace()+"/"+o.GetName())
		}
		return out
	}
	tests := []struct {
		ns   string
		want []string
	}{
		{"", []string{"a/a", "a/ab", "a/z", "a-b/m", "ab/a", "ab/x", "b/a"}},
		{"a", []string{"a/a", "a/ab", "a/z"}},
		{"ab", []string{"ab/a", "ab/x"}},
		{"a-b", []string{"a-b/m"}},
		{"b", []string{"b/a"}},
		{"c", nil},
		{"0", nil}, // sorts before every namespace
		{"zz", nil},
	}
	for _, tc := range tests {
		t.Run("ns="+tc.ns, func(t *testing.T) {
			got, err := s.List(api.KindService, tc.ns)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, names(got)); diff != "" {
				t.Errorf("List(%q) (-want +got):\n%s", tc.ns, diff)
			}
			for _, o := range got {
				if _, ok := o.(*api.Service); !ok {
					t.Errorf("List returned %T, want *api.Service", o)
				}
			}
		})
	}
	// Other kinds are separate.
	if got, err := s.List(api.KindRoute, ""); err != nil || len(got) != 0 {
		t.Errorf("List(Route) = %v, %v; want empty", names(got), err)
	}
}

func replaceSlash(s string) string {
	b := []byte(s)
	for i := range b {
		if b[i] == '/' {
			b[i] = ' '
		}
	}
	return string(b)
}

func TestUnknownKind(t *testing.T) {
	s := newStore(t)
	if _, err := s.Get("Widget", "default", "x"); err == nil {
		t.Error("Get of an unknown kind succeeded")
	}
	if _, err := s.List("Widget", ""); err == nil {
		t.Error("List of an unknown kind succeeded")
	}
	if err := s.Delete("Widget", "default", "x"); err == nil {
		t.Error("Delete of an unknown kind succeeded")
	}
}

func TestDelete(t *testing.T) {
	s := newStore(t)
	mustPut(t, s, service("default", "hello", "i"), service("default", "other", "i"))
	ch := make(chan Event, 10)
	s.Watch(ch)

	if err := s.Delete(api.KindService, "default", "hello"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(api.KindService, "default", "hello"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Get(api.KindService, "default", "other"); err != nil {
		t.Errorf("Delete removed another object: %v", err)
	}
	select {
	case ev := <-ch:
		want := Event{Ref: api.Ref{Kind: api.KindService, Namespace: "default", Name: "hello"}, Deleted: true}
		if ev != want {
			t.Errorf("event = %+v, want %+v", ev, want)
		}
	default:
		t.Error("no event for Delete")
	}

	err := s.Delete(api.KindService, "default", "hello")
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete: err = %v, want ErrNotFound", err)
	}
	if err == nil || !contains(err.Error(), "default/hello") {
		t.Errorf("not-found error %q does not name the object", err)
	}
	select {
	case ev := <-ch:
		t.Errorf("event %+v for a failed Delete", ev)
	default:
	}
	// A deleted name can be created again, as a new object.
	if res := mustPut(t, s, service("default", "hello", "i")); res[0] != Created {
		t.Errorf("re-create after delete: %q, want created", res[0])
	}
}

func TestGetNotFound(t *testing.T) {
	s := newStore(t)
	_, err := s.Get(api.KindService, "default", "nope")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

func TestWatchEvents(t *testing.T) {
	s := newStore(t)
	a, b := make(chan Event, 10), make(chan Event, 10)
	s.Watch(a)
	s.Watch(b)

	mustPut(t, s, service("default", "x", "i"), service("default", "y", "i"))
	mustPut(t, s, service("default", "x", "i")) // unchanged: no event
	refX := api.Ref{Kind: api.KindService, Namespace: "default", Name: "x"}
	refY := api.Ref{Kind: api.KindService, Namespace: "default", Name: "y"}
	want := []Event{{Ref: refX}, {Ref: refY}}
	for name, ch := range map[string]chan Event{"a": a, "b": b} {
		var got []Event
	drain:
		for {
			select {
			case ev := <-ch:
				got = append(got, ev)
			default:
				break drain
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("watcher %s events (-want +got):\n%s", name, diff)
		}
	}
}

func TestWatchNeverBlocks(t *testing.T) {
	s := newStore(t)
	unbuffered := make(chan Event) // nobody reads it
	full := make(chan Event, 1)
	s.Watch(unbuffered)
	s.Watch(full)

	done := make(chan error, 1)
	go func() {
		for i := range 20 {
			if _, err := s.Put(service("default", fmt.Sprintf("s%d", i), "i")); err != nil {
				done <- err
				return
			}
		}
		done <- s.Delete(api.KindService, "default", "s0")
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("writes blocked on a watcher that does not read")
	}
	if len(full) != 1 {
		t.Errorf("buffered watcher holds %d events, want 1 (the rest dropped)", len(full))
	}
}

func TestConcurrentWritersAndReaders(t *testing.T) {
	s := newStore(t)
	ch := make(chan Event, 1)
	s.Watch(ch)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 10 {
				if _, err := s.Put(service("default", fmt.Sprintf("w%d-%d", w, i), "i")); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.List(api.KindService, "default"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := s.List(api.KindService, "default")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 40 {
		t.Errorf("%d objects, want 40", len(got))
	}
	seen := map[string]bool{}
	for _, o := range got {
		if seen[o.GetResourceVersion()] {
			t.Errorf("resourceVersion %q given twice", o.GetResourceVersion())
		}
		seen[o.GetResourceVersion()] = true
	}
}

func TestConfigMapAndSecretUpdates(t *testing.T) {
	s := newStore(t)
	mustPut(t, s, configMap("ns", "cm", map[string]string{"a": "1"}))
	tests := []struct {
		data    map[string]string
		want    Result
		wantGen int64
	}{
		{map[string]string{"a": "1"}, Unchanged, 1},
		{map[string]string{"a": "2"}, Updated, 2},
		{map[string]string{"a": "2", "b": "3"}, Updated, 3},
	}
	for _, tc := range tests {
		res := mustPut(t, s, configMap("ns", "cm", tc.data))
		o, _ := s.Get(api.KindConfigMap, "ns", "cm")
		if res[0] != tc.want || o.GetGeneration() != tc.wantGen {
			t.Errorf("Put data %v: %q gen %d, want %q gen %d", tc.data, res[0], o.GetGeneration(), tc.want, tc.wantGen)
		}
	}

	sec := &api.Secret{Type: "kubernetes.io/tls", Data: map[string][]byte{"tls.crt": []byte("x")}}
	sec.SetGroupVersionKind(api.GroupVersionKind(api.KindSecret))
	sec.Namespace, sec.Name = "ns", "tls"
	mustPut(t, s, sec)
	sec2 := sec.DeepCopy()
	sec2.ResourceVersion = ""
	sec2.Type = "Opaque"
	if res := mustPut(t, s, sec2); res[0] != Updated {
		t.Errorf("secret type change: %q, want configured", res[0])
	}
	o, _ := s.Get(api.KindSecret, "ns", "tls")
	if got := o.(*api.Secret); got.Type != "Opaque" || string(got.Data["tls.crt"]) != "x" {
		t.Errorf("secret = type %q data %q", got.Type, got.Data["tls.crt"])
	}
}
