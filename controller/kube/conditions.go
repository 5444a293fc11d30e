package kube

import (
	"time"

	"github.com/gantry-dev/gantry/api"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
)

// Reasons the Kubernetes runtime adds to the reconcilers' conditions.
const (
	// ReasonValidationFailed: the object does not pass Knative's validation
	// (the message is Knative's, with the field path).
	ReasonValidationFailed = "ValidationFailed"
	// ReasonNotOwned: an object Gantry would create exists and is not Gantry's.
	ReasonNotOwned = "NotOwned"
)

// setCondition sets condition t, keeping the transition time when its status
// is unchanged (as the pure reconcilers do).
func setCondition(conds []api.Condition, now time.Time, t api.ConditionType, st corev1.ConditionStatus, reason, msg string) []api.Condition {
	c := api.Condition{Type: t, Status: st, Reason: reason, Message: msg, LastTransitionTime: metav1.NewTime(now.UTC().Truncate(time.Second))}
	for i := range conds {
		if conds[i].Type == t {
			if conds[i].Status == st {
				c.LastTransitionTime = conds[i].LastTransitionTime
			}
			conds[i] = c
			return conds
		}
	}
	return append(conds, c)
}

// requeueOnConflict turns an update conflict (someone wrote the object since
// the cache saw it) into a quiet, rate-limited retry.
func requeueOnConflict(err error) (ctrl.Result, error) {
	if apierrors.IsConflict(err) {
		return ctrl.Result{Requeue: true}, nil
	}
	return ctrl.Result{}, err
}
