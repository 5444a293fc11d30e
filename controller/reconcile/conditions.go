// Package reconcile holds Gantry's reconcilers as pure functions: from an
// object's spec and the observed state of what it owns, they compute the objects
// to create and the status to report. No I/O happens here, so the one-machine
// and Kubernetes runtimes share them and tests need no servers.
package reconcile

import (
	"time"

	"github.com/gantry-dev/gantry/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// setCondition sets a condition, keeping its transition time when its status is unchanged.
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

// GetCondition returns the condition of type t, or nil.
func GetCondition(conds []api.Condition, t api.ConditionType) *api.Condition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// IsTrue reports whether condition t is True.
func IsTrue(conds []api.Condition, t api.ConditionType) bool {
	c := GetCondition(conds, t)
	return c != nil && c.Status == corev1.ConditionTrue
}

// status of a condition, Unknown when missing.
func condStatus(conds []api.Condition, t api.ConditionType) (corev1.ConditionStatus, string, string) {
	c := GetCondition(conds, t)
	if c == nil {
		return corev1.ConditionUnknown, "", ""
	}
	return c.Status, c.Reason, c.Message
}

// ready sets Ready from the given dependent conditions: False if any is False,
// Unknown if any is Unknown, True otherwise. Reason and message come from the first non-True one.
func ready(conds []api.Condition, now time.Time, deps ...api.ConditionType) []api.Condition {
	st, reason, msg := corev1.ConditionTrue, "", ""
	for _, d := range deps {
		s, r, m := condStatus(conds, d)
		if s == corev1.ConditionFalse {
			st, reason, msg = s, r, m
			break
		}
		if s == corev1.ConditionUnknown && st == corev1.ConditionTrue {
			st, reason, msg = s, r, m
		}
	}
	return setCondition(conds, now, api.ConditionReady, st, reason, msg)
}
