package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gantry-dev/gantry/api"
	corev1 "k8s.io/api/core/v1"
)

// latestRef names the latest ready revision in --tag and --traffic, as in kn.
const latestRef = "@latest"

// splitKV parses NAME=value, or NAME- (remove) when allowRemove.
func splitKV(flag, s string, allowRemove bool) (key, value string, remove bool, err error) {
	if allowRemove && strings.HasSuffix(s, "-") && !strings.Contains(s, "=") {
		if key = strings.TrimSuffix(s, "-"); key != "" {
			return key, "", true, nil
		}
	}
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		hint := ""
		if allowRemove {
			hint = ` (or NAME- to remove)`
		}
		return "", "", false, usageError{fmt.Sprintf("invalid --%s %q: want NAME=value%s", flag, s, hint)}
	}
	return k, v, false, nil
}

// setEnv applies --env NAME=value and NAME- to a container's environment,
// keeping the order of what stays.
func setEnv(env []corev1.EnvVar, flags []string) ([]corev1.EnvVar, error) {
	for _, f := range flags {
		k, v, remove, err := splitKV("env", f, true)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(env, func(e corev1.EnvVar) bool { return e.Name == k })
		switch {
		case remove && i >= 0:
			env = slices.Delete(env, i, i+1)
		case remove:
		case i >= 0:
			env[i] = corev1.EnvVar{Name: k, Value: v}
		default:
			env = append(env, corev1.EnvVar{Name: k, Value: v})
		}
	}
	return env, nil
}

// setMap applies NAME=value and NAME- flags to a map (labels, annotations).
func setMap(m map[string]string, flag string, flags []string) (map[string]string, error) {
	for _, f := range flags {
		k, v, remove, err := splitKV(flag, f, true)
		if err != nil {
			return nil, err
		}
		if remove {
			delete(m, k)
			continue
		}
		if m == nil {
			m = map[string]string{}
		}
		m[k] = v
	}
	return m, nil
}

// parsePort parses --port PORT or NAME:PORT (NAME: http1 or h2c).
func parsePort(s string) (corev1.ContainerPort, error) {
	name, num, ok := strings.Cut(s, ":")
	if !ok {
		name, num = "", s
	}
	n, err := strconv.ParseInt(num, 10, 32)
	if err != nil || n < 1 || n > 65535 {
		return corev1.ContainerPort{}, usageError{fmt.Sprintf("invalid --port %q: want PORT or NAME:PORT, PORT in 1..65535 (e.g. 8080, h2c:8080)", s)}
	}
	return corev1.ContainerPort{Name: name, ContainerPort: int32(n)}, nil
}

// trafficFlags are --tag, --untag and --traffic of service create/update.
type trafficFlags struct {
	tags, untags, traffic []string
	trafficSet            bool
}

func (f trafficFlags) empty() bool {
	return len(f.tags) == 0 && len(f.untags) == 0 && len(f.traffic) == 0
}

// computeTraffic applies the flags to a Service's traffic block by kn's rules:
// untag first, then tag (REV=TAG, @latest=TAG; a tag already on another
// target is refused), then, when --traffic is given, it is the whole split
// (REF=PERCENT with REF a revision, a tag or @latest; a split under 100
// gives the rest to the one serving target it leaves out, or to @latest when
// mutation says the update makes a new revision). Targets left with no
// tag and 0% are dropped. A split that does not sum to 100 is left for the
// API to refuse with Knative's wording.
func computeTraffic(service string, current []api.TrafficTarget, f trafficFlags, mutation bool) ([]api.TrafficTarget, error) {
	ts := slices.Clone(current)
	if len(ts) == 0 {
		ts = []api.TrafficTarget{{LatestRevision: new(true), Percent: new(int64(100))}}
	}
	isLatest := func(t api.TrafficTarget) bool { return t.LatestRevision != nil && *t.LatestRevision }
	var missing []string
	for _, tag := range f.untags {
		i := slices.IndexFunc(ts, func(t api.TrafficTarget) bool { return t.Tag == tag })
		if i < 0 {
			missing = append(missing, tag)
			continue
		}
		ts[i].Tag = ""
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("tag(s) %s not present for any revisions of service %s", strings.Join(missing, ", "), service)
	}
	latestTagged := false
	for _, each := range f.tags {
		rev, tag, ok := strings.Cut(each, "=")
		if !ok || rev == "" || tag == "" {
			return nil, usageError{fmt.Sprintf("invalid --tag %q: want REVISION=TAG or @latest=TAG", each)}
		}
		if rev == latestRef {
			if latestTagged {
				return nil, usageError{"repetition of identifier @latest is not allowed, use only once with --tag flag"}
			}
			latestTagged = true
		}
		if i := slices.IndexFunc(ts, func(t api.TrafficTarget) bool { return t.Tag == tag }); i >= 0 {
			if (rev == latestRef && isLatest(ts[i])) || (rev != latestRef && ts[i].RevisionName == rev && !isLatest(ts[i])) {
				continue // already so
			}
			return nil, fmt.Errorf("refusing to overwrite existing tag in service, add flag '--untag %s' in command to untag it", tag)
		}
		match := func(t api.TrafficTarget) bool {
			if rev == latestRef {
				return isLatest(t)
			}
			return !isLatest(t) && t.RevisionName == rev
		}
		if i := slices.IndexFunc(ts, func(t api.TrafficTarget) bool { return match(t) && t.Tag == "" }); i >= 0 {
			ts[i].Tag = tag
			continue
		}
		if i := slices.IndexFunc(ts, match); i >= 0 && rev == latestRef {
			return nil, fmt.Errorf("tag '%s' exists on latest ready revision of service, refusing to overwrite existing tag with '%s', add flag '--untag %s' in command to untag it", ts[i].Tag, tag, ts[i].Tag)
		}
		t := api.TrafficTarget{Tag: tag, Percent: new(int64(0))}
		if rev == latestRef {
			t.LatestRevision = new(true)
		} else {
			t.RevisionName, t.LatestRevision = rev, new(false)
		}
		ts = append(ts, t)
	}
	if f.trafficSet {
		seen := map[string]bool{}
		type share struct {
			ref string
			pct int64
		}
		var shares []share
		sum := int64(0)
		for _, each := range f.traffic {
			ref, pct, ok := strings.Cut(each, "=")
			if !ok {
				ref, pct = latestRef, each
			}
			if ref == "" || pct == "" {
				return nil, usageError{fmt.Sprintf("invalid --traffic %q: want REVISION=PERCENT, TAG=PERCENT or @latest=PERCENT", each)}
			}
			if seen[ref] {
				what := "revision reference " + ref
				if ref == latestRef {
					what = "identifier " + latestRef
				}
				return nil, usageError{fmt.Sprintf("repetition of %s is not allowed, use only once with --traffic flag", what)}
			}
			seen[ref] = true
			n, err := strconv.ParseInt(strings.TrimSuffix(pct, "%"), 10, 64)
			if err != nil {
				return nil, usageError{fmt.Sprintf("error converting given %s to integer value for traffic distribution", pct)}
			}
			if n < 0 || n > 100 {
				return nil, usageError{fmt.Sprintf("invalid value for traffic percent %d, expected 0 <= percent <= 100", n)}
			}
			sum += n
			shares = append(shares, share{ref, n})
		}
		if sum > 100 {
			return nil, usageError{fmt.Sprintf("given traffic percents sum to %d, want <=100", sum)}
		}
		if sum < 100 && len(shares) > 0 {
			// As kn: the rest goes to the one target left out, or to @latest
			// when the update creates a revision. Otherwise the API refuses
			// the split with Knative's "Traffic targets sum to N, want 100".
			if mutation && !seen[latestRef] {
				shares = append(shares, share{latestRef, 100 - sum})
			} else if ref, ok := onlyOmitted(current, seen); ok {
				shares = append(shares, share{ref, 100 - sum})
			}
		}
		for i := range ts {
			ts[i].Percent = new(int64(0))
		}
		for _, s := range shares {
			var i int
			switch {
			case s.ref == latestRef:
				i = slices.IndexFunc(ts, isLatest)
			default:
				if i = slices.IndexFunc(ts, func(t api.TrafficTarget) bool { return t.Tag == s.ref }); i < 0 {
					i = slices.IndexFunc(ts, func(t api.TrafficTarget) bool { return !isLatest(t) && t.RevisionName == s.ref })
				}
			}
			if i < 0 {
				t := api.TrafficTarget{}
				if s.ref == latestRef {
					t.LatestRevision = new(true)
				} else {
					t.RevisionName, t.LatestRevision = s.ref, new(false)
				}
				ts = append(ts, t)
				i = len(ts) - 1
			}
			ts[i].Percent = new(s.pct)
		}
	}
	var out []api.TrafficTarget
	for _, t := range ts {
		t.URL = ""
		if t.Tag != "" || (t.Percent != nil && *t.Percent != 0) {
			out = append(out, t)
		}
	}
	return out, nil
}

// onlyOmitted is the reference of the one target of current that serves
// traffic and that no --traffic reference names.
func onlyOmitted(current []api.TrafficTarget, named map[string]bool) (string, bool) {
	var left []string
	for _, t := range current {
		if t.Percent == nil || *t.Percent == 0 {
			continue
		}
		latest := t.LatestRevision != nil && *t.LatestRevision
		if (latest && named[latestRef]) || (!latest && named[t.RevisionName]) || (t.Tag != "" && named[t.Tag]) {
			continue
		}
		ref := t.RevisionName
		if latest {
			ref = latestRef
		}
		left = append(left, ref)
	}
	if len(left) != 1 {
		return "", false
	}
	return left[0], true
}
