package reconcile

import (
	"strings"
	"time"

	"github.com/gantry-dev/gantry/api"
	corev1 "k8s.io/api/core/v1"
)

// Observed is what a runtime reports about a revision's instances.
type Observed struct {
	Desired int // instances the runtime was asked to run
	Ready   int // instances passing their readiness probe
	// Failed is set when instances cannot start or keep crashing before
	// becoming ready; Reason and Message say why (e.g. ExitCode1, ExecFailed).
	Failed          bool
	Reason, Message string
	LogURL          string
	// ImageDigest is the serving container's image as resolved (repo@sha256:...).
	ImageDigest string
	// Progress says what a revision with no ready instance is doing (pulling).
	Progress string
	// Notes are parts of the podspec the runtime honours differently than
	// Kubernetes would; shown, never silent.
	Notes []string
	// Runtime names the backend that runs the revision (process, docker).
	Runtime string
}

// RevisionStatus derives a revision's status from its observed instances.
// A revision that has been ready stays Ready when scaled to zero; Active says
// whether it has instances.
func RevisionStatus(rev *api.Revision, obs Observed, now time.Time) api.RevisionStatus {
	st := *rev.Status.DeepCopy()
	st.ObservedGeneration = rev.Generation
	st.LogURL = obs.LogURL
	desired, actual := int32(obs.Desired), int32(obs.Ready)
	st.DesiredReplicas, st.ActualReplicas = &desired, &actual
	st.ContainerStatuses = containerStatuses(rev, obs.ImageDigest)
	setNotes(&st, obs)
	wasReady := IsTrue(st.Conditions, api.ConditionReady)
	c := &st.Conditions
	switch {
	case obs.Ready > 0:
		*c = setCondition(*c, now, api.ConditionResourcesAvailable, corev1.ConditionTrue, "", "")
		*c = setCondition(*c, now, api.ConditionContainerHealthy, corev1.ConditionTrue, "", "")
	case obs.Failed:
		*c = setCondition(*c, now, api.ConditionContainerHealthy, corev1.ConditionFalse, obs.Reason, obs.Message)
		if !wasReady {
			*c = setCondition(*c, now, api.ConditionResourcesAvailable, corev1.ConditionFalse, obs.Reason, obs.Message)
		}
	case wasReady:
		// Scaled down or restarting after having served: keep Ready.
	case obs.Desired == 0:
		msg := "The revision was superseded before it became ready; it starts when traffic is routed to it."
		*c = setCondition(*c, now, api.ConditionResourcesAvailable, corev1.ConditionUnknown, "NoTraffic", msg)
		*c = setCondition(*c, now, api.ConditionContainerHealthy, corev1.ConditionUnknown, "NoTraffic", msg)
	default:
		*c = setCondition(*c, now, api.ConditionResourcesAvailable, corev1.ConditionUnknown, "Deploying", obs.Progress)
		*c = setCondition(*c, now, api.ConditionContainerHealthy, corev1.ConditionUnknown, "Deploying", "")
	}
	if obs.Ready > 0 {
		*c = setCondition(*c, now, api.ConditionActive, corev1.ConditionTrue, "", "")
	} else if obs.Desired == 0 {
		*c = setCondition(*c, now, api.ConditionActive, corev1.ConditionFalse, "NoTraffic", "The target is not receiving traffic.")
	} else {
		*c = setCondition(*c, now, api.ConditionActive, corev1.ConditionUnknown, "Activating", "")
	}
	*c = ready(*c, now, api.ConditionResourcesAvailable, api.ConditionContainerHealthy)
	return st
}

// containerStatuses names each container's image: the digest the runtime
// resolved for the serving container, kept once known so every instance runs
// the same one, as Knative's tag-to-digest resolution does.
func containerStatuses(rev *api.Revision, resolved string) []api.ContainerStatus {
	old := map[string]string{}
	for _, s := range rev.Status.ContainerStatuses {
		old[s.Name] = s.ImageDigest
	}
	var out []api.ContainerStatus
	for i, c := range rev.Spec.Containers {
		d := c.Image
		switch {
		case IsDigest(old[c.Name]):
			d = old[c.Name]
		case resolved != "" && (len(rev.Spec.Containers) == 1 || len(c.Ports) > 0 || (i == 0 && !anyPorts(rev))):
			d = resolved
		}
		out = append(out, api.ContainerStatus{Name: c.Name, ImageDigest: d})
	}
	return out
}

func anyPorts(rev *api.Revision) bool {
	for _, c := range rev.Spec.Containers {
		if len(c.Ports) > 0 {
			return true
		}
	}
	return false
}

// IsDigest reports whether image names a digest (repo@sha256:...).
func IsDigest(image string) bool { return strings.Contains(image, "@sha256:") }

// Status annotations naming how the revision ran on this machine.
const (
	AnnotationRuntime      = "serving.gantry.dev/runtime"
	AnnotationRuntimeNotes = "serving.gantry.dev/runtime-notes"
)

// setNotes records the runtime and what it honours differently than
// Kubernetes would; nothing of the podspec is dropped silently.
func setNotes(st *api.RevisionStatus, obs Observed) {
	if obs.Runtime == "" && len(obs.Notes) == 0 {
		return
	}
	if st.Annotations == nil {
		st.Annotations = map[string]string{}
	}
	if obs.Runtime != "" {
		st.Annotations[AnnotationRuntime] = obs.Runtime
	}
	if len(obs.Notes) > 0 {
		st.Annotations[AnnotationRuntimeNotes] = strings.Join(obs.Notes, "; ")
	} else {
		delete(st.Annotations, AnnotationRuntimeNotes)
	}
}
