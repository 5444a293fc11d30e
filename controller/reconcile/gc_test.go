package reconcile

import (
	"slices"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var gcNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// gcRev builds a revision of configuration "cfg" in namespace "foo". Options
// set its routing state, routingStateModified and creation time; a revision
// built without a creation time has the zero one, as in Knative's fixtures.
func gcRev(name string, opts ...func(*api.Revision)) *api.Revision {
	r := &api.Revision{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: "foo",
		Labels:      map[string]string{api.LabelConfiguration: "cfg"},
		Annotations: map[string]string{},
	}}
	for _, o := range opts {
		o(r)
	}
	return r
}

// routing sets the routingState label and, as Knative's SetRoutingState does,
// stamps routingStateModified with the time of the change (gcNow).
func gcRouting(state string) func(*api.Revision) {
	return func(r *api.Revision) {
		r.Labels[api.LabelRoutingState] = state
		r.Annotations[api.AnnotationRoutingModified] = gcNow.Format(time.RFC3339)
	}
}

func gcLastActive(ago time.Duration) func(*api.Revision) {
	return func(r *api.Revision) {
		r.Annotations[api.AnnotationRoutingModified] = gcNow.Add(-ago).UTC().Format(time.RFC3339)
	}
}

func gcCreated(ago time.Duration) func(*api.Revision) {
	return func(r *api.Revision) { r.CreationTimestamp = metav1.NewTime(gcNow.Add(-ago)) }
}

func gcNoGC(r *api.Revision) { r.Annotations[api.AnnotationNoGC] = "true" }

func gcConfiguration(latestReady string) *api.Configuration {
	c := &api.Configuration{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "foo"}}
	c.Status.LatestReadyRevisionName = latestReady
	c.Status.LatestCreatedRevisionName = latestReady
	return c
}

func gcConf(create, active time.Duration, minRevs, maxRevs int64) api.GCConfig {
	return api.GCConfig{RetainSinceCreateTime: create, RetainSinceLastActiveTime: active,
		MinNonActiveRevisions: minRevs, MaxNonActiveRevisions: maxRevs}
}

const gcOff = time.Duration(api.GCDisabled)

// Ages of Knative's fixtures: oldest, older, old.
const (
	gcOldest = 13 * time.Minute
	gcOlder  = 12 * time.Minute
	gcOld    = 11 * time.Minute
)

// TestCollectRevisions holds every vector of Knative's gc_test.go
// (TestCollectMin, TestCollectMax, TestCollectSettings, TestGCInOrder) and
// then Gantry's own.
func TestCollectRevisions(t *testing.T) {
	minCase := gcConf(5*time.Minute, 5*time.Minute, 1, api.GCDisabled)
	maxCase := gcConf(time.Hour, time.Hour, 1, 2)
	threeRevs := func() []*api.Revision {
		return []*api.Revision{
			gcRev("5554", gcRouting(api.RoutingStateReserve), gcLastActive(gcOldest)),
			gcRev("5555", gcRouting(api.RoutingStateReserve), gcLastActive(gcOlder)),
			gcRev("5556", gcRouting(api.RoutingStateActive), gcLastActive(gcOld)),
		}
	}
	fiveRevs := func() []*api.Revision {
		return []*api.Revision{
			gcRev("5553", gcRouting(api.RoutingStateReserve), gcLastActive(15*time.Minute)),
			gcRev("5554", gcRouting(api.RoutingStateReserve), gcLastActive(14*time.Minute)),
			gcRev("5555", gcRouting(api.RoutingStateReserve), gcLastActive(13*time.Minute)),
			gcRev("5556", gcRouting(api.RoutingStateReserve), gcLastActive(12*time.Minute)),
			gcRev("5557", gcRouting(api.RoutingStateActive), gcLastActive(11*time.Minute)),
		}
	}
	tests := []struct {
		name string
		gc   api.GCConfig
		cfg  *api.Configuration
		revs []*api.Revision
		want []string
	}{
		// Knative TestCollectMin: 5m, 5m, min 1, max disabled.
		{
			name: "min: too few revisions",
			gc:   minCase, cfg: gcConfiguration("5556"),
			revs: []*api.Revision{gcRev("5556", gcRouting(api.RoutingStateActive), gcCreated(gcOld))},
		}, {
			name: "min: delete oldest, keep one recent, one active",
			gc:   minCase, cfg: gcConfiguration("5556"),
			revs: threeRevs(),
			want: []string{"5554"},
		}, {
			name: "min: no latest ready, one active",
			gc:   minCase, cfg: gcConfiguration(""),
			revs: threeRevs(),
			want: []string{"5554"},
		}, {
			name: "min: keep oldest when none reserved (pending, unset, active)",
			gc:   minCase, cfg: gcConfiguration("5556"),
			revs: []*api.Revision{
				gcRev("5554", gcRouting(api.RoutingStatePending), gcCreated(gcOldest)),
				gcRev("5555", gcRouting(""), gcCreated(gcOlder)),
				gcRev("5556", gcRouting(api.RoutingStateActive), gcCreated(gcOld)),
			},
		}, {
			name: "min: none stale",
			gc:   minCase, cfg: gcConfiguration(""),
			revs: []*api.Revision{
				gcRev("5554", gcRouting(api.RoutingStateReserve), gcLastActive(0)),
				gcRev("5555", gcRouting(api.RoutingStateReserve), gcLastActive(0)),
				gcRev("5556", gcRouting(api.RoutingStateReserve), gcLastActive(0)),
			},
		}, {
			name: "min: keep oldest because of the no-gc annotation",
			gc:   minCase, cfg: gcConfiguration(""),
			revs: []*api.Revision{
				// Knative's fixture sets routingStateModified first and then
				// the routing state, which stamps it with now.
				gcRev("5554", gcLastActive(gcOldest), gcRouting(api.RoutingStateReserve), gcNoGC),
				gcRev("5555", gcRouting(api.RoutingStateReserve), gcLastActive(gcOlder)),
				gcRev("5556", gcRouting(api.RoutingStateReserve), gcLastActive(gcOld)),
			},
			want: []string{"5555"},
		},
		// Knative TestCollectMax: 1h, 1h, min 1, max 2.
		{
			name: "max: at max",
			gc:   maxCase, cfg: gcConfiguration("5556"),
			revs: []*api.Revision{
				gcRev("5554", gcRouting(api.RoutingStateReserve), gcLastActive(gcOlder)),
				gcRev("5555", gcRouting(api.RoutingStateReserve), gcLastActive(gcOlder)),
				gcRev("5556", gcRouting(api.RoutingStateActive), gcLastActive(gcOld)),
			},
		}, {
			name: "max: delete oldest, keep three",
			gc:   maxCase, cfg: gcConfiguration("5556"),
			revs: []*api.Revision{
				gcRev("5553", gcRouting(api.RoutingStateReserve), gcLastActive(gcOldest)),
				gcRev("5554", gcRouting(api.RoutingStateReserve), gcLastActive(gcOlder)),
				gcRev("5555", gcRouting(api.RoutingStateReserve), gcLastActive(gcOlder)),
				gcRev("5556", gcRouting(api.RoutingStateActive), gcLastActive(gcOld)),
			},
			want: []string{"5553"},
		}, {
			name: "max: over max, all active",
			gc:   maxCase, cfg: gcConfiguration("5556"),
			revs: []*api.Revision{
				gcRev("5553", gcRouting(api.RoutingStateActive)),
				gcRev("5554", gcRouting(api.RoutingStateActive)),
				gcRev("5555", gcRouting(api.RoutingStateActive)),
				gcRev("5556", gcRouting(api.RoutingStateActive)),
			},
		},
		// Knative TestCollectSettings.
		{
			name: "settings: all disabled",
			gc:   gcConf(gcOff, gcOff, 1, api.GCDisabled), cfg: gcConfiguration("5556"),
			revs: threeRevs(),
		}, {
			name: "settings: staleness disabled",
			gc:   gcConf(gcOff, gcOff, 0, 1), cfg: gcConfiguration("5556"),
			revs: threeRevs(),
			want: []string{"5554"},
		}, {
			name: "settings: max disabled",
			gc:   gcConf(gcOff, time.Minute, 1, api.GCDisabled), cfg: gcConfiguration("5556"),
			revs: threeRevs(),
			want: []string{"5554"},
		},
		// Knative TestGCInOrder.
		{
			name: "order: retain one item",
			gc:   gcConf(gcOff, gcOff, 1, 1), cfg: gcConfiguration("5557"),
			revs: fiveRevs(),
			want: []string{"5553", "5554", "5555"},
		}, {
			name: "order: retain two items",
			gc:   gcConf(gcOff, gcOff, 2, 2), cfg: gcConfiguration("5557"),
			revs: fiveRevs(),
			want: []string{"5553", "5554"},
		},
		// Gantry's own.
		{
			name: "order follows last activity, not input order",
			gc:   gcConf(gcOff, gcOff, 1, 1), cfg: gcConfiguration("5557"),
			revs: func() []*api.Revision { r := fiveRevs(); slices.Reverse(r); return r }(),
			want: []string{"5553", "5554", "5555"},
		}, {
			name: "latest ready is kept even when labelled reserve",
			gc:   gcConf(gcOff, gcOff, 0, 0), cfg: gcConfiguration("5556"),
			revs: []*api.Revision{
				gcRev("5555", gcRouting(api.RoutingStateReserve), gcLastActive(gcOlder)),
				gcRev("5556", gcRouting(api.RoutingStateReserve), gcLastActive(gcOld)),
			},
			want: []string{"5555"},
		}, {
			name: "no-gc is case-insensitive; other values do not preserve",
			gc:   gcConf(gcOff, gcOff, 0, 0), cfg: gcConfiguration(""),
			revs: []*api.Revision{
				gcRev("a", gcRouting(api.RoutingStateReserve), func(r *api.Revision) { r.Annotations[api.AnnotationNoGC] = "TRUE" }),
				gcRev("b", gcRouting(api.RoutingStateReserve), func(r *api.Revision) { r.Annotations[api.AnnotationNoGC] = "yes" }),
			},
			want: []string{"b"},
		}, {
			name: "min 0 deletes every stale non-active revision",
			gc:   gcConf(5*time.Minute, 5*time.Minute, 0, api.GCDisabled), cfg: gcConfiguration("5556"),
			revs: threeRevs(),
			want: []string{"5554", "5555"},
		}, {
			name: "stale first, then over max",
			gc:   gcConf(time.Hour, 13*time.Minute+30*time.Second, 1, 1), cfg: gcConfiguration("5557"),
			revs: fiveRevs(),
			// 5553 and 5554 are stale and go; 5555 and 5556 are fresh, one
			// more than max: 5555, the less recently active, goes too.
			want: []string{"5553", "5554", "5555"},
		}, {
			name: "stale deletions stop at min",
			gc:   gcConf(time.Minute, time.Minute, 3, api.GCDisabled), cfg: gcConfiguration("5557"),
			revs: fiveRevs(),
			want: []string{"5553"},
		}, {
			name: "newer stale revisions go over max after older fresh ones stay",
			gc:   gcConf(gcOff, 10*time.Minute, 0, 1),
			cfg:  gcConfiguration(""),
			revs: []*api.Revision{
				gcRev("fresh-old", gcRouting(api.RoutingStateReserve), gcLastActive(20*time.Minute), gcCreated(20*time.Minute)),
				gcRev("a", gcRouting(api.RoutingStateReserve), gcLastActive(5*time.Minute)),
				gcRev("b", gcRouting(api.RoutingStateReserve), gcLastActive(4*time.Minute)),
			},
			// fresh-old is stale and goes; a and b are fresh, 2 > max 1: a goes.
			want: []string{"fresh-old", "a"},
		}, {
			name: "creation time keeps a revision whose activity is old",
			gc:   gcConf(time.Hour, time.Minute, 0, api.GCDisabled), cfg: gcConfiguration(""),
			revs: []*api.Revision{
				gcRev("young", gcRouting(api.RoutingStateReserve), gcLastActive(30*time.Minute), gcCreated(30*time.Minute)),
				gcRev("aged", gcRouting(api.RoutingStateReserve), gcLastActive(30*time.Minute), gcCreated(2*time.Hour)),
			},
			want: []string{"aged"},
		}, {
			name: "unparsable routingStateModified falls back to creation time",
			gc:   gcConf(gcOff, 10*time.Minute, 0, api.GCDisabled), cfg: gcConfiguration(""),
			revs: []*api.Revision{
				gcRev("bad-old", gcRouting(api.RoutingStateReserve), gcCreated(time.Hour),
					func(r *api.Revision) { r.Annotations[api.AnnotationRoutingModified] = "yesterday" }),
				gcRev("bad-new", gcRouting(api.RoutingStateReserve), gcCreated(time.Minute),
					func(r *api.Revision) { r.Annotations[api.AnnotationRoutingModified] = "yesterday" }),
			},
			want: []string{"bad-old"},
		}, {
			name: "other configurations' and namespaces' revisions are ignored",
			gc:   gcConf(gcOff, gcOff, 0, 0), cfg: gcConfiguration(""),
			revs: []*api.Revision{
				gcRev("other-cfg", gcRouting(api.RoutingStateReserve), func(r *api.Revision) { r.Labels[api.LabelConfiguration] = "other" }),
				gcRev("other-ns", gcRouting(api.RoutingStateReserve), func(r *api.Revision) { r.Namespace = "bar" }),
				nil,
				gcRev("mine", gcRouting(api.RoutingStateReserve)),
			},
			want: []string{"mine"},
		}, {
			name: "Knative's defaults keep 20 non-active revisions",
			gc:   api.DefaultGCConfig(), cfg: gcConfiguration("r-99"),
			revs: func() []*api.Revision {
				var out []*api.Revision
				for i := range 100 {
					state := api.RoutingStateReserve
					if i == 99 {
						state = api.RoutingStateActive
					}
					out = append(out, gcRev("r-"+gcTwoDigits(i), gcRouting(state), gcCreated(72*time.Hour), gcLastActive(time.Duration(100-i)*time.Hour)))
				}
				return out
			}(),
			// 99 non-active, min 20: the 79 least recently active stale ones go
			// (last active 15h ago or more: r-00 .. r-85 are stale, capped at 79).
			want: func() []string {
				var out []string
				for i := range 79 {
					out = append(out, "r-"+gcTwoDigits(i))
				}
				return out
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := make([]string, len(tt.revs))
			for i, r := range tt.revs {
				if r != nil {
					before[i] = r.Name
				}
			}
			got := CollectRevisions(tt.cfg, tt.revs, tt.gc, gcNow)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("CollectRevisions (-want +got):\n%s", diff)
			}
			for i, r := range tt.revs {
				if r != nil && r.Name != before[i] {
					t.Fatalf("CollectRevisions reordered its input: revs[%d] = %s, was %s", i, r.Name, before[i])
				}
			}
		})
	}
}

func gcTwoDigits(i int) string { return string([]byte{byte('0' + i/10), byte('0' + i%10)}) }

// TestIsRevisionStale holds Knative's TestIsRevisionStale vectors (5m, 5m)
// and the disabled limits.
func TestIsRevisionStale(t *testing.T) {
	five := gcConf(5*time.Minute, 5*time.Minute, 2, 1000)
	tests := []struct {
		name string
		gc   api.GCConfig
		rev  *api.Revision
		want bool
	}{
		{name: "stale create time", gc: five, rev: gcRev("r", gcCreated(10*time.Minute)), want: true},
		{name: "fresh create time", gc: five, rev: gcRev("r", gcCreated(0))},
		{name: "stale routingStateModified", gc: five, rev: gcRev("r", gcCreated(10*time.Minute), gcLastActive(10*time.Minute)), want: true},
		{name: "fresh routingStateModified", gc: five, rev: gcRev("r", gcCreated(10*time.Minute), gcLastActive(0))},
		{name: "exactly at the limits is stale", gc: five, rev: gcRev("r", gcCreated(5*time.Minute), gcLastActive(5*time.Minute)), want: true},
		{name: "both limits disabled", gc: gcConf(gcOff, gcOff, 0, 0), rev: gcRev("r", gcCreated(1000*time.Hour))},
		{name: "create limit disabled, old activity", gc: gcConf(gcOff, 5*time.Minute, 0, 0), rev: gcRev("r", gcCreated(time.Minute), gcLastActive(10*time.Minute)), want: true},
		{name: "active limit disabled, old creation", gc: gcConf(5*time.Minute, gcOff, 0, 0), rev: gcRev("r", gcCreated(10*time.Minute), gcLastActive(0)), want: true},
		{name: "active limit disabled, new creation", gc: gcConf(5*time.Minute, gcOff, 0, 0), rev: gcRev("r", gcCreated(time.Minute))},
		{name: "zero creation time counts as old", gc: five, rev: gcRev("r"), want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isRevisionStale(tt.gc, tt.rev, gcNow); got != tt.want {
				t.Errorf("isRevisionStale = %v, want %v", got, tt.want)
			}
		})
	}
}
