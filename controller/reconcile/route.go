package reconcile

import (
	"fmt"
	"strconv"
	"time"

	"github.com/gantry-dev/gantry/api"
	corev1 "k8s.io/api/core/v1"
)

// Hosts names the hosts of routes and tags (api.Config implements it).
type Hosts interface {
	RouteHost(name, namespace string, labels map[string]string) (string, error)
	TagHost(tag, name, namespace string, labels map[string]string) (string, error)
}

// RouteInputs is the observed state a route resolves against.
type RouteInputs struct {
	Configurations map[string]*api.Configuration // by name, in the route's namespace
	Revisions      map[string]*api.Revision      // by name, in the route's namespace
	Hosts          Hosts
	Scheme         string // "http"
	Port           int    // the gateway's port; omitted from URLs when it is the scheme's default
}

// RouteStatus resolves a route's traffic targets to revisions and names its URLs.
// When a target cannot be resolved the route keeps its last good traffic and
// reports which target failed.
func RouteStatus(route *api.Route, in RouteInputs, now time.Time) api.RouteStatus {
	st := *route.Status.DeepCopy()
	st.ObservedGeneration = route.Generation

	host, err := in.Hosts.RouteHost(route.Name, route.Namespace, route.Labels)
	if err != nil {
		st.Conditions = setCondition(st.Conditions, now, api.ConditionAllTrafficAssigned, corev1.ConditionFalse, "DomainTemplateError", err.Error())
		st.Conditions = ready(st.Conditions, now, api.ConditionAllTrafficAssigned)
		return st
	}
	st.URL = in.url(host)
	st.Address = &api.Addressable{URL: st.URL}

	var traffic []api.TrafficTarget
	// A missing or failed target makes the route False at once; targets
	// that are only not ready yet make it Unknown (Knative's order).
	var failReason, failMsg, waitReason, waitMsg string
	for _, t := range route.Spec.Traffic {
		rt := api.TrafficTarget{Tag: t.Tag, Percent: t.Percent, LatestRevision: t.LatestRevision}
		if rt.Percent == nil {
			var z int64
			rt.Percent = &z
		}
		switch {
		case t.RevisionName != "":
			rev, ok := in.Revisions[t.RevisionName]
			if !ok {
				failReason, failMsg = "RevisionMissing", fmt.Sprintf("Revision %q referenced in traffic not found.", t.RevisionName)
			} else if s, _, m := condStatus(rev.Status.Conditions, api.ConditionReady); s == corev1.ConditionFalse {
				failReason, failMsg = "RevisionMissing", fmt.Sprintf("Revision %q failed with message: %s.", t.RevisionName, m)
			} else if s != corev1.ConditionTrue {
				waitReason, waitMsg = "RevisionMissing", fmt.Sprintf("Revision %q is not ready yet.", t.RevisionName)
			}
			rt.RevisionName = t.RevisionName
			if rt.LatestRevision == nil {
				f := false
				rt.LatestRevision = &f
			}
		case t.ConfigurationName != "":
			cfg, ok := in.Configurations[t.ConfigurationName]
			if !ok {
				failReason, failMsg = "ConfigurationMissing", fmt.Sprintf("Configuration %q referenced in traffic not found.", t.ConfigurationName)
			} else if cfg.Status.LatestReadyRevisionName == "" {
				msg := fmt.Sprintf("Configuration %q does not have any ready Revision.", t.ConfigurationName)
				if IsFalse(cfg.Status.Conditions, api.ConditionReady) {
					failReason, failMsg = "RevisionMissing", msg
				} else {
					waitReason, waitMsg = "RevisionMissing", msg
				}
			}
			if cfg != nil {
				rt.RevisionName = cfg.Status.LatestReadyRevisionName
			}
			tr := true
			rt.LatestRevision = &tr
		}
		if t.Tag != "" {
			th, err := in.Hosts.TagHost(t.Tag, route.Name, route.Namespace, route.Labels)
			if err != nil {
				failReason, failMsg = "DomainTemplateError", err.Error()
			}
			rt.URL = in.url(th)
		}
		traffic = append(traffic, rt)
	}
	unknown := false
	if failReason == "" && waitReason != "" {
		failReason, failMsg, unknown = waitReason, waitMsg, true
	}
	if failReason == "" {
		st.Traffic = traffic
		st.Conditions = setCondition(st.Conditions, now, api.ConditionAllTrafficAssigned, corev1.ConditionTrue, "", "")
		st.Conditions = setCondition(st.Conditions, now, api.ConditionIngressReady, corev1.ConditionTrue, "", "")
	} else {
		s := corev1.ConditionFalse
		if unknown {
			s = corev1.ConditionUnknown
		}
		st.Conditions = setCondition(st.Conditions, now, api.ConditionAllTrafficAssigned, s, failReason, failMsg)
	}
	st.Conditions = ready(st.Conditions, now, api.ConditionAllTrafficAssigned, api.ConditionIngressReady)
	return st
}

// IsFalse reports whether condition t is False.
func IsFalse(conds []api.Condition, t api.ConditionType) bool {
	c := GetCondition(conds, t)
	return c != nil && c.Status == corev1.ConditionFalse
}

func (in RouteInputs) url(host string) string {
	scheme := in.Scheme
	if scheme == "" {
		scheme = "http"
	}
	if in.Port == 0 || (scheme == "http" && in.Port == 80) || (scheme == "https" && in.Port == 443) {
		return scheme + "://" + host
	}
	return scheme + "://" + host + ":" + strconv.Itoa(in.Port)
}

// RoutedRevisions returns the names of the revisions a route's status sends
// traffic to (any percent, or a tag).
func RoutedRevisions(route *api.Route) map[string]bool {
	out := map[string]bool{}
	for _, t := range route.Status.Traffic {
		if t.RevisionName != "" && ((t.Percent != nil && *t.Percent > 0) || t.Tag != "") {
			out[t.RevisionName] = true
		}
	}
	return out
}
