package podspec

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/gantry-dev/gantry/api"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// configError is the kubelet's CreateContainerConfigError.
func configError(format string, a ...any) *Error {
	return &Error{Reason: "CreateContainerConfigError", Message: fmt.Sprintf(format, a...)}
}

// secretNotFound and configMapNotFound use the API server's NotFound wording,
// which is what the kubelet reports.
func secretNotFound(name string) string    { return fmt.Sprintf("secret %q not found", name) }
func configMapNotFound(name string) string { return fmt.Sprintf("configmap %q not found", name) }

// SecretData is a Secret's data as the API server stores it: stringData
// merged over data, key by key.
func SecretData(s *api.Secret) map[string][]byte {
	out := make(map[string][]byte, len(s.Data)+len(s.StringData))
	for k, v := range s.Data {
		out[k] = v
	}
	for k, v := range s.StringData {
		out[k] = []byte(v)
	}
	return out
}

func isTrue(b *bool) bool { return b != nil && *b }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// resolveEnv applies envFrom then env, in order, expanding $(VAR) in values
// from the variables before them, as the kubelet's makeEnvironmentVariables.
func resolveEnv(rev *api.Revision, c *corev1.Container, pod Pod, lk Lookup) ([]EnvVar, error) {
	var env []EnvVar
	ns := rev.Namespace
	for _, from := range c.EnvFrom {
		var data map[string]string
		switch {
		case from.ConfigMapRef != nil:
			cm, ok := lk.ConfigMap(ns, from.ConfigMapRef.Name)
			if !ok {
				if isTrue(from.ConfigMapRef.Optional) {
					continue
				}
				return nil, configError("%s", configMapNotFound(from.ConfigMapRef.Name))
			}
			data = cm.Data
		case from.SecretRef != nil:
			s, ok := lk.Secret(ns, from.SecretRef.Name)
			if !ok {
				if isTrue(from.SecretRef.Optional) {
					continue
				}
				return nil, configError("%s", secretNotFound(from.SecretRef.Name))
			}
			data = map[string]string{}
			for k, v := range SecretData(s) {
				data[k] = string(v)
			}
		default:
			continue
		}
		// Sorted so the order is stable; a key that is no valid name is
		// skipped, as the kubelet skips it (with an event).
		for _, k := range sortedKeys(data) {
			name := from.Prefix + k
			if len(validation.IsEnvVarName(name)) > 0 {
				continue
			}
			env = setEnv(env, name, data[k])
		}
	}
	for _, e := range c.Env {
		if e.Value != "" || e.ValueFrom == nil {
			env = setEnv(env, e.Name, Expand(e.Value, EnvMap(env)))
			continue
		}
		v, ok, err := valueFrom(rev, c, e.ValueFrom, pod, lk)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue // an optional reference to something missing
		}
		env = setEnv(env, e.Name, v)
	}
	return env, nil
}

// valueFrom resolves one env valueFrom; ok is false when an optional
// reference is missing and the variable is left out.
func valueFrom(rev *api.Revision, c *corev1.Container, src *corev1.EnvVarSource, pod Pod, lk Lookup) (string, bool, error) {
	ns := rev.Namespace
	switch {
	case src.SecretKeyRef != nil:
		r := src.SecretKeyRef
		s, ok := lk.Secret(ns, r.Name)
		if !ok {
			if isTrue(r.Optional) {
				return "", false, nil
			}
			return "", false, configError("%s", secretNotFound(r.Name))
		}
		v, ok := SecretData(s)[r.Key]
		if !ok {
			if isTrue(r.Optional) {
				return "", false, nil
			}
			return "", false, configError("couldn't find key %s in Secret %s/%s", r.Key, ns, r.Name)
		}
		return string(v), true, nil
	case src.ConfigMapKeyRef != nil:
		r := src.ConfigMapKeyRef
		cm, ok := lk.ConfigMap(ns, r.Name)
		if !ok {
			if isTrue(r.Optional) {
				return "", false, nil
			}
			return "", false, configError("%s", configMapNotFound(r.Name))
		}
		v, ok := cm.Data[r.Key]
		if !ok {
			if isTrue(r.Optional) {
				return "", false, nil
			}
			return "", false, configError("couldn't find key %s in ConfigMap %s/%s", r.Key, ns, r.Name)
		}
		return v, true, nil
	case src.FieldRef != nil:
		v, err := fieldValue(src.FieldRef.FieldPath, pod, true)
		if err != nil {
			return "", false, configError("%v", err)
		}
		return v, true, nil
	case src.ResourceFieldRef != nil:
		v, err := resourceValue(rev, c, src.ResourceFieldRef, pod)
		if err != nil {
			return "", false, configError("%v", err)
		}
		return v, true, nil
	}
	return "", false, configError("valueFrom names no source")
}

// fieldValue is the downward API's value of a fieldRef. env allows the
// fields only env may name (spec.*, status.*); a volume allows whole label
// and annotation maps instead.
func fieldValue(path string, pod Pod, env bool) (string, error) {
	if base, key, ok := subscript(path); ok {
		switch base {
		case "metadata.labels":
			return pod.Labels[key], nil
		case "metadata.annotations":
			return pod.Annotations[key], nil
		}
		return "", fmt.Errorf("fieldRef %q: unsupported field path", path)
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		if pod.UID == "" {
			return "", fmt.Errorf("fieldRef %q: this runtime gives instances no uid", path)
		}
		return pod.UID, nil
	}
	if env {
		switch path {
		case "spec.nodeName":
			return pod.NodeName, nil
		case "spec.serviceAccountName":
			return pod.ServiceAccountName, nil
		case "status.podIP", "status.podIPs":
			return pod.IP, nil
		case "status.hostIP", "status.hostIPs":
			// One machine: the pod shares the host's address.
			return pod.IP, nil
		}
	} else {
		switch path {
		case "metadata.labels":
			return formatMap(pod.Labels), nil
		case "metadata.annotations":
			return formatMap(pod.Annotations), nil
		}
	}
	return "", fmt.Errorf("fieldRef %q: unsupported field path", path)
}

// subscript splits "metadata.labels['k']" into its map and key.
func subscript(path string) (string, string, bool) {
	if !strings.HasSuffix(path, "']") {
		return "", "", false
	}
	base, key, ok := strings.Cut(strings.TrimSuffix(path, "']"), "['")
	if !ok || base == "" {
		return "", "", false
	}
	return base, key, true
}

// formatMap is the downward API's rendering of labels and annotations:
// sorted key="value" lines.
func formatMap(m map[string]string) string {
	var b strings.Builder
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%v=%q", k, m[k])
	}
	return b.String()
}

// resourceValue is the downward API's value of a resourceFieldRef: a limit
// defaults to the node's capacity and a request to the limit, and the value
// is divided by the divisor and rounded up, as the kubelet does.
func resourceValue(rev *api.Revision, self *corev1.Container, r *corev1.ResourceFieldSelector, pod Pod) (string, error) {
	c := self
	if r.ContainerName != "" && r.ContainerName != self.Name {
		c = nil
		for i := range rev.Spec.Containers {
			if rev.Spec.Containers[i].Name == r.ContainerName {
				c = &rev.Spec.Containers[i]
			}
		}
		if c == nil {
			return "", fmt.Errorf("resourceFieldRef %s: no container %q", r.Resource, r.ContainerName)
		}
	}
	var name corev1.ResourceName
	var node resource.Quantity
	switch r.Resource {
	case "limits.cpu", "requests.cpu":
		name, node = corev1.ResourceCPU, *resource.NewMilliQuantity(pod.NodeMilliCPU, resource.DecimalSI)
	case "limits.memory", "requests.memory":
		name, node = corev1.ResourceMemory, *resource.NewQuantity(pod.NodeMemoryBytes, resource.BinarySI)
	default:
		return "", fmt.Errorf("resourceFieldRef %q: unsupported resource (limits.cpu, limits.memory, requests.cpu, requests.memory)", r.Resource)
	}
	cpu := name == corev1.ResourceCPU
	q, ok := c.Resources.Limits[name]
	if strings.HasPrefix(r.Resource, "limits.") {
		if !ok {
			q = node
		}
	} else if req, ok := c.Resources.Requests[name]; ok {
		q = req
	} // else the API server's default: the limit, or none (0)
	div := r.Divisor
	if div.IsZero() {
		div = resource.MustParse("1")
	}
	if div.Sign() < 0 {
		return "", fmt.Errorf("resourceFieldRef %s: divisor %s must be positive", r.Resource, div.String())
	}
	var v, d int64
	if cpu {
		v, d = q.MilliValue(), div.MilliValue()
	} else {
		v, d = q.Value(), div.Value()
	}
	if d <= 0 {
		return "", fmt.Errorf("resourceFieldRef %s: divisor %s must be positive", r.Resource, div.String())
	}
	return strconv.FormatInt(ceilDiv(v, d), 10), nil
}

func ceilDiv(a, b int64) int64 {
	if a <= 0 {
		return a / b
	}
	return (a-1)/b + 1
}
