package reconcile

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var (
	t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	t1 = t0.Add(time.Minute)
)

func ptr[T any](v T) *T { return &v }

// ignoreTime drops transition times where a test checks them separately.
var ignoreTime = cmpopts.IgnoreFields(api.Condition{}, "LastTransitionTime")

// sortConds makes condition comparisons independent of order.
var sortConds = cmpopts.SortSlices(func(a, b api.Condition) bool { return a.Type < b.Type })

func cond(t api.ConditionType, s corev1.ConditionStatus, reason, msg string) api.Condition {
	return api.Condition{Type: t, Status: s, Reason: reason, Message: msg}
}

func config(name string, gen int64) *api.Configuration {
	c := &api.Configuration{}
	c.SetGroupVersionKind(api.GroupVersionKind(api.KindConfiguration))
	c.Namespace, c.Name, c.Generation = "default", name, gen
	c.UID = types.UID("uid-" + name)
	c.Spec.Template.Spec.Containers = []corev1.Container{{Name: "user-container", Image: "img:" + strconv.FormatInt(gen, 10)}}
	return c
}

// revFor returns the revision cfg would create, with a Ready condition of status st ("" for none).
func revFor(cfg *api.Configuration, st corev1.ConditionStatus, msg string) *api.Revision {
	r := NewRevision(cfg, t0)
	r.UID = types.UID("uid-" + r.Name)
	if st != "" {
		r.Status.Conditions = []api.Condition{cond(api.ConditionReady, st, "Reason", msg)}
	}
	return r
}

func TestRevisionName(t *testing.T) {
	tests := []struct {
		cfgName, tmplName string
		gen               int64
		want              string
	}{
		{"hello", "", 1, "hello-00001"},
		{"hello", "", 42, "hello-00042"},
		{"hello", "", 123456, "hello-123456"},
		{"hello", "hello-v2", 7, "hello-v2"},
	}
	for _, tc := range tests {
		c := config(tc.cfgName, tc.gen)
		c.Spec.Template.Name = tc.tmplName
		if got := RevisionName(c); got != tc.want {
			t.Errorf("RevisionName(%s gen %d, template %q) = %q, want %q", tc.cfgName, tc.gen, tc.tmplName, got, tc.want)
		}
	}
}

func TestNewRevision(t *testing.T) {
	c := config("hello", 3)
	c.Labels = map[string]string{api.LabelService: "hello-svc", "cfg-only": "x"}
	c.Spec.Template.Labels = map[string]string{"app": "hello"}
	c.Spec.Template.Annotations = map[string]string{"autoscaling.knative.dev/min-scale": "2"}
	now := time.Date(2024, 3, 1, 12, 0, 0, 999, time.FixedZone("X", 3600))

	r := NewRevision(c, now)
	if r.Name != "hello-00003" || r.Namespace != "default" {
		t.Errorf("name = %s/%s, want default/hello-00003", r.Namespace, r.Name)
	}
	if r.Kind != api.KindRevision || r.APIVersion != api.APIVersionV1 {
		t.Errorf("TypeMeta = %+v", r.TypeMeta)
	}
	wantLabels := map[string]string{
		"app":                     "hello",
		api.LabelConfiguration:    "hello",
		api.LabelConfigurationGen: "3",
		api.LabelService:          "hello-svc",
		api.LabelRoutingState:     api.RoutingStatePending,
	}
	if diff := cmp.Diff(wantLabels, r.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	wantAnn := map[string]string{
		"autoscaling.knative.dev/min-scale": "2",
		api.AnnotationRoutingModified:       "2024-03-01T11:00:00Z",
	}
	if diff := cmp.Diff(wantAnn, r.Annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	wantOwner := []metav1.OwnerReference{{
		APIVersion: api.APIVersionV1, Kind: api.KindConfiguration, Name: "hello", UID: "uid-hello",
		Controller: ptr(true), BlockOwnerDeletion: ptr(true),
	}}
	if diff := cmp.Diff(wantOwner, r.OwnerReferences); diff != "" {
		t.Errorf("owner references (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(c.Spec.Template.Spec, r.Spec); diff != "" {
		t.Errorf("spec (-template +revision):\n%s", diff)
	}

	// The revision shares no memory with the configuration.
	r.Labels["app"] = "changed"
	r.Annotations["autoscaling.knative.dev/min-scale"] = "9"
	r.Spec.Containers[0].Image = "changed"
	if c.Spec.Template.Labels["app"] != "hello" || c.Spec.Template.Annotations["autoscaling.knative.dev/min-scale"] != "2" ||
		c.Spec.Template.Spec.Containers[0].Image != "img:3" {
		t.Error("NewRevision's result aliases the configuration's template")
	}
}

func TestNewRevisionWithoutServiceOrTemplateMaps(t *testing.T) {
	r := NewRevision(config("c", 1), t0)
	if _, ok := r.Labels[api.LabelService]; ok {
		t.Errorf("service label set for a configuration with no service: %v", r.Labels)
	}
	if r.Labels[api.LabelConfiguration] != "c" || r.Annotations[api.AnnotationRoutingModified] == "" {
		t.Errorf("labels %v annotations %v", r.Labels, r.Annotations)
	}
}

func TestConfiguration(t *testing.T) {
	gen1 := config("hello", 1)
	gen2 := config("hello", 2)

	tests := []struct {
		name        string
		cfg         *api.Configuration
		revs        []*api.Revision
		wantCreate  string
		wantCreated string
		wantReady   string
		wantCond    api.Condition
	}{{
		name:        "first generation creates its revision",
		cfg:         gen1,
		wantCreate:  "hello-00001",
		wantCreated: "hello-00001",
		wantCond:    cond(api.ConditionReady, corev1.ConditionUnknown, "", ""),
	}, {
		name:        "existing revision not ready yet",
		cfg:         gen1,
		revs:        []*api.Revision{revFor(gen1, "", "")},
		wantCreated: "hello-00001",
		wantCond:    cond(api.ConditionReady, corev1.ConditionUnknown, "", ""),
	}, {
		name:        "existing revision ready",
		cfg:         gen1,
		revs:        []*api.Revision{revFor(gen1, corev1.ConditionTrue, "")},
		wantCreated: "hello-00001",
		wantReady:   "hello-00001",
		wantCond:    cond(api.ConditionReady, corev1.ConditionTrue, "", ""),
	}, {
		name:        "new generation creates its revision; latest ready stays",
		cfg:         gen2,
		revs:        []*api.Revision{revFor(gen1, corev1.ConditionTrue, "")},
		wantCreate:  "hello-00002",
		wantCreated: "hello-00002",
		wantReady:   "hello-00001",
		wantCond:    cond(api.ConditionReady, corev1.ConditionUnknown, "", ""),
	}, {
		name:        "newest ready revision wins",
		cfg:         gen2,
		revs:        []*api.Revision{revFor(gen2, corev1.ConditionTrue, ""), revFor(gen1, corev1.ConditionTrue, "")},
		wantCreated: "hello-00002",
		wantReady:   "hello-00002",
		wantCond:    cond(api.ConditionReady, corev1.ConditionTrue, "", ""),
	}, {
		name:        "failed latest revision",
		cfg:         gen2,
		revs:        []*api.Revision{revFor(gen1, corev1.ConditionTrue, ""), revFor(gen2, corev1.ConditionFalse, "exit status 1")},
		wantCreated: "hello-00002",
		wantReady:   "hello-00001",
		wantCond: cond(api.ConditionReady, corev1.ConditionFalse, "RevisionFailed",
			`Revision "hello-00002" failed with message: exit status 1.`),
	}, {
		name:        "failed latest revision with a reason only",
		cfg:         gen1,
		revs:        []*api.Revision{revFor(gen1, corev1.ConditionFalse, "")},
		wantCreated: "hello-00001",
		wantCond: cond(api.ConditionReady, corev1.ConditionFalse, "RevisionFailed",
			`Revision "hello-00001" failed with message: Reason.`),
	}, {
		name: "revisions of other names and newer generations do not count as latest ready",
		cfg:  gen1,
		revs: []*api.Revision{
			revFor(gen1, corev1.ConditionUnknown, ""),
			func() *api.Revision { r := revFor(config("hello", 5), corev1.ConditionTrue, ""); return r }(),
		},
		wantCreated: "hello-00001",
		wantCond:    cond(api.ConditionReady, corev1.ConditionUnknown, "", ""),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Configuration(tc.cfg, tc.revs, t0)
			gotCreate := ""
			if res.Create != nil {
				gotCreate = res.Create.Name
				if diff := cmp.Diff(NewRevision(tc.cfg, t0), res.Create); diff != "" {
					t.Errorf("created revision differs from NewRevision (-want +got):\n%s", diff)
				}
			}
			if gotCreate != tc.wantCreate {
				t.Errorf("Create = %q, want %q", gotCreate, tc.wantCreate)
			}
			if res.Status.LatestCreatedRevisionName != tc.wantCreated {
				t.Errorf("latestCreated = %q, want %q", res.Status.LatestCreatedRevisionName, tc.wantCreated)
			}
			if res.Status.LatestReadyRevisionName != tc.wantReady {
				t.Errorf("latestReady = %q, want %q", res.Status.LatestReadyRevisionName, tc.wantReady)
			}
			if res.Status.ObservedGeneration != tc.cfg.Generation {
				t.Errorf("observedGeneration = %d, want %d", res.Status.ObservedGeneration, tc.cfg.Generation)
			}
			if diff := cmp.Diff([]api.Condition{tc.wantCond}, res.Status.Conditions, ignoreTime); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigurationDoesNotMutateInput(t *testing.T) {
	c := config("hello", 2)
	c.Status.Conditions = []api.Condition{cond(api.ConditionReady, corev1.ConditionTrue, "", "")}
	c.Status.LatestReadyRevisionName = "hello-00001"
	before := c.DeepCopy()
	revs := []*api.Revision{revFor(config("hello", 1), corev1.ConditionTrue, ""), revFor(c, corev1.ConditionFalse, "boom")}
	revsBefore := []string{revs[0].Name, revs[1].Name}
	Configuration(c, revs, t1)
	if diff := cmp.Diff(before, c); diff != "" {
		t.Errorf("Configuration mutated its input (-before +after):\n%s", diff)
	}
	if revs[0].Name != revsBefore[0] || revs[1].Name != revsBefore[1] {
		t.Error("Configuration reordered the caller's revision slice")
	}
}

func TestConfigurationNotOwned(t *testing.T) {
	c := config("hello", 1)
	foreign := revFor(c, corev1.ConditionTrue, "")
	foreign.OwnerReferences = []metav1.OwnerReference{{Kind: api.KindConfiguration, Name: "other", UID: "uid-other"}}
	res := Configuration(c, []*api.Revision{foreign}, t0)
	if res.Create != nil {
		t.Errorf("created %s over a revision it does not own", res.Create.Name)
	}
	want := []api.Condition{cond(api.ConditionReady, corev1.ConditionFalse, "NotOwned",
		`There is an existing Revision "hello-00001" that we do not own.`)}
	if diff := cmp.Diff(want, res.Status.Conditions, ignoreTime); diff != "" {
		t.Errorf("conditions (-want +got):\n%s", diff)
	}

	// An owner reference without UID but with the right kind and name counts.
	byName := revFor(c, corev1.ConditionTrue, "")
	byName.OwnerReferences = []metav1.OwnerReference{{Kind: api.KindConfiguration, Name: "hello"}}
	if res := Configuration(c, []*api.Revision{byName}, t0); !IsTrue(res.Status.Conditions, api.ConditionReady) {
		t.Errorf("revision owned by kind+name not accepted: %+v", res.Status.Conditions)
	}
}

func TestConfigurationBringYourOwnName(t *testing.T) {
	gen1 := config("hello", 1)
	gen1.Spec.Template.Name = "hello-blue"
	existing := revFor(gen1, corev1.ConditionTrue, "")

	t.Run("same spec under a new generation reuses the revision", func(t *testing.T) {
		gen2 := gen1.DeepCopy()
		gen2.Generation = 2
		gen2.Spec.Template.Labels = map[string]string{"only": "metadata"}
		res := Configuration(gen2, []*api.Revision{existing}, t0)
		if res.Create != nil {
			t.Errorf("created %q, want the existing revision reused", res.Create.Name)
		}
		if res.Status.LatestCreatedRevisionName != "hello-blue" || res.Status.LatestReadyRevisionName != "hello-blue" {
			t.Errorf("latestCreated/Ready = %q/%q, want hello-blue", res.Status.LatestCreatedRevisionName, res.Status.LatestReadyRevisionName)
		}
		if !IsTrue(res.Status.Conditions, api.ConditionReady) {
			t.Errorf("Ready not True: %+v", res.Status.Conditions)
		}
	})
	t.Run("different spec under the same name fails", func(t *testing.T) {
		gen2 := gen1.DeepCopy()
		gen2.Generation = 2
		gen2.Spec.Template.Spec.Containers[0].Image = "img:new"
		prev := gen1.DeepCopy().Status
		prev.LatestCreatedRevisionName, prev.LatestReadyRevisionName = "hello-blue", "hello-blue"
		gen2.Status = prev
		res := Configuration(gen2, []*api.Revision{existing}, t0)
		if res.Create != nil {
			t.Errorf("created %q", res.Create.Name)
		}
		c := GetCondition(res.Status.Conditions, api.ConditionReady)
		if c == nil || c.Status != corev1.ConditionFalse || c.Reason != "RevisionFailed" {
			t.Fatalf("Ready = %+v, want False RevisionFailed", c)
		}
		if want := `Revision "hello-blue" already exists with a different spec`; len(c.Message) < len(want) || c.Message[:len(want)] != want {
			t.Errorf("message = %q, want prefix %q", c.Message, want)
		}
		// The last good state is kept.
		if res.Status.LatestReadyRevisionName != "hello-blue" || res.Status.ObservedGeneration != 2 {
			t.Errorf("status = %+v", res.Status)
		}
	})
}

func TestConditionTransitionTime(t *testing.T) {
	c := config("hello", 1)
	rev := revFor(c, "", "")
	first := Configuration(c, []*api.Revision{rev}, t0)
	c.Status = first.Status
	second := Configuration(c, []*api.Revision{rev}, t1)
	got := GetCondition(second.Status.Conditions, api.ConditionReady)
	if want := metav1.NewTime(t0); !got.LastTransitionTime.Equal(&want) {
		t.Errorf("unchanged Ready: lastTransitionTime = %v, want kept at %v", got.LastTransitionTime, want)
	}
	c.Status = second.Status
	rev.Status.Conditions = []api.Condition{cond(api.ConditionReady, corev1.ConditionTrue, "", "")}
	third := Configuration(c, []*api.Revision{rev}, t1)
	got = GetCondition(third.Status.Conditions, api.ConditionReady)
	if want := metav1.NewTime(t1); !got.LastTransitionTime.Equal(&want) {
		t.Errorf("Ready Unknown->True: lastTransitionTime = %v, want %v", got.LastTransitionTime, want)
	}
	if len(third.Status.Conditions) != 1 {
		t.Errorf("conditions duplicated: %+v", third.Status.Conditions)
	}
}

func TestRevisionStatus(t *testing.T) {
	readyConds := []api.Condition{
		cond(api.ConditionResourcesAvailable, corev1.ConditionTrue, "", ""),
		cond(api.ConditionContainerHealthy, corev1.ConditionTrue, "", ""),
		cond(api.ConditionActive, corev1.ConditionTrue, "", ""),
		cond(api.ConditionReady, corev1.ConditionTrue, "", ""),
	}
	superseded := "The revision was superseded before it became ready; it starts when traffic is routed to it."
	tests := []struct {
		name  string
		prev  []api.Condition
		obs   Observed
		want  []api.Condition
		ready corev1.ConditionStatus
	}{{
		name: "ready instance",
		obs:  Observed{Desired: 1, Ready: 1, LogURL: "file:///logs"},
		want: readyConds,
	}, {
		name: "deploying",
		obs:  Observed{Desired: 2},
		want: []api.Condition{
			cond(api.ConditionResourcesAvailable, corev1.ConditionUnknown, "Deploying", ""),
			cond(api.ConditionContainerHealthy, corev1.ConditionUnknown, "Deploying", ""),
			cond(api.ConditionActive, corev1.ConditionUnknown, "Activating", ""),
			cond(api.ConditionReady, corev1.ConditionUnknown, "Deploying", ""),
		},
	}, {
		name: "failed before ever being ready",
		obs:  Observed{Desired: 1, Failed: true, Reason: "ExitCode1", Message: "exit status 1"},
		want: []api.Condition{
			cond(api.ConditionContainerHealthy, corev1.ConditionFalse, "ExitCode1", "exit status 1"),
			cond(api.ConditionResourcesAvailable, corev1.ConditionFalse, "ExitCode1", "exit status 1"),
			cond(api.ConditionActive, corev1.ConditionUnknown, "Activating", ""),
			cond(api.ConditionReady, corev1.ConditionFalse, "ExitCode1", "exit status 1"),
		},
	}, {
		name: "crashing after having been ready",
		prev: readyConds,
		obs:  Observed{Desired: 1, Failed: true, Reason: "ExitCode2", Message: "crashed"},
		want: []api.Condition{
			cond(api.ConditionResourcesAvailable, corev1.ConditionTrue, "", ""),
			cond(api.ConditionContainerHealthy, corev1.ConditionFalse, "ExitCode2", "crashed"),
			cond(api.ConditionActive, corev1.ConditionUnknown, "Activating", ""),
			cond(api.ConditionReady, corev1.ConditionFalse, "ExitCode2", "crashed"),
		},
	}, {
		name: "scaled to zero after having been ready stays Ready",
		prev: readyConds,
		obs:  Observed{},
		want: []api.Condition{
			cond(api.ConditionResourcesAvailable, corev1.ConditionTrue, "", ""),
			cond(api.ConditionContainerHealthy, corev1.ConditionTrue, "", ""),
			cond(api.ConditionActive, corev1.ConditionFalse, "NoTraffic", "The target is not receiving traffic."),
			cond(api.ConditionReady, corev1.ConditionTrue, "", ""),
		},
	}, {
		name: "restarting after having been ready stays Ready",
		prev: readyConds,
		obs:  Observed{Desired: 1},
		want: []api.Condition{
			cond(api.ConditionResourcesAvailable, corev1.ConditionTrue, "", ""),
			cond(api.ConditionContainerHealthy, corev1.ConditionTrue, "", ""),
			cond(api.ConditionActive, corev1.ConditionUnknown, "Activating", ""),
			cond(api.ConditionReady, corev1.ConditionTrue, "", ""),
		},
	}, {
		name: "superseded before becoming ready",
		obs:  Observed{},
		want: []api.Condition{
			cond(api.ConditionResourcesAvailable, corev1.ConditionUnknown, "NoTraffic", superseded),
			cond(api.ConditionContainerHealthy, corev1.ConditionUnknown, "NoTraffic", superseded),
			cond(api.ConditionActive, corev1.ConditionFalse, "NoTraffic", "The target is not receiving traffic."),
			cond(api.ConditionReady, corev1.ConditionUnknown, "NoTraffic", superseded),
		},
	}, {
		name: "recovers after a failure",
		prev: []api.Condition{
			cond(api.ConditionContainerHealthy, corev1.ConditionFalse, "ExitCode1", "x"),
			cond(api.ConditionResourcesAvailable, corev1.ConditionFalse, "ExitCode1", "x"),
			cond(api.ConditionReady, corev1.ConditionFalse, "ExitCode1", "x"),
		},
		obs:  Observed{Desired: 1, Ready: 1},
		want: readyConds,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rev := revFor(config("hello", 1), "", "")
			rev.Generation = 4
			rev.Spec.Containers = []corev1.Container{{Name: "user-container", Image: "img:1"}, {Name: "sidecar", Image: "side:1"}}
			rev.Status.Conditions = append([]api.Condition(nil), tc.prev...)
			before := rev.DeepCopy()
			st := RevisionStatus(rev, tc.obs, t1)
			if diff := cmp.Diff(tc.want, st.Conditions, ignoreTime, sortConds); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			if st.ObservedGeneration != 4 {
				t.Errorf("observedGeneration = %d, want 4", st.ObservedGeneration)
			}
			if st.DesiredReplicas == nil || *st.DesiredReplicas != int32(tc.obs.Desired) ||
				st.ActualReplicas == nil || *st.ActualReplicas != int32(tc.obs.Ready) {
				t.Errorf("replicas desired=%v actual=%v, want %d/%d", st.DesiredReplicas, st.ActualReplicas, tc.obs.Desired, tc.obs.Ready)
			}
			if st.LogURL != tc.obs.LogURL {
				t.Errorf("logUrl = %q, want %q", st.LogURL, tc.obs.LogURL)
			}
			wantCS := []api.ContainerStatus{{Name: "user-container", ImageDigest: "img:1"}, {Name: "sidecar", ImageDigest: "side:1"}}
			if diff := cmp.Diff(wantCS, st.ContainerStatuses); diff != "" {
				t.Errorf("containerStatuses (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, rev); diff != "" {
				t.Errorf("RevisionStatus mutated the revision (-before +after):\n%s", diff)
			}
		})
	}
}

func TestRevisionStatusKeepsTransitionTime(t *testing.T) {
	rev := revFor(config("hello", 1), "", "")
	rev.Status = RevisionStatus(rev, Observed{Desired: 1, Ready: 1}, t0)
	again := RevisionStatus(rev, Observed{Desired: 1, Ready: 1}, t1)
	if diff := cmp.Diff(rev.Status.Conditions, again.Conditions); diff != "" {
		t.Errorf("unchanged status changed its conditions (-first +second):\n%s", diff)
	}
	for _, c := range again.Conditions {
		if want := metav1.NewTime(t0); !c.LastTransitionTime.Equal(&want) {
			t.Errorf("%s lastTransitionTime = %v, want %v", c.Type, c.LastTransitionTime, want)
		}
	}
	// Scaling to zero changes Active (new time) but not Ready (kept time).
	rev.Status = again
	zero := RevisionStatus(rev, Observed{}, t1)
	if c := GetCondition(zero.Conditions, api.ConditionActive); !c.LastTransitionTime.Equal(ptr(metav1.NewTime(t1))) {
		t.Errorf("Active lastTransitionTime = %v, want %v", c.LastTransitionTime, t1)
	}
	if c := GetCondition(zero.Conditions, api.ConditionReady); !c.LastTransitionTime.Equal(ptr(metav1.NewTime(t0))) {
		t.Errorf("Ready lastTransitionTime = %v, want %v", c.LastTransitionTime, t0)
	}
}

// fakeHosts names hosts predictably and records the labels it was given.
type fakeHosts struct {
	err       error
	tagErr    error
	gotLabels map[string]string
}

func (f *fakeHosts) RouteHost(name, ns string, labels map[string]string) (string, error) {
	f.gotLabels = labels
	if f.err != nil {
		return "", f.err
	}
	return name + "." + ns + ".example.com", nil
}

func (f *fakeHosts) TagHost(tag, name, ns string, labels map[string]string) (string, error) {
	if f.tagErr != nil {
		return "", f.tagErr
	}
	return tag + "-" + name + "." + ns + ".example.com", nil
}

func route(traffic ...api.TrafficTarget) *api.Route {
	r := &api.Route{}
	r.SetGroupVersionKind(api.GroupVersionKind(api.KindRoute))
	r.Namespace, r.Name, r.Generation = "default", "hello", 3
	r.Labels = map[string]string{"app": "hello"}
	r.Spec.Traffic = traffic
	return r
}

func readyRev(name string, st corev1.ConditionStatus, msg string) *api.Revision {
	r := &api.Revision{}
	r.Name, r.Namespace = name, "default"
	if st != "" {
		r.Status.Conditions = []api.Condition{cond(api.ConditionReady, st, "R", msg)}
	}
	return r
}

func cfgWithReady(name, latestReady string, readyStatus corev1.ConditionStatus) *api.Configuration {
	c := config(name, 1)
	c.Status.LatestReadyRevisionName = latestReady
	if readyStatus != "" {
		c.Status.Conditions = []api.Condition{cond(api.ConditionReady, readyStatus, "", "")}
	}
	return c
}

func TestRouteStatus(t *testing.T) {
	inputs := RouteInputs{
		Configurations: map[string]*api.Configuration{
			"hello":   cfgWithReady("hello", "hello-00002", corev1.ConditionTrue),
			"pending": cfgWithReady("pending", "", corev1.ConditionUnknown),
			"broken":  cfgWithReady("broken", "", corev1.ConditionFalse),
		},
		Revisions: map[string]*api.Revision{
			"hello-00001": readyRev("hello-00001", corev1.ConditionTrue, ""),
			"hello-00002": readyRev("hello-00002", corev1.ConditionTrue, ""),
			"starting":    readyRev("starting", corev1.ConditionUnknown, ""),
			"failed":      readyRev("failed", corev1.ConditionFalse, "exit status 3"),
		},
		Scheme: "http",
		Port:   8080,
	}
	tests := []struct {
		name        string
		traffic     []api.TrafficTarget
		wantTraffic []api.TrafficTarget // nil: the previous traffic is kept
		wantAll     api.Condition
	}{{
		name:    "latest revision of a configuration",
		traffic: []api.TrafficTarget{{ConfigurationName: "hello", Percent: ptr[int64](100), LatestRevision: ptr(true)}},
		wantTraffic: []api.TrafficTarget{
			{RevisionName: "hello-00002", LatestRevision: ptr(true), Percent: ptr[int64](100)},
		},
		wantAll: cond(api.ConditionAllTrafficAssigned, corev1.ConditionTrue, "", ""),
	}, {
		name: "split with tags",
		traffic: []api.TrafficTarget{
			{RevisionName: "hello-00001", Percent: ptr[int64](80), Tag: "stable"},
			{ConfigurationName: "hello", Percent: ptr[int64](20), Tag: "canary", LatestRevision: ptr(true)},
			{RevisionName: "hello-00001", Tag: "zero"},
		},
		wantTraffic: []api.TrafficTarget{
			{Tag: "stable", RevisionName: "hello-00001", LatestRevision: ptr(false), Percent: ptr[int64](80), URL: "http://stable-hello.default.example.com:8080"},
			{Tag: "canary", RevisionName: "hello-00002", LatestRevision: ptr(true), Percent: ptr[int64](20), URL: "http://canary-hello.default.example.com:8080"},
			{Tag: "zero", RevisionName: "hello-00001", LatestRevision: ptr(false), Percent: ptr[int64](0), URL: "http://zero-hello.default.example.com:8080"},
		},
		wantAll: cond(api.ConditionAllTrafficAssigned, corev1.ConditionTrue, "", ""),
	}, {
		name:    "missing revision",
		traffic: []api.TrafficTarget{{RevisionName: "ghost", Percent: ptr[int64](100)}},
		wantAll: cond(api.ConditionAllTrafficAssigned, corev1.ConditionFalse, "RevisionMissing", `Revision "ghost" referenced in traffic not found.`),
	}, {
		name:    "missing configuration",
		traffic: []api.TrafficTarget{{ConfigurationName: "nope", Percent: ptr[int64](100)}},
		wantAll: cond(api.ConditionAllTrafficAssigned, corev1.ConditionFalse, "ConfigurationMissing", `Configuration "nope" referenced in traffic not found.`),
	}, {
		name:    "configuration without a ready revision yet",
		traffic: []api.TrafficTarget{{ConfigurationName: "pending", Percent: ptr[int64](100)}},
		wantAll: cond(api.ConditionAllTrafficAssigned, corev1.ConditionUnknown, "RevisionMissing", `Configuration "pending" does not have any ready Revision.`),
	}, {
		name:    "failed configuration without a ready revision",
		traffic: []api.TrafficTarget{{ConfigurationName: "broken", Percent: ptr[int64](100)}},
		wantAll: cond(api.ConditionAllTrafficAssigned, corev1.ConditionFalse, "RevisionMissing", `Configuration "broken" does not have any ready Revision.`),
	}, {
		name:    "revision not ready yet",
		traffic: []api.TrafficTarget{{RevisionName: "starting", Percent: ptr[int64](100)}},
		wantAll: cond(api.ConditionAllTrafficAssigned, corev1.ConditionUnknown, "RevisionMissing", `Revision "starting" is not ready yet.`),
	}, {
		name:    "failed revision",
		traffic: []api.TrafficTarget{{RevisionName: "failed", Percent: ptr[int64](100)}},
		wantAll: cond(api.ConditionAllTrafficAssigned, corev1.ConditionFalse, "RevisionMissing", `Revision "failed" failed with message: exit status 3.`),
	}}
	prevTraffic := []api.TrafficTarget{{RevisionName: "hello-00001", LatestRevision: ptr(true), Percent: ptr[int64](100)}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := inputs
			hosts := &fakeHosts{}
			in.Hosts = hosts
			r := route(tc.traffic...)
			r.Status.Traffic = prevTraffic
			r.Status.Conditions = []api.Condition{cond(api.ConditionIngressReady, corev1.ConditionTrue, "", "")}
			before := r.DeepCopy()
			st := RouteStatus(r, in, t0)

			wantTraffic := tc.wantTraffic
			if wantTraffic == nil {
				wantTraffic = prevTraffic
			}
			if diff := cmp.Diff(wantTraffic, st.Traffic); diff != "" {
				t.Errorf("traffic (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantAll, *GetCondition(st.Conditions, api.ConditionAllTrafficAssigned), ignoreTime); diff != "" {
				t.Errorf("AllTrafficAssigned (-want +got):\n%s", diff)
			}
			ready := GetCondition(st.Conditions, api.ConditionReady)
			wantReady := cond(api.ConditionReady, tc.wantAll.Status, tc.wantAll.Reason, tc.wantAll.Message)
			if diff := cmp.Diff(wantReady, *ready, ignoreTime); diff != "" {
				t.Errorf("Ready (-want +got):\n%s", diff)
			}
			if st.URL != "http://hello.default.example.com:8080" || st.Address == nil || st.Address.URL != st.URL {
				t.Errorf("url = %q address = %+v", st.URL, st.Address)
			}
			if st.ObservedGeneration != 3 {
				t.Errorf("observedGeneration = %d, want 3", st.ObservedGeneration)
			}
			if !cmp.Equal(hosts.gotLabels, map[string]string{"app": "hello"}) {
				t.Errorf("Hosts got labels %v, want the route's", hosts.gotLabels)
			}
			if diff := cmp.Diff(before, r); diff != "" {
				t.Errorf("RouteStatus mutated the route (-before +after):\n%s", diff)
			}
		})
	}
}

func TestRouteStatusFirstFailureIsNotReady(t *testing.T) {
	// With no previous status at all, a failure leaves Ready False (IngressReady missing).
	r := route(api.TrafficTarget{RevisionName: "ghost", Percent: ptr[int64](100)})
	st := RouteStatus(r, RouteInputs{Hosts: &fakeHosts{}}, t0)
	if IsTrue(st.Conditions, api.ConditionReady) || st.Traffic != nil {
		t.Errorf("status = %+v, want not ready and no traffic", st)
	}
}

func TestRouteStatusURLs(t *testing.T) {
	tests := []struct {
		scheme string
		port   int
		want   string
	}{
		{"http", 80, "http://hello.default.example.com"},
		{"", 80, "http://hello.default.example.com"},
		{"http", 0, "http://hello.default.example.com"},
		{"http", 8080, "http://hello.default.example.com:8080"},
		{"https", 443, "https://hello.default.example.com"},
		{"https", 8443, "https://hello.default.example.com:8443"},
		{"http", 443, "http://hello.default.example.com:443"},
	}
	for _, tc := range tests {
		r := route(api.TrafficTarget{RevisionName: "r", Percent: ptr[int64](100), Tag: "t"})
		in := RouteInputs{Hosts: &fakeHosts{}, Scheme: tc.scheme, Port: tc.port,
			Revisions: map[string]*api.Revision{"r": readyRev("r", corev1.ConditionTrue, "")}}
		st := RouteStatus(r, in, t0)
		if st.URL != tc.want {
			t.Errorf("scheme %q port %d: url = %q, want %q", tc.scheme, tc.port, st.URL, tc.want)
		}
		wantTag := tc.want[:len(tc.scheme)+3] + "t-" + tc.want[len(tc.scheme)+3:]
		if tc.scheme == "" {
			wantTag = "http://t-" + tc.want[len("http://"):]
		}
		if len(st.Traffic) != 1 || st.Traffic[0].URL != wantTag {
			t.Errorf("scheme %q port %d: tag url = %+v, want %q", tc.scheme, tc.port, st.Traffic, wantTag)
		}
	}
}

func TestRouteStatusWithRealHosts(t *testing.T) {
	cfg := api.DefaultConfig("localhost")
	r := route(api.TrafficTarget{RevisionName: "r", Percent: ptr[int64](100), Tag: "canary"})
	in := RouteInputs{Hosts: cfg, Scheme: "http", Port: 8080,
		Revisions: map[string]*api.Revision{"r": readyRev("r", corev1.ConditionTrue, "")}}
	st := RouteStatus(r, in, t0)
	if st.URL != "http://hello.default.localhost:8080" {
		t.Errorf("url = %q", st.URL)
	}
	if len(st.Traffic) != 1 || st.Traffic[0].URL != "http://canary-hello.default.localhost:8080" {
		t.Errorf("traffic = %+v", st.Traffic)
	}
}

func TestRouteStatusHostErrors(t *testing.T) {
	prev := []api.TrafficTarget{{RevisionName: "old", Percent: ptr[int64](100)}}
	ok := map[string]*api.Revision{"r": readyRev("r", corev1.ConditionTrue, "")}

	r := route(api.TrafficTarget{RevisionName: "r", Percent: ptr[int64](100)})
	r.Status.Traffic = prev
	st := RouteStatus(r, RouteInputs{Hosts: &fakeHosts{err: errors.New("bad template")}, Revisions: ok}, t0)
	want := cond(api.ConditionAllTrafficAssigned, corev1.ConditionFalse, "DomainTemplateError", "bad template")
	if diff := cmp.Diff(want, *GetCondition(st.Conditions, api.ConditionAllTrafficAssigned), ignoreTime); diff != "" {
		t.Errorf("route host error (-want +got):\n%s", diff)
	}
	if IsTrue(st.Conditions, api.ConditionReady) || !cmp.Equal(st.Traffic, prev) {
		t.Errorf("route host error: status = %+v", st)
	}

	r = route(api.TrafficTarget{RevisionName: "r", Percent: ptr[int64](100), Tag: "x"})
	r.Status.Traffic = prev
	st = RouteStatus(r, RouteInputs{Hosts: &fakeHosts{tagErr: errors.New("bad tag template")}, Revisions: ok}, t0)
	want = cond(api.ConditionAllTrafficAssigned, corev1.ConditionFalse, "DomainTemplateError", "bad tag template")
	if diff := cmp.Diff(want, *GetCondition(st.Conditions, api.ConditionAllTrafficAssigned), ignoreTime); diff != "" {
		t.Errorf("tag host error (-want +got):\n%s", diff)
	}
	if !cmp.Equal(st.Traffic, prev) {
		t.Errorf("tag host error: traffic %+v, want the previous traffic kept", st.Traffic)
	}
}

func TestRoutedRevisions(t *testing.T) {
	r := route()
	r.Status.Traffic = []api.TrafficTarget{
		{RevisionName: "a", Percent: ptr[int64](100)},
		{RevisionName: "b", Percent: ptr[int64](0)},
		{RevisionName: "c", Percent: ptr[int64](0), Tag: "t"},
		{RevisionName: "d"},
		{RevisionName: "", Percent: ptr[int64](5)},
	}
	want := map[string]bool{"a": true, "c": true}
	if diff := cmp.Diff(want, RoutedRevisions(r)); diff != "" {
		t.Errorf("RoutedRevisions (-want +got):\n%s", diff)
	}
}

func svcObj() *api.Service {
	s := &api.Service{}
	s.SetGroupVersionKind(api.GroupVersionKind(api.KindService))
	s.Namespace, s.Name, s.UID, s.Generation = "default", "hello", "uid-svc", 2
	s.Labels = map[string]string{"team": "a"}
	s.Annotations = map[string]string{"note": "x"}
	s.Spec.Template.Spec.Containers = []corev1.Container{{Image: "img"}}
	s.Spec.Traffic = []api.TrafficTarget{
		{LatestRevision: ptr(true), Percent: ptr[int64](80), Tag: "latest"},
		{RevisionName: "hello-00001", LatestRevision: ptr(false), Percent: ptr[int64](20), Tag: "old"},
	}
	return s
}

func TestServiceConfigurationAndRoute(t *testing.T) {
	svc := svcObj()
	owner := []metav1.OwnerReference{{APIVersion: api.APIVersionV1, Kind: api.KindService, Name: "hello", UID: "uid-svc",
		Controller: ptr(true), BlockOwnerDeletion: ptr(true)}}
	wantLabels := map[string]string{"team": "a", api.LabelService: "hello"}

	c := ServiceConfiguration(svc)
	if c.Name != "hello" || c.Namespace != "default" || c.Kind != api.KindConfiguration {
		t.Errorf("configuration %s %s/%s", c.Kind, c.Namespace, c.Name)
	}
	if diff := cmp.Diff(wantLabels, c.Labels); diff != "" {
		t.Errorf("configuration labels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(svc.Annotations, c.Annotations); diff != "" {
		t.Errorf("configuration annotations (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(owner, c.OwnerReferences); diff != "" {
		t.Errorf("configuration owner (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(svc.Spec.ConfigurationSpec, c.Spec); diff != "" {
		t.Errorf("configuration spec (-want +got):\n%s", diff)
	}

	r := ServiceRoute(svc)
	if r.Name != "hello" || r.Namespace != "default" || r.Kind != api.KindRoute {
		t.Errorf("route %s %s/%s", r.Kind, r.Namespace, r.Name)
	}
	if diff := cmp.Diff(wantLabels, r.Labels); diff != "" {
		t.Errorf("route labels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(owner, r.OwnerReferences); diff != "" {
		t.Errorf("route owner (-want +got):\n%s", diff)
	}
	wantTraffic := []api.TrafficTarget{
		{ConfigurationName: "hello", LatestRevision: ptr(true), Percent: ptr[int64](80), Tag: "latest"},
		{RevisionName: "hello-00001", LatestRevision: ptr(false), Percent: ptr[int64](20), Tag: "old"},
	}
	if diff := cmp.Diff(wantTraffic, r.Spec.Traffic); diff != "" {
		t.Errorf("route traffic (-want +got):\n%s", diff)
	}

	// Nothing is shared with the service.
	c.Labels["team"] = "changed"
	c.Spec.Template.Spec.Containers[0].Image = "changed"
	*r.Spec.Traffic[0].Percent = 1
	if svc.Labels["team"] != "a" || svc.Spec.Template.Spec.Containers[0].Image != "img" || *svc.Spec.Traffic[0].Percent != 80 {
		t.Error("ServiceConfiguration/ServiceRoute alias the service")
	}
	if _, ok := svc.Labels[api.LabelService]; ok {
		t.Error("the service's own labels were modified")
	}
}

func TestServiceStatus(t *testing.T) {
	readyCfg := func() *api.Configuration {
		c := config("hello", 2)
		c.Status.ObservedGeneration = 2
		c.Status.LatestCreatedRevisionName, c.Status.LatestReadyRevisionName = "hello-00002", "hello-00002"
		c.Status.Conditions = []api.Condition{cond(api.ConditionReady, corev1.ConditionTrue, "", "")}
		return c
	}
	readyRoute := func() *api.Route {
		r := route()
		r.Generation, r.Status.ObservedGeneration = 1, 1
		r.Status.URL = "http://hello.default.localhost"
		r.Status.Address = &api.Addressable{URL: r.Status.URL}
		r.Status.Traffic = []api.TrafficTarget{{RevisionName: "hello-00002", LatestRevision: ptr(true), Percent: ptr[int64](100)}}
		r.Status.Conditions = []api.Condition{cond(api.ConditionReady, corev1.ConditionTrue, "", "")}
		return r
	}
	tests := []struct {
		name    string
		cfg     *api.Configuration
		route   *api.Route
		wantCfg api.Condition
		wantRt  api.Condition
		wantRdy api.Condition
	}{{
		name:    "nothing created yet",
		wantCfg: cond(api.ConditionConfigurationsReady, corev1.ConditionUnknown, "OutOfDate", "The Configuration has not been created yet."),
		wantRt:  cond(api.ConditionRoutesReady, corev1.ConditionUnknown, "OutOfDate", "The Route has not been created yet."),
		wantRdy: cond(api.ConditionReady, corev1.ConditionUnknown, "OutOfDate", "The Configuration has not been created yet."),
	}, {
		name:    "all ready",
		cfg:     readyCfg(),
		route:   readyRoute(),
		wantCfg: cond(api.ConditionConfigurationsReady, corev1.ConditionTrue, "", ""),
		wantRt:  cond(api.ConditionRoutesReady, corev1.ConditionTrue, "", ""),
		wantRdy: cond(api.ConditionReady, corev1.ConditionTrue, "", ""),
	}, {
		name:    "configuration observedGeneration lags",
		cfg:     func() *api.Configuration { c := readyCfg(); c.Generation = 3; return c }(),
		route:   readyRoute(),
		wantCfg: cond(api.ConditionConfigurationsReady, corev1.ConditionUnknown, "OutOfDate", `The Configuration "hello" has not been reconciled yet.`),
		wantRt:  cond(api.ConditionRoutesReady, corev1.ConditionTrue, "", ""),
		wantRdy: cond(api.ConditionReady, corev1.ConditionUnknown, "OutOfDate", `The Configuration "hello" has not been reconciled yet.`),
	}, {
		name:    "route observedGeneration lags",
		cfg:     readyCfg(),
		route:   func() *api.Route { r := readyRoute(); r.Generation = 2; return r }(),
		wantCfg: cond(api.ConditionConfigurationsReady, corev1.ConditionTrue, "", ""),
		wantRt:  cond(api.ConditionRoutesReady, corev1.ConditionUnknown, "OutOfDate", `The Route "hello" has not been reconciled yet.`),
		wantRdy: cond(api.ConditionReady, corev1.ConditionUnknown, "OutOfDate", `The Route "hello" has not been reconciled yet.`),
	}, {
		name: "configuration failed",
		cfg: func() *api.Configuration {
			c := readyCfg()
			c.Status.Conditions = []api.Condition{cond(api.ConditionReady, corev1.ConditionFalse, "RevisionFailed", `Revision "hello-00002" failed with message: boom.`)}
			return c
		}(),
		route:   readyRoute(),
		wantCfg: cond(api.ConditionConfigurationsReady, corev1.ConditionFalse, "RevisionFailed", `Revision "hello-00002" failed with message: boom.`),
		wantRt:  cond(api.ConditionRoutesReady, corev1.ConditionTrue, "", ""),
		wantRdy: cond(api.ConditionReady, corev1.ConditionFalse, "RevisionFailed", `Revision "hello-00002" failed with message: boom.`),
	}, {
		name: "configuration Unknown without a reason",
		cfg: func() *api.Configuration {
			c := readyCfg()
			c.Status.Conditions = []api.Condition{cond(api.ConditionReady, corev1.ConditionUnknown, "", "")}
			return c
		}(),
		route:   readyRoute(),
		wantCfg: cond(api.ConditionConfigurationsReady, corev1.ConditionUnknown, "OutOfDate", ""),
		wantRt:  cond(api.ConditionRoutesReady, corev1.ConditionTrue, "", ""),
		wantRdy: cond(api.ConditionReady, corev1.ConditionUnknown, "OutOfDate", ""),
	}, {
		name: "route failed",
		cfg:  readyCfg(),
		route: func() *api.Route {
			r := readyRoute()
			r.Status.Conditions = []api.Condition{cond(api.ConditionReady, corev1.ConditionFalse, "RevisionMissing", "gone")}
			return r
		}(),
		wantCfg: cond(api.ConditionConfigurationsReady, corev1.ConditionTrue, "", ""),
		wantRt:  cond(api.ConditionRoutesReady, corev1.ConditionFalse, "RevisionMissing", "gone"),
		wantRdy: cond(api.ConditionReady, corev1.ConditionFalse, "RevisionMissing", "gone"),
	}, {
		name: "traffic not migrated to the latest ready revision",
		cfg:  readyCfg(),
		route: func() *api.Route {
			r := readyRoute()
			r.Status.Traffic[0].RevisionName = "hello-00001"
			return r
		}(),
		wantCfg: cond(api.ConditionConfigurationsReady, corev1.ConditionTrue, "", ""),
		wantRt:  cond(api.ConditionRoutesReady, corev1.ConditionUnknown, "TrafficNotMigrated", "Traffic is not yet migrated to the latest revision."),
		wantRdy: cond(api.ConditionReady, corev1.ConditionUnknown, "TrafficNotMigrated", "Traffic is not yet migrated to the latest revision."),
	}, {
		name: "pinned revisions are not a migration",
		cfg:  readyCfg(),
		route: func() *api.Route {
			r := readyRoute()
			r.Status.Traffic = append(r.Status.Traffic, api.TrafficTarget{RevisionName: "hello-00001", LatestRevision: ptr(false), Tag: "old", Percent: ptr[int64](0)})
			return r
		}(),
		wantCfg: cond(api.ConditionConfigurationsReady, corev1.ConditionTrue, "", ""),
		wantRt:  cond(api.ConditionRoutesReady, corev1.ConditionTrue, "", ""),
		wantRdy: cond(api.ConditionReady, corev1.ConditionTrue, "", ""),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := svcObj()
			st := ServiceStatus(svc, tc.cfg, tc.route, t0)
			want := []api.Condition{tc.wantCfg, tc.wantRt, tc.wantRdy}
			if diff := cmp.Diff(want, st.Conditions, ignoreTime, sortConds); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			if st.ObservedGeneration != svc.Generation {
				t.Errorf("observedGeneration = %d, want %d", st.ObservedGeneration, svc.Generation)
			}
			if tc.cfg != nil {
				if diff := cmp.Diff(tc.cfg.Status.ConfigurationStatusFields, st.ConfigurationStatusFields); diff != "" {
					t.Errorf("configuration fields (-want +got):\n%s", diff)
				}
			}
			if tc.route != nil {
				if diff := cmp.Diff(tc.route.Status.RouteStatusFields, st.RouteStatusFields); diff != "" {
					t.Errorf("route fields (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestServiceStatusTransitionTimes(t *testing.T) {
	svc := svcObj()
	svc.Status = ServiceStatus(svc, nil, nil, t0)
	st := ServiceStatus(svc, nil, nil, t1)
	for _, c := range st.Conditions {
		if want := metav1.NewTime(t0); !c.LastTransitionTime.Equal(&want) {
			t.Errorf("%s lastTransitionTime = %v, want kept at %v", c.Type, c.LastTransitionTime, want)
		}
	}
	if len(st.Conditions) != 3 {
		t.Errorf("%d conditions, want 3: %+v", len(st.Conditions), st.Conditions)
	}
}

func TestConditionHelpers(t *testing.T) {
	conds := []api.Condition{cond(api.ConditionReady, corev1.ConditionTrue, "", ""), cond(api.ConditionActive, corev1.ConditionFalse, "", "")}
	if !IsTrue(conds, api.ConditionReady) || IsTrue(conds, api.ConditionActive) || IsTrue(conds, api.ConditionRoutesReady) {
		t.Error("IsTrue")
	}
	if !IsFalse(conds, api.ConditionActive) || IsFalse(conds, api.ConditionReady) || IsFalse(conds, api.ConditionRoutesReady) {
		t.Error("IsFalse")
	}
	if GetCondition(conds, api.ConditionRoutesReady) != nil {
		t.Error("GetCondition of a missing type is not nil")
	}
	// GetCondition points into the slice.
	GetCondition(conds, api.ConditionActive).Reason = "x"
	if conds[1].Reason != "x" {
		t.Error("GetCondition returned a copy")
	}
}

// The digest a runtime resolved is kept in the status once known, so every
// later instance runs the same image even when the runtime reports none.
func TestRevisionStatusKeepsDigest(t *testing.T) {
	rev := &api.Revision{}
	rev.Name = "app-00001"
	rev.Spec.Containers = []corev1.Container{{Name: "user-container", Image: "reg/app:v1", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}, {Name: "side", Image: "reg/side:v1"}}
	now := time.Now()
	st := RevisionStatus(rev, Observed{Desired: 1, ImageDigest: "reg/app@sha256:aaa", Runtime: "docker", Notes: []string{"container side is not run"}}, now)
	if st.ContainerStatuses[0].ImageDigest != "reg/app@sha256:aaa" || st.ContainerStatuses[1].ImageDigest != "reg/side:v1" {
		t.Fatalf("statuses %+v", st.ContainerStatuses)
	}
	if st.Annotations[AnnotationRuntime] != "docker" || st.Annotations[AnnotationRuntimeNotes] != "container side is not run" {
		t.Errorf("annotations %v", st.Annotations)
	}
	rev.Status = st
	st = RevisionStatus(rev, Observed{Desired: 1, Runtime: "docker"}, now)
	if st.ContainerStatuses[0].ImageDigest != "reg/app@sha256:aaa" {
		t.Errorf("digest lost: %+v", st.ContainerStatuses)
	}
	if _, ok := st.Annotations[AnnotationRuntimeNotes]; ok {
		t.Errorf("stale notes kept: %v", st.Annotations)
	}
}
