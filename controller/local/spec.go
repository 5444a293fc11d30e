package local

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gantry-dev/gantry/api"
	corev1 "k8s.io/api/core/v1"
)

// SampleAppImage runs the bundled sample app when a container has no command.
const SampleAppImage = "gantry/sample-app"

// sampleAppImages are images whose documented behaviour the bundled sample
// app reproduces ("Hello $TARGET!"), so Knative's getting-started manifests
// serve on one machine unchanged.
var sampleAppImages = []string{
	SampleAppImage,
	"ghcr.io/knative/helloworld-go",
	"gcr.io/knative-samples/helloworld-go",
	"docker.io/gantry/sample-app",
}

func isSampleAppImage(image string) bool {
	name := image
	if i := strings.IndexByte(name, '@'); i >= 0 {
		name = name[:i]
	}
	if i := strings.LastIndexByte(name, ':'); i >= 0 && !strings.Contains(name[i:], "/") {
		name = name[:i]
	}
	for _, s := range sampleAppImages {
		if name == s {
			return true
		}
	}
	return false
}

// servingContainer is the container that receives requests: the one with a
// port, or the only one.
func servingContainer(spec *api.RevisionSpec) (*corev1.Container, error) {
	if len(spec.Containers) == 0 {
		return nil, fmt.Errorf("no containers")
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

// processSpec is how to start a revision's app process.
type processSpec struct {
	path      string
	args      []string // after expansion
	env       map[string]string
	dir       string
	container string
	h2c       bool // the container port is named h2c
}

// notRunnable says why a revision cannot run as a local process.
type notRunnable struct{ reason, message string }

func (e *notRunnable) Error() string { return e.message }

// buildProcessSpec turns a revision into the process to run, with PORT and the
// K_* variables set and $(VAR) references in command and args expanded.
func buildProcessSpec(rev *api.Revision, binary string, port int) (*processSpec, error) {
	c, err := servingContainer(&rev.Spec)
	if err != nil {
		return nil, &notRunnable{"NoContainer", err.Error()}
	}
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			continue // secrets and field refs need a cluster
		}
		env[e.Name] = expand(e.Value, env)
	}
	env["PORT"] = strconv.Itoa(port)
	env["K_SERVICE"] = rev.Labels[api.LabelService]
	env["K_CONFIGURATION"] = rev.Labels[api.LabelConfiguration]
	env["K_REVISION"] = rev.Name
	ps := &processSpec{env: env, dir: c.WorkingDir, container: c.Name}
	for _, p := range c.Ports {
		if p.Name == "h2c" {
			ps.h2c = true
		}
	}
	var argv []string
	switch {
	case len(c.Command) > 0:
		argv = append(append(argv, c.Command...), c.Args...)
	case isSampleAppImage(c.Image):
		argv = append([]string{binary, "sample-app"}, c.Args...)
	case c.Image != "":
		return nil, &notRunnable{"ImageNotRunnable", fmt.Sprintf(
			"image %q cannot run on one machine: Gantry runs containers as local processes; set the container's command (and args) to an executable on this machine, or use image %s", c.Image, SampleAppImage)}
	default:
		return nil, &notRunnable{"NoCommand", "container " + c.Name + " has neither image nor command"}
	}
	for i, a := range argv {
		argv[i] = expand(a, env)
	}
	ps.path, ps.args = argv[0], argv[1:]
	return ps, nil
}
