package reconcile

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/gantry-dev/gantry/api"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RevisionName is the name of the revision for cfg's current generation: the
// template's own name when set, else {configuration}-{generation:05d}.
func RevisionName(cfg *api.Configuration) string {
	if n := cfg.Spec.Template.Name; n != "" {
		return n
	}
	return fmt.Sprintf("%s-%05d", cfg.Name, cfg.Generation)
}

// NewRevision returns the Revision to create for cfg's current generation.
func NewRevision(cfg *api.Configuration, now time.Time) *api.Revision {
	rev := &api.Revision{}
	rev.SetGroupVersionKind(api.GroupVersionKind(api.KindRevision))
	rev.Name, rev.Namespace = RevisionName(cfg), cfg.Namespace
	rev.Labels = copyMap(cfg.Spec.Template.Labels)
	if rev.Labels == nil {
		rev.Labels = map[string]string{}
	}
	rev.Labels[api.LabelConfiguration] = cfg.Name
	rev.Labels[api.LabelConfigurationGen] = strconv.FormatInt(cfg.Generation, 10)
	if s := cfg.Labels[api.LabelService]; s != "" {
		rev.Labels[api.LabelService] = s
	}
	rev.Labels[api.LabelRoutingState] = api.RoutingStatePending
	rev.Annotations = copyMap(cfg.Spec.Template.Annotations)
	if rev.Annotations == nil {
		rev.Annotations = map[string]string{}
	}
	rev.Annotations[api.AnnotationRoutingModified] = now.UTC().Format(time.RFC3339)
	rev.OwnerReferences = []metav1.OwnerReference{OwnerRef(cfg)}
	rev.Spec = *cfg.Spec.Template.Spec.DeepCopy()
	return rev
}

// ConfigurationResult is what reconciling a Configuration decides.
type ConfigurationResult struct {
	Status api.ConfigurationStatus
	// Create is the revision to create for the current generation, if missing.
	Create *api.Revision
}

// Configuration reconciles cfg against its revisions (those labelled with its name).
func Configuration(cfg *api.Configuration, revs []*api.Revision, now time.Time) ConfigurationResult {
	var res ConfigurationResult
	st := *cfg.Status.DeepCopy()
	st.ObservedGeneration = cfg.Generation
	name := RevisionName(cfg)

	var current *api.Revision
	for _, r := range revs {
		if r.Name == name {
			current = r
		}
	}
	if current != nil && !ownedBy(current, cfg) {
		st.Conditions = setCondition(st.Conditions, now, api.ConditionReady, corev1.ConditionFalse, "NotOwned",
			fmt.Sprintf("There is an existing Revision %q that we do not own.", name))
		res.Status = st
		return res
	}
	if current != nil && current.Labels[api.LabelConfigurationGen] != strconv.FormatInt(cfg.Generation, 10) &&
		!equality.Semantic.DeepEqual(current.Spec, cfg.Spec.Template.Spec) {
		// A template change that kept the template's own revision name.
		st.Conditions = setCondition(st.Conditions, now, api.ConditionReady, corev1.ConditionFalse, "RevisionFailed",
			fmt.Sprintf("Revision %q already exists with a different spec: give spec.template.metadata.name a new name (or remove it) when changing the template.", name))
		res.Status = st
		return res
	}
	if current == nil {
		current = NewRevision(cfg, now)
		res.Create = current
	}
	st.LatestCreatedRevisionName = current.Name

	// The latest ready revision is the ready one of the newest generation.
	sorted := append([]*api.Revision(nil), revs...)
	sort.Slice(sorted, func(i, j int) bool { return revGeneration(sorted[i]) > revGeneration(sorted[j]) })
	for _, r := range sorted {
		if IsTrue(r.Status.Conditions, api.ConditionReady) && revGeneration(r) <= revGeneration(current) {
			st.LatestReadyRevisionName = r.Name
			break
		}
	}

	s, reason, msg := condStatus(current.Status.Conditions, api.ConditionReady)
	switch s {
	case corev1.ConditionTrue:
		st.Conditions = setCondition(st.Conditions, now, api.ConditionReady, corev1.ConditionTrue, "", "")
	case corev1.ConditionFalse:
		st.Conditions = setCondition(st.Conditions, now, api.ConditionReady, corev1.ConditionFalse, "RevisionFailed",
			fmt.Sprintf("Revision %q failed with message: %s.", current.Name, msgOr(msg, reason)))
	default:
		st.Conditions = setCondition(st.Conditions, now, api.ConditionReady, corev1.ConditionUnknown, "", "")
	}
	res.Status = st
	return res
}

func msgOr(msg, reason string) string {
	if msg != "" {
		return msg
	}
	return reason
}

func ownedBy(obj api.Object, owner api.Object) bool {
	for _, o := range obj.GetOwnerReferences() {
		if o.UID == owner.GetUID() || (o.Kind == api.KindOf(owner) && o.Name == owner.GetName() && o.UID == "") {
			return true
		}
	}
	return false
}

func revGeneration(r *api.Revision) int64 {
	n, _ := strconv.ParseInt(r.Labels[api.LabelConfigurationGen], 10, 64)
	return n
}
