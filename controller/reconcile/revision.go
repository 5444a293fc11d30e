package reconcile

import (
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
	st.ContainerStatuses = nil
	for _, c := range rev.Spec.Containers {
		st.ContainerStatuses = append(st.ContainerStatuses, api.ContainerStatus{Name: c.Name, ImageDigest: c.Image})
	}
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
		*c = setCondition(*c, now, api.ConditionResourcesAvailable, corev1.ConditionUnknown, "Deploying", "")
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
