package reconcile

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/gantry-dev/gantry/api"
)

// CollectRevisions returns the names of the revisions of cfg that revision GC
// deletes now, in deletion order, following Knative's rules (config-gc):
//
//   - a revision is active, and never collected, when it is cfg's latest
//     ready revision, carries serving.knative.dev/no-gc: "true", or has a
//     routingState label other than "reserve" (active, pending or unset);
//   - with more than MinNonActiveRevisions non-active revisions, the stale
//     ones go first, least recently active first, until min remain;
//   - then, if more than MaxNonActiveRevisions remain, the least recently
//     active of them go too.
//
// A revision is stale when it is older than RetainSinceCreateTime and last
// active longer than RetainSinceLastActiveTime ago; a disabled limit does not
// keep it, and with both disabled nothing is stale. Last active is the
// serving.knative.dev/routingStateModified annotation (RFC 3339), else the
// creation time. Only revisions labelled with cfg's name (in cfg's namespace)
// count, as Knative lists them by label; revs is not modified.
func CollectRevisions(cfg *api.Configuration, revs []*api.Revision, gc api.GCConfig, now time.Time) []string {
	disabled := time.Duration(api.GCDisabled)
	if gc.MaxNonActiveRevisions == api.GCDisabled && gc.RetainSinceCreateTime == disabled && gc.RetainSinceLastActiveTime == disabled {
		return nil
	}
	var owned []*api.Revision
	for _, r := range revs {
		if r != nil && r.Labels[api.LabelConfiguration] == cfg.Name && r.Namespace == cfg.Namespace {
			owned = append(owned, r)
		}
	}
	keep := int(gc.MinNonActiveRevisions)
	if len(owned) <= keep {
		return nil
	}

	var candidates []*api.Revision
	for _, r := range owned {
		if !isRevisionActive(r, cfg) {
			candidates = append(candidates, r)
		}
	}
	if len(candidates) <= keep {
		return nil
	}
	// Least recently active first. Knative leaves ties unordered; creation
	// time, then name, make the choice deterministic.
	slices.SortStableFunc(candidates, func(a, b *api.Revision) int {
		return cmp.Or(
			revisionLastActive(a).Compare(revisionLastActive(b)),
			a.CreationTimestamp.Time.Compare(b.CreationTimestamp.Time),
			strings.Compare(a.Name, b.Name),
		)
	})

	var deleted []string
	maxDeletes := len(candidates) - keep
	remaining := candidates[:0:0]
	for _, r := range candidates {
		if len(deleted) < maxDeletes && isRevisionStale(gc, r, now) {
			deleted = append(deleted, r.Name)
			continue
		}
		remaining = append(remaining, r)
	}
	if len(deleted) >= maxDeletes || gc.MaxNonActiveRevisions == api.GCDisabled {
		return deleted
	}
	over := len(remaining) - int(gc.MaxNonActiveRevisions)
	for i := 0; i < over; i++ {
		deleted = append(deleted, remaining[i].Name)
	}
	return deleted
}

// isRevisionActive reports whether rev is exempt from GC: cfg's latest ready
// revision, preserved by the no-gc annotation, or not labelled reserve.
func isRevisionActive(rev *api.Revision, cfg *api.Configuration) bool {
	switch {
	case cfg.Status.LatestReadyRevisionName == rev.Name:
		return true
	case strings.EqualFold(rev.Annotations[api.AnnotationNoGC], "true"):
		return true
	}
	return rev.Labels[api.LabelRoutingState] != api.RoutingStateReserve
}

// isRevisionStale reports whether rev is old enough to collect: created at
// least RetainSinceCreateTime ago and last active at least
// RetainSinceLastActiveTime ago, ignoring a disabled limit.
func isRevisionStale(gc api.GCConfig, rev *api.Revision, now time.Time) bool {
	disabled := time.Duration(api.GCDisabled)
	sinceCreate, sinceActive := gc.RetainSinceCreateTime, gc.RetainSinceLastActiveTime
	if sinceCreate == disabled && sinceActive == disabled {
		return false
	}
	if sinceCreate != disabled && now.Sub(rev.CreationTimestamp.Time) < sinceCreate {
		return false
	}
	if sinceActive != disabled && now.Sub(revisionLastActive(rev)) < sinceActive {
		return false
	}
	return true
}

// revisionLastActive is when rev's routing state last changed (the
// routingStateModified annotation), else its creation time.
func revisionLastActive(rev *api.Revision) time.Time {
	if v := rev.Annotations[api.AnnotationRoutingModified]; v != "" {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t
		}
	}
	return rev.CreationTimestamp.Time
}
