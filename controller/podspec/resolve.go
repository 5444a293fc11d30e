package podspec

import (
	"strconv"
	"strings"

	"github.com/gantry-dev/gantry/api"
	corev1 "k8s.io/api/core/v1"
)

// ServingContainer is the container that receives requests: the one with a
// port, or the only one.
func ServingContainer(spec *api.RevisionSpec) (*corev1.Container, error) {
	if len(spec.Containers) == 0 {
		return nil, &Error{Reason: "NoContainer", Message: "the revision has no containers"}
	}
	if len(spec.Containers) == 1 {
		return &spec.Containers[0], nil
	}
	for i := range spec.Containers {
		if len(spec.Containers[i].Ports) > 0 {
			return &spec.Containers[i], nil
		}
	}
	return &spec.Containers[0], nil
}

// DeclaredPort is the serving container's port in the manifest, or 0.
func DeclaredPort(rev *api.Revision) int32 {
	c, err := ServingContainer(&rev.Spec)
	if err != nil || len(c.Ports) == 0 {
		return 0
	}
	return c.Ports[0].ContainerPort
}

// Resolve resolves rev's serving container. port is the value of $PORT (the
// container port in a container, a free host port for a host process).
func Resolve(rev *api.Revision, port int, pod Pod, lk Lookup) (*Container, error) {
	c, err := ServingContainer(&rev.Spec)
	if err != nil {
		return nil, err
	}
	out := &Container{Name: c.Name, Image: c.Image, WorkingDir: c.WorkingDir, Port: port,
		ReadinessProbe: c.ReadinessProbe, LivenessProbe: c.LivenessProbe, StartupProbe: c.StartupProbe,
		ImagePullPolicy: PullPolicy(c)}
	for _, p := range c.Ports {
		if p.Name == "h2c" {
			out.H2C = true
		}
	}
	if len(c.Ports) > 0 {
		out.DeclaredPort = c.Ports[0].ContainerPort
	}
	env, err := resolveEnv(rev, c, pod, lk)
	if err != nil {
		return nil, err
	}
	env = setEnv(env, "PORT", strconv.Itoa(port))
	env = setEnv(env, "K_SERVICE", rev.Labels[api.LabelService])
	env = setEnv(env, "K_CONFIGURATION", rev.Labels[api.LabelConfiguration])
	env = setEnv(env, "K_REVISION", rev.Name)
	out.Env = env
	m := EnvMap(env)
	for _, a := range c.Command {
		out.Command = append(out.Command, Expand(a, m))
	}
	for _, a := range c.Args {
		out.Args = append(out.Args, Expand(a, m))
	}
	if err := resolveVolumes(rev, c, out, pod, lk); err != nil {
		return nil, err
	}
	resolveSecurity(rev, c, out)
	out.Limits = resources(c.Resources.Limits)
	out.Requests = resources(c.Resources.Requests)
	return out, nil
}

// PullPolicy is the container's imagePullPolicy, defaulted as Kubernetes
// does: Always for :latest or no tag, IfNotPresent otherwise (a digest too).
func PullPolicy(c *corev1.Container) corev1.PullPolicy {
	if c.ImagePullPolicy != "" {
		return c.ImagePullPolicy
	}
	img := c.Image
	if strings.Contains(img, "@") {
		return corev1.PullIfNotPresent
	}
	slash := strings.LastIndexByte(img, '/')
	tag := ""
	if i := strings.LastIndexByte(img, ':'); i > slash {
		tag = img[i+1:]
	}
	if tag == "" || tag == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

func resources(l corev1.ResourceList) Resources {
	var r Resources
	if q, ok := l[corev1.ResourceCPU]; ok {
		r.MilliCPU = q.MilliValue()
	}
	if q, ok := l[corev1.ResourceMemory]; ok {
		r.MemoryBytes = q.Value()
	}
	return r
}

func resolveSecurity(rev *api.Revision, c *corev1.Container, out *Container) {
	if psc := rev.Spec.SecurityContext; psc != nil {
		out.RunAsUser, out.RunAsGroup = psc.RunAsUser, psc.RunAsGroup
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			out.RunAsUser = sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			out.RunAsGroup = sc.RunAsGroup
		}
		if sc.ReadOnlyRootFilesystem != nil {
			out.ReadOnlyRootFilesystem = *sc.ReadOnlyRootFilesystem
		}
	}
}

// setEnv sets name in env, replacing an earlier entry.
func setEnv(env []EnvVar, name, value string) []EnvVar {
	for i := range env {
		if env[i].Name == name {
			env = append(env[:i], env[i+1:]...)
			break
		}
	}
	return append(env, EnvVar{name, value})
}

// EnvMap is env as a map, later entries winning.
func EnvMap(env []EnvVar) map[string]string {
	m := make(map[string]string, len(env))
	for _, e := range env {
		m[e.Name] = e.Value
	}
	return m
}
