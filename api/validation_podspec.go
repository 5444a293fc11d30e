package api

import (
	"fmt"
	"math"
	"path"
	"reflect"
	"regexp"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Ports the queue-proxy (and its profiler) own in a Knative pod; a user
// container may not listen on them.
var reservedPorts = map[int32]bool{8012: true, 8013: true, 8022: true, 9090: true, 9091: true, 8008: true}

// Environment variables the runtime sets for the serving container.
var reservedEnvVars = map[string]bool{"PORT": true, "K_SERVICE": true, "K_CONFIGURATION": true, "K_REVISION": true}

// Mount paths that would hide what the container needs from the runtime.
var reservedMountPaths = map[string]bool{"/": true, "/dev": true, "/dev/log": true}

// containerRole says how a container is validated.
type containerRole int

const (
	roleServing containerRole = iota // receives requests: the only container, or the one with a port
	roleSidecar                      // a further container without ports
	roleInit                         // an init container
)

// validateRevisionSpec checks a revision's pod spec and serving knobs; errors
// are relative to the spec ("containers[0].image", "timeoutSeconds").
func validateRevisionSpec(rs *RevisionSpec, cfg *Config) *FieldError {
	d := cfg.Defaults
	errs := validatePodSpec(&rs.PodSpec)
	if t := rs.TimeoutSeconds; t != nil && *t != 0 && (*t < 0 || *t > d.MaxRevisionTimeoutSeconds) {
		errs = errs.Also(ErrOutOfBoundsValue(*t, 0, d.MaxRevisionTimeoutSeconds, "timeoutSeconds"))
	}
	// Knative leaves these two unchecked; a negative or oversized timer is
	// still a mistake worth reporting.
	for _, f := range []struct {
		name  string
		value *int64
	}{{"responseStartTimeoutSeconds", rs.ResponseStartTimeoutSeconds}, {"idleTimeoutSeconds", rs.IdleTimeoutSeconds}} {
		if f.value != nil && (*f.value < 0 || *f.value > d.MaxRevisionTimeoutSeconds) {
			errs = errs.Also(ErrOutOfBoundsValue(*f.value, 0, d.MaxRevisionTimeoutSeconds, f.name))
		}
	}
	if cc := rs.ContainerConcurrency; cc != nil {
		lower := int64(0)
		if !d.AllowContainerConcurrencyZero {
			lower = 1
		}
		if *cc < lower || *cc > d.ContainerConcurrencyMaxLimit {
			errs = errs.Also(ErrOutOfBoundsValue(*cc, lower, d.ContainerConcurrencyMaxLimit, "containerConcurrency"))
		}
	}
	return errs
}

func validatePodSpec(ps *corev1.PodSpec) *FieldError {
	mounted := map[string]bool{}
	for _, cs := range [][]corev1.Container{ps.InitContainers, ps.Containers} {
		for _, c := range cs {
			for _, m := range c.VolumeMounts {
				mounted[m.Name] = true
			}
		}
	}
	volumes, errs := validateVolumes(ps.Volumes, mounted)
	errs = errs.ViaField("volumes")

	names := map[string]bool{}
	for _, c := range ps.Containers {
		names[c.Name] = true
	}
	for i := range ps.InitContainers {
		c := &ps.InitContainers[i]
		if names[c.Name] {
			errs = errs.Also(ErrGeneric(fmt.Sprintf("duplicate container name %q", c.Name), "name").ViaFieldIndex("initContainers", i))
		}
		errs = errs.Also(validateContainer(c, volumes, roleInit, corev1.ContainerPort{}).ViaFieldIndex("initContainers", i))
	}

	port, perr := servingPort(ps.Containers)
	errs = errs.Also(perr.ViaField("containers[*]"))
	switch len(ps.Containers) {
	case 0:
		errs = errs.Also(ErrMissingField("containers"))
	case 1:
		errs = errs.Also(validateContainer(&ps.Containers[0], volumes, roleServing, port).ViaFieldIndex("containers", 0))
	default:
		seen := map[string]bool{}
		for i := range ps.Containers {
			c := &ps.Containers[i]
			if seen[c.Name] {
				errs = errs.Also(ErrGeneric(fmt.Sprintf("duplicate container name %q", c.Name), "name").ViaFieldIndex("containers", i))
			}
			seen[c.Name] = true
			role := roleSidecar
			if len(c.Ports) > 0 {
				role = roleServing
			}
			errs = errs.Also(validateContainer(c, volumes, role, port).ViaFieldIndex("containers", i))
		}
	}
	if sa := ps.ServiceAccountName; sa != "" {
		for _, msg := range validation.IsDNS1123Subdomain(sa) {
			errs = errs.Also(ErrInvalidValue(sa, "serviceAccountName", msg))
		}
	}
	return errs
}

// HTTPAndH2CPorts returns the http1 port of a container that declares
// exactly an http1 and an h2c port, or nil.
func HTTPAndH2CPorts(cs []corev1.Container) *corev1.ContainerPort {
	for i := range cs {
		ps := cs[i].Ports
		if len(ps) != 2 {
			continue
		}
		if ps[0].Name == "http1" && ps[1].Name == "h2c" {
			return &ps[0]
		}
		if ps[0].Name == "h2c" && ps[1].Name == "http1" {
			return &ps[1]
		}
	}
	return nil
}

// servingPort returns the one port requests go to, checking that exactly one
// is declared across containers (none is fine for a single container: 8080).
func servingPort(cs []corev1.Container) (corev1.ContainerPort, *FieldError) {
	var port corev1.ContainerPort
	count := 0
	for i := range cs {
		if n := len(cs[i].Ports); n > 0 {
			count += n
			port = cs[i].Ports[0]
		}
	}
	if port.Name == "" {
		port.Name = "http"
	}
	if port.ContainerPort == 0 {
		port.ContainerPort = DefaultUserPort
	}
	switch {
	case count == 0 && len(cs) > 1:
		return port, ErrMissingField("ports")
	case count == 2 && HTTPAndH2CPorts(cs) != nil:
		// Gantry's extension: one http1 and one h2c port on the same
		// container; gRPC requests go to h2c, the rest to http1.
		return *HTTPAndH2CPorts(cs), nil
	case count > 1:
		return port, &FieldError{
			Message: "more than one container port is set",
			Paths:   []string{"ports"},
			Details: "Only a single port is allowed across all containers",
		}
	}
	return port, nil
}

// validateContainer checks one container; port is the revision's serving port.
func validateContainer(c *corev1.Container, volumes map[string]corev1.Volume, role containerRole, port corev1.ContainerPort) *FieldError {
	if reflect.DeepEqual(*c, corev1.Container{}) {
		return ErrMissingField(CurrentField)
	}
	var errs *FieldError
	if c.Name == "queue-proxy" {
		errs = errs.Also(ErrGeneric(fmt.Sprintf("%q is a reserved container name", c.Name), "name"))
	}
	switch role {
	case roleServing:
		errs = errs.Also(validateProbe(c.LivenessProbe, &port).ViaField("livenessProbe"))
		errs = errs.Also(validateReadinessProbe(c.ReadinessProbe, &port).ViaField("readinessProbe"))
		errs = errs.Also(validateProbe(c.StartupProbe, &port).ViaField("startupProbe"))
	case roleSidecar:
		// Knative rejects sidecar probes unless multi-container-probing is
		// on; Gantry always allows them, checked as explicit-port probes.
		errs = errs.Also(validateProbe(c.LivenessProbe, nil).ViaField("livenessProbe"))
		errs = errs.Also(validateReadinessProbe(c.ReadinessProbe, nil).ViaField("readinessProbe"))
		errs = errs.Also(validateProbe(c.StartupProbe, nil).ViaField("startupProbe"))
	case roleInit:
		for _, f := range []struct {
			name string
			set  bool
		}{{"livenessProbe", c.LivenessProbe != nil}, {"readinessProbe", c.ReadinessProbe != nil},
			{"startupProbe", c.StartupProbe != nil}, {"lifecycle", c.Lifecycle != nil}} {
			if f.set {
				errs = errs.Also(ErrGeneric("field not allowed in an init container", f.name))
			}
		}
	}
	errs = errs.Also(validateEnv(c.Env, role == roleServing).ViaField("env"))
	errs = errs.Also(validateEnvFrom(c.EnvFrom).ViaField("envFrom"))

	// Gantry runs a container from its image or, on one machine, from its
	// command; one of the two is required.
	if c.Image == "" {
		if len(c.Command) == 0 {
			errs = errs.Also(ErrMissingField("image"))
		}
	} else if err := checkImageReference(c.Image); err != nil {
		errs = errs.Also(&FieldError{
			Message: "Failed to parse image reference",
			Paths:   []string{"image"},
			Details: fmt.Sprintf("image: %q, error: %v", c.Image, err),
		})
	}

	if role == roleInit {
		for _, p := range c.Ports {
			errs = errs.Also(validatePortNumber(p).ViaField("ports"))
		}
	} else if len(c.Ports) > 0 {
		errs = errs.Also(validateServingPort(c.Ports[0]).ViaField("ports"))
	}
	switch c.TerminationMessagePolicy {
	case "", corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError:
	default:
		errs = errs.Also(ErrInvalidValue(c.TerminationMessagePolicy, "terminationMessagePolicy"))
	}
	return errs.Also(validateVolumeMounts(c.VolumeMounts, volumes).ViaField("volumeMounts"))
}

// validateServingPort checks the port requests go to; Knative reports these
// at "ports.<field>", without an index.
func validateServingPort(p corev1.ContainerPort) *FieldError {
	errs := validatePortNumber(p)
	if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
		errs = errs.Also(ErrInvalidValue(p.Protocol, "protocol"))
	}
	switch p.Name {
	case "", "h2c", "http1":
	default:
		errs = errs.Also(&FieldError{
			Message: fmt.Sprintf("Port name %v is not allowed", p.Name),
			Paths:   []string{CurrentField},
			Details: "Name must be empty, or one of: 'h2c', 'http1'",
		})
	}
	return errs
}

func validatePortNumber(p corev1.ContainerPort) *FieldError {
	var errs *FieldError
	if reservedPorts[p.ContainerPort] {
		errs = errs.Also(ErrInvalidValue(fmt.Sprintf("%d is a reserved port", p.ContainerPort), "containerPort",
			fmt.Sprintf("%d is a reserved port, please use a different value", p.ContainerPort)))
	}
	if p.ContainerPort < 0 || p.ContainerPort > 65535 {
		errs = errs.Also(ErrOutOfBoundsValue(p.ContainerPort, 0, 65535, "containerPort"))
	}
	return errs
}

// validateReadinessProbe adds Knative's readiness rules: periodSeconds 0
// selects the queue-proxy's aggressive probing, which has no timeout or
// failure threshold of its own.
func validateReadinessProbe(p *corev1.Probe, port *corev1.ContainerPort) *FieldError {
	if p == nil {
		return nil
	}
	errs := validateProbe(p, port)
	if p.PeriodSeconds < 0 {
		errs = errs.Also(ErrOutOfBoundsValue(p.PeriodSeconds, 0, math.MaxInt32, "periodSeconds"))
	}
	if p.InitialDelaySeconds < 0 {
		errs = errs.Also(ErrOutOfBoundsValue(p.InitialDelaySeconds, 0, math.MaxInt32, "initialDelaySeconds"))
	}
	if p.SuccessThreshold < 1 {
		errs = errs.Also(ErrOutOfBoundsValue(p.SuccessThreshold, 1, math.MaxInt32, "successThreshold"))
	}
	if p.PeriodSeconds == 0 {
		if p.FailureThreshold != 0 {
			errs = errs.Also(ErrGeneric("failureThreshold is disallowed when periodSeconds is zero", "failureThreshold"))
		}
		if p.TimeoutSeconds != 0 {
			errs = errs.Also(ErrGeneric("timeoutSeconds is disallowed when periodSeconds is zero", "timeoutSeconds"))
		}
	} else {
		if p.TimeoutSeconds < 1 {
			errs = errs.Also(ErrOutOfBoundsValue(p.TimeoutSeconds, 1, math.MaxInt32, "timeoutSeconds"))
		}
		if p.FailureThreshold < 1 {
			errs = errs.Also(ErrOutOfBoundsValue(p.FailureThreshold, 1, math.MaxInt32, "failureThreshold"))
		}
	}
	return errs
}

// validateProbe checks a probe has exactly one handler. For the serving
// container (port != nil) a named port must be the serving port's name; for
// others the port must be given.
func validateProbe(p *corev1.Probe, port *corev1.ContainerPort) *FieldError {
	if p == nil {
		return nil
	}
	var errs *FieldError
	var handlers []string
	checkPort := func(field, value string, strVal string, intVal int32) {
		if port != nil {
			if strVal != "" && strVal != port.Name {
				errs = errs.Also(ErrInvalidValue(value, field, "Probe port must match container port"))
			}
		} else if strVal == "" && intVal == 0 {
			errs = errs.Also(ErrInvalidValue(value, field, "Probe port must be specified"))
		}
	}
	if h := p.HTTPGet; h != nil {
		handlers = append(handlers, "httpGet")
		checkPort("httpGet.port", h.Port.String(), h.Port.StrVal, h.Port.IntVal)
	}
	if t := p.TCPSocket; t != nil {
		handlers = append(handlers, "tcpSocket")
		checkPort("tcpSocket.port", t.Port.String(), t.Port.StrVal, t.Port.IntVal)
	}
	if p.Exec != nil {
		handlers = append(handlers, "exec")
	}
	if p.GRPC != nil {
		handlers = append(handlers, "gRPC")
	}
	switch {
	case len(handlers) == 0:
		errs = errs.Also(ErrMissingOneOf("httpGet", "tcpSocket", "exec", "grpc"))
	case len(handlers) > 1:
		errs = errs.Also(ErrMultipleOneOf(handlers...))
	}
	return errs
}

func validateEnv(env []corev1.EnvVar, serving bool) *FieldError {
	var errs *FieldError
	for i, e := range env {
		switch {
		case e.Name == "":
			errs = errs.Also(ErrMissingField("name").ViaIndex(i))
		case reservedEnvVars[e.Name] && (serving || e.Name != "PORT"):
			errs = errs.Also(ErrGeneric(fmt.Sprintf("%q is a reserved environment variable", e.Name), "name").ViaIndex(i))
		}
	}
	return errs
}

func validateEnvFrom(envFrom []corev1.EnvFromSource) *FieldError {
	var errs *FieldError
	for i, e := range envFrom {
		switch {
		case e.ConfigMapRef != nil && e.SecretRef != nil:
			errs = errs.Also(ErrMultipleOneOf("configMapRef", "secretRef").ViaIndex(i))
		case e.ConfigMapRef == nil && e.SecretRef == nil:
			errs = errs.Also(ErrMissingOneOf("configMapRef", "secretRef").ViaIndex(i))
		}
	}
	return errs
}

// validateVolumes checks volume names and sources, and that each is mounted;
// it returns the volumes by name for the mount checks.
func validateVolumes(vs []corev1.Volume, mounted map[string]bool) (map[string]corev1.Volume, *FieldError) {
	byName := make(map[string]corev1.Volume, len(vs))
	var errs *FieldError
	for i, v := range vs {
		if _, dup := byName[v.Name]; dup {
			errs = errs.Also(ErrGeneric(fmt.Sprintf("duplicate volume name %q", v.Name), "name").ViaIndex(i))
		}
		if !mounted[v.Name] {
			errs = errs.Also(ErrGeneric(fmt.Sprintf("volume with name %q not mounted", v.Name), "name").ViaIndex(i))
		}
		errs = errs.Also(validateVolume(&v).ViaIndex(i))
		byName[v.Name] = v
	}
	return byName, errs
}

func validateVolume(v *corev1.Volume) *FieldError {
	var errs *FieldError
	if v.Name == "" {
		errs = errs.Also(ErrMissingField("name"))
	} else if len(validation.IsDNS1123Label(v.Name)) > 0 {
		errs = errs.Also(ErrInvalidValue(v.Name, "name"))
	}
	s := v.VolumeSource
	var set []string
	if s.Secret != nil {
		set = append(set, "secret")
		for j, it := range s.Secret.Items {
			errs = errs.Also(validateKeyToPath(it).ViaFieldIndex("items", j).ViaField("secret"))
		}
	}
	if s.ConfigMap != nil {
		set = append(set, "configMap")
		for j, it := range s.ConfigMap.Items {
			errs = errs.Also(validateKeyToPath(it).ViaFieldIndex("items", j).ViaField("configMap"))
		}
	}
	if s.Projected != nil {
		set = append(set, "projected")
	}
	if s.EmptyDir != nil {
		set = append(set, "emptyDir")
		if m := s.EmptyDir.Medium; m != "" && m != corev1.StorageMediumMemory {
			errs = errs.Also(ErrInvalidValue(m, "emptyDir.medium"))
		}
	}
	for _, f := range []struct {
		name string
		set  bool
	}{{"persistentVolumeClaim", s.PersistentVolumeClaim != nil}, {"hostPath", s.HostPath != nil},
		{"csi", s.CSI != nil}, {"ephemeral", s.Ephemeral != nil}, {"image", s.Image != nil}} {
		if f.set {
			set = append(set, f.name)
		}
	}
	switch {
	case len(set) == 0:
		errs = errs.Also(ErrMissingOneOf("secret", "configMap", "projected", "emptyDir"))
	case len(set) > 1:
		errs = errs.Also(ErrMultipleOneOf(set...))
	}
	return errs
}

func validateKeyToPath(k corev1.KeyToPath) *FieldError {
	var errs *FieldError
	if k.Key == "" {
		errs = errs.Also(ErrMissingField("key"))
	}
	if k.Path == "" {
		errs = errs.Also(ErrMissingField("path"))
	}
	return errs
}

func validateVolumeMounts(mounts []corev1.VolumeMount, volumes map[string]corev1.Volume) *FieldError {
	var errs *FieldError
	seenPath := map[string]bool{}
	for i, m := range mounts {
		v, ok := volumes[m.Name]
		if !ok {
			errs = errs.Also(ErrGeneric("volumeMount has no matching volume", "name").ViaIndex(i))
		}
		clean := path.Clean(m.MountPath)
		switch {
		case m.MountPath == "":
			errs = errs.Also(ErrMissingField("mountPath").ViaIndex(i))
		case reservedMountPaths[clean]:
			errs = errs.Also(ErrGeneric(fmt.Sprintf("mountPath %q is a reserved path", clean), "mountPath").ViaIndex(i))
		case !path.IsAbs(m.MountPath):
			errs = errs.Also(ErrInvalidValue(m.MountPath, "mountPath").ViaIndex(i))
		case seenPath[clean]:
			errs = errs.Also(ErrInvalidValue(fmt.Sprintf("%q must be unique", m.MountPath), "mountPath").ViaIndex(i))
		}
		seenPath[clean] = true
		writable := v.EmptyDir != nil || v.PersistentVolumeClaim != nil || v.Ephemeral != nil
		if !writable && !m.ReadOnly {
			errs = errs.Also(ErrGeneric("volume mount should be readOnly for this type of volume", "readOnly").ViaIndex(i))
		}
		if pvc := v.PersistentVolumeClaim; pvc != nil && pvc.ReadOnly && !m.ReadOnly {
			errs = errs.Also(ErrGeneric("volume is readOnly but volume mount is not", "readOnly").ViaIndex(i))
		}
	}
	return errs
}

// imageReference is the Docker/OCI reference grammar:
// [registry[:port]/]path[:tag][@digest], path components in lower case.
var imageReference = func() *regexp.Regexp {
	const (
		alnum     = `[a-z0-9]+`
		separator = `(?:[._]|__|[-]+)`
		component = alnum + `(?:` + separator + alnum + `)*`
		domainCmp = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
		domain    = `(?:` + domainCmp + `(?:\.` + domainCmp + `)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?`
		tag       = `[\w][\w.-]{0,127}`
		digest    = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`
	)
	return regexp.MustCompile(`^(?:` + domain + `/)?` + component + `(?:/` + component + `)*(?::` + tag + `)?(?:@` + digest + `)?$`)
}()

// checkImageReference reports whether image parses as a registry reference.
// Gantry does not pull it; an image that cannot run locally is reported in
// the revision's status, but a malformed one is a typo worth rejecting.
func checkImageReference(image string) error {
	const maxImageReference = 512 // name (255) + tag (128) + a sha512 digest, with room to spare
	if len(image) > maxImageReference || !imageReference.MatchString(image) {
		return fmt.Errorf("could not parse reference: %s", image)
	}
	return nil
}
