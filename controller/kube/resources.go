package kube

import (
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/queueproxy"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The queue-proxy's ports on Kubernetes (ARCHITECTURE.md's contract).
const (
	QueueHTTPPort    = 8012 // HTTP/1.1 proxy to the app
	QueueH2CPort     = 8013 // h2c (gRPC) proxy to the app
	QueueAdminPort   = 8022 // health and /wait-for-drain
	QueueStatsPort   = 9090 // autoscaler stats
	QueueMetricsPort = 9091 // Prometheus request metrics

	QueueContainerName = "queue-proxy"
	// DrainPath is the queue-proxy's PreStop endpoint.
	DrainPath = "/wait-for-drain"
)

// Labels and annotations the controller adds.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "gantry"
	// LabelRevisionUID ties pods to one incarnation of a revision name.
	LabelRevisionUID = "serving.knative.dev/revisionUID"
	// AnnotationSpecHash is the hash of the desired pod template the
	// Deployment was last written with.
	AnnotationSpecHash = "serving.gantry.dev/spec-hash"
	// LabelTag marks a tag's HTTPRoute.
	LabelTag = "serving.gantry.dev/tag"
	// AnnotationIngressClass chooses a route's ingress, as in Knative
	// (the hyphenated key is Knative's newer spelling).
	AnnotationIngressClass       = "networking.knative.dev/ingress.class"
	AnnotationIngressClassHyphen = "networking.knative.dev/ingress-class"
)

// Ingress classes.
const (
	// IngressClassGantry is the built-in gateway (config-network's default).
	IngressClassGantry = "gateway.gantry.dev"
	// IngressClassGatewayAPI writes Gateway API HTTPRoutes, as Knative's
	// net-gateway-api does under the same class name.
	IngressClassGatewayAPI = "gateway-api.ingress.networking.knative.dev"
)

// ResourceOptions configures what the controller writes for each revision.
// The zero value is valid.
type ResourceOptions struct {
	// QueueImage is the image of the queue-proxy sidecar (the gantry
	// binary); default DefaultImage.
	QueueImage string
	// QueueCommand and QueueArgs start the sidecar; default the image's
	// entrypoint with args ["queue-proxy"].
	QueueCommand, QueueArgs []string
	// QueueResources are the sidecar's requests and limits; default 25m CPU
	// and 32Mi of memory requested, as Knative's.
	QueueResources *corev1.ResourceRequirements
	// DefaultTimeoutSeconds is config-defaults' revision-timeout-seconds
	// when a revision has none (default 300).
	DefaultTimeoutSeconds int64
	// ProxyLimits are config-network's client limits, given to every
	// queue-proxy as its GANTRY_* variables; nil leaves the queue-proxy's
	// defaults (the same as api.DefaultProxyLimits).
	ProxyLimits *api.ProxyLimits
	// ProgressDeadline is config-deployment's progress-deadline, for a
	// revision without serving.knative.dev/progress-deadline (default 600s).
	ProgressDeadline time.Duration
}

// DefaultImage is the gantry image built by the documented ko recipe.
const DefaultImage = "ghcr.io/gantry-dev/gantry:latest"

func (o ResourceOptions) withDefaults() ResourceOptions {
	if o.QueueImage == "" {
		o.QueueImage = DefaultImage
	}
	if o.QueueArgs == nil {
		o.QueueArgs = []string{"queue-proxy"}
	}
	if o.DefaultTimeoutSeconds <= 0 {
		o.DefaultTimeoutSeconds = 300
	}
	return o
}

// revisionLabels are the labels of everything a revision owns: the
// revision's own labels without the routing state (which changes as traffic
// moves and must not roll the pods), plus the revision's name and UID.
func revisionLabels(rev *api.Revision) map[string]string {
	l := make(map[string]string, len(rev.Labels)+3)
	for k, v := range rev.Labels {
		if k != api.LabelRoutingState {
			l[k] = v
		}
	}
	l[api.LabelRevision] = rev.Name
	if rev.UID != "" {
		l[LabelRevisionUID] = string(rev.UID)
	}
	l[LabelManagedBy] = ManagedBy
	return l
}

func revisionSelector(rev *api.Revision) map[string]string {
	return map[string]string{api.LabelRevision: rev.Name}
}

// revisionAnnotations are the revision's annotations that make sense on pods:
// those that change with routing are left out.
func revisionAnnotations(rev *api.Revision) map[string]string {
	a := maps.Clone(rev.Annotations)
	delete(a, api.AnnotationRoutingModified)
	delete(a, api.AnnotationCreator)
	if len(a) == 0 {
		return nil
	}
	return a
}

func controllerRef(rev *api.Revision) []metav1.OwnerReference {
	t := true
	return []metav1.OwnerReference{{APIVersion: GroupVersion.String(), Kind: api.KindRevision, Name: rev.Name, UID: rev.UID,
		Controller: &t, BlockOwnerDeletion: &t}}
}

// timeoutSeconds is the revision's request timeout.
func timeoutSeconds(rev *api.Revision, o ResourceOptions) int64 {
	if ts := rev.Spec.TimeoutSeconds; ts != nil && *ts > 0 {
		return *ts
	}
	return o.DefaultTimeoutSeconds
}

// isH2C reports whether the serving container's port is named h2c.
func isH2C(rev *api.Revision) bool {
	c := api.ServingContainer(&rev.Spec)
	return c != nil && len(c.Ports) > 0 && c.Ports[0].Name == "h2c"
}

// MakeDeployment returns the Deployment that runs rev: its containers, the
// serving one fronted by the queue-proxy sidecar. rev should have its
// defaults applied (api.SetDefaults). replicas is the initial scale; once the
// Deployment exists its replicas belong to the autoscaler.
func MakeDeployment(rev *api.Revision, replicas int32, o ResourceOptions) *appsv1.Deployment {
	o = o.withDefaults()
	spec := rev.Spec.PodSpec.DeepCopy()
	userPort := api.UserPort(&rev.Spec)
	timeout := timeoutSeconds(rev, o)

	var userProbe *corev1.Probe
	for i := range spec.Containers {
		c := &spec.Containers[i]
		if len(rev.Spec.Containers) > 1 && len(c.Ports) == 0 {
			continue // a sidecar of the user's: left as written
		}
		userProbe = c.ReadinessProbe
		makeServingContainer(c, rev, userPort)
		break
	}
	spec.Containers = append(spec.Containers, makeQueueContainer(rev, userPort, userProbe, timeout, o))
	spec.TerminationGracePeriodSeconds = &timeout
	if spec.EnableServiceLinks == nil {
		f := false
		spec.EnableServiceLinks = &f
	}

	labels := revisionLabels(rev)
	d := &appsv1.Deployment{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{
			Name: DeploymentName(rev.Name), Namespace: rev.Namespace,
			Labels: labels, Annotations: revisionAnnotations(rev), OwnerReferences: controllerRef(rev),
		},
		Spec: appsv1.DeploymentSpec{
			Replicas:                &replicas,
			Selector:                &metav1.LabelSelector{MatchLabels: revisionSelector(rev)},
			ProgressDeadlineSeconds: progressDeadline(rev, o.ProgressDeadline),
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: ptrIntStr(intstr.FromInt32(0)), MaxSurge: ptrIntStr(intstr.FromString("25%"))}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: maps.Clone(labels), Annotations: revisionAnnotations(rev)},
				Spec:       *spec,
			},
		},
	}
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	d.Annotations[AnnotationSpecHash] = hashOf(d.Spec.Template, d.Spec.Selector, d.Spec.ProgressDeadlineSeconds)
	return d
}

func ptrIntStr(v intstr.IntOrString) *intstr.IntOrString { return &v }

// progressDeadline is api.ProgressDeadline (def is config-deployment's) in
// whole seconds, at least one.
func progressDeadline(rev *api.Revision, def time.Duration) *int32 {
	d := api.ProgressDeadline(rev.Annotations, api.DeploymentConfig{ProgressDeadline: def}, api.DefaultProgressDeadline)
	secs := int64(d / time.Second)
	if d%time.Second != 0 {
		secs++
	}
	s := int32(max(1, min(secs, math.MaxInt32)))
	return &s
}

// makeServingContainer turns the user's serving container into the one that
// runs behind the queue-proxy: one port, the runtime contract's variables,
// readiness moved to the queue-proxy, and a PreStop hook that drains it.
func makeServingContainer(c *corev1.Container, rev *api.Revision, userPort int32) {
	name := "user-port"
	if len(c.Ports) > 0 && c.Ports[0].Name != "" {
		name = c.Ports[0].Name
	}
	c.Ports = []corev1.ContainerPort{{Name: name, ContainerPort: userPort, Protocol: corev1.ProtocolTCP}}
	c.Env = append(c.Env,
		corev1.EnvVar{Name: "PORT", Value: strconv.Itoa(int(userPort))},
		corev1.EnvVar{Name: "K_REVISION", Value: rev.Name},
		corev1.EnvVar{Name: "K_CONFIGURATION", Value: rev.Labels[api.LabelConfiguration]},
		corev1.EnvVar{Name: "K_SERVICE", Value: rev.Labels[api.LabelService]},
	)
	// The kubelet asks the queue-proxy, which runs the user's probe itself.
	c.ReadinessProbe = nil
	if p := c.LivenessProbe; p != nil {
		if p.HTTPGet != nil && p.HTTPGet.Port.IntValue() == 0 && p.HTTPGet.Port.StrVal == "" {
			p.HTTPGet.Port = intstr.FromInt32(userPort)
		}
		if p.TCPSocket != nil && p.TCPSocket.Port.IntValue() == 0 && p.TCPSocket.Port.StrVal == "" {
			p.TCPSocket.Port = intstr.FromInt32(userPort)
		}
	}
	// On termination the kubelet first calls the queue-proxy's drain, so
	// the app stops only after in-flight requests are answered.
	c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{
		Path: DrainPath, Port: intstr.FromInt32(QueueAdminPort)}}}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
	}
}

// makeQueueContainer is the gantry queue-proxy sidecar, configured by
// environment with Knative's variable names (queueproxy.LoadEnv).
func makeQueueContainer(rev *api.Revision, userPort int32, userProbe *corev1.Probe, timeout int64, o ResourceOptions) corev1.Container {
	var cc int64
	if rev.Spec.ContainerConcurrency != nil {
		cc = *rev.Spec.ContainerConcurrency
	}
	probeJSON := ""
	if userProbe != nil {
		b, _ := json.Marshal(userProbe)
		probeJSON = string(b)
	}
	secs := func(p *int64) string {
		if p == nil {
			return "0"
		}
		return strconv.FormatInt(*p, 10)
	}
	env := []corev1.EnvVar{
		{Name: "SERVING_NAMESPACE", Value: rev.Namespace},
		{Name: "SERVING_SERVICE", Value: rev.Labels[api.LabelService]},
		{Name: "SERVING_CONFIGURATION", Value: rev.Labels[api.LabelConfiguration]},
		{Name: "SERVING_REVISION", Value: rev.Name},
		{Name: "SERVING_POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}},
		{Name: "SERVING_POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.podIP"}}},
		{Name: "USER_PORT", Value: strconv.Itoa(int(userPort))},
		{Name: "QUEUE_SERVING_PORT", Value: strconv.Itoa(QueueHTTPPort)},
		{Name: "CONTAINER_CONCURRENCY", Value: strconv.FormatInt(cc, 10)},
		{Name: "REVISION_TIMEOUT_SECONDS", Value: strconv.FormatInt(timeout, 10)},
		{Name: "REVISION_RESPONSE_START_TIMEOUT_SECONDS", Value: secs(rev.Spec.ResponseStartTimeoutSeconds)},
		{Name: "REVISION_IDLE_TIMEOUT_SECONDS", Value: secs(rev.Spec.IdleTimeoutSeconds)},
		{Name: "SERVING_READINESS_PROBE", Value: probeJSON},
		// Keeps the Go runtime's sysmon from waking per request (queueproxy.GoDebug).
		{Name: "GODEBUG", Value: queueproxy.GoDebug("")},
	}
	if o.ProxyLimits != nil {
		lim := o.ProxyLimits.Env()
		for _, k := range slices.Sorted(maps.Keys(lim)) {
			env = append(env, corev1.EnvVar{Name: k, Value: lim[k]})
		}
	}
	period := int32(1)
	if userProbe != nil && userProbe.PeriodSeconds > 0 {
		period = userProbe.PeriodSeconds
	}
	res := corev1.ResourceRequirements{Requests: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("25m"), corev1.ResourceMemory: resource.MustParse("32Mi")}}
	if o.QueueResources != nil {
		res = *o.QueueResources.DeepCopy()
	}
	f, t := false, true
	var uid int64 = 65532
	return corev1.Container{
		Name: QueueContainerName, Image: o.QueueImage, Command: o.QueueCommand, Args: o.QueueArgs,
		Env: env,
		Ports: []corev1.ContainerPort{
			{Name: "queue-port", ContainerPort: QueueHTTPPort, Protocol: corev1.ProtocolTCP},
			{Name: "queue-h2c", ContainerPort: QueueH2CPort, Protocol: corev1.ProtocolTCP},
			{Name: "http-queueadm", ContainerPort: QueueAdminPort, Protocol: corev1.ProtocolTCP},
			{Name: "http-autometric", ContainerPort: QueueStatsPort, Protocol: corev1.ProtocolTCP},
			{Name: "http-usermetric", ContainerPort: QueueMetricsPort, Protocol: corev1.ProtocolTCP},
		},
		// Readiness goes through the queue-proxy, which answers for the app.
		ReadinessProbe: &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: "/", Port: intstr.FromInt32(QueueHTTPPort),
				HTTPHeaders: []corev1.HTTPHeader{{Name: "K-Network-Probe", Value: "queue"}},
			}},
			PeriodSeconds: period, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3,
		},
		Resources:                res,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: &f, ReadOnlyRootFilesystem: &t, RunAsNonRoot: &t, RunAsUser: &uid,
			Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}
}

// MakeRevisionServices returns the Services of rev: a ClusterIP Service on
// port 80 (81 for h2c) in front of the queue-proxies, and a headless one that
// lists every pod with all queue-proxy ports.
func MakeRevisionServices(rev *api.Revision) []*corev1.Service {
	labels := revisionLabels(rev)
	port := corev1.ServicePort{Name: "http", Port: 80, TargetPort: intstr.FromInt32(QueueHTTPPort), Protocol: corev1.ProtocolTCP}
	if isH2C(rev) {
		h2c := "kubernetes.io/h2c"
		port = corev1.ServicePort{Name: "h2c", Port: 80, TargetPort: intstr.FromInt32(QueueH2CPort), Protocol: corev1.ProtocolTCP, AppProtocol: &h2c}
	}
	public := &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: RevisionServiceName(rev.Name), Namespace: rev.Namespace, Labels: labels,
			OwnerReferences: controllerRef(rev)},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Selector: revisionSelector(rev), Ports: []corev1.ServicePort{port}},
	}
	private := &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: PrivateServiceName(rev.Name), Namespace: rev.Namespace, Labels: maps.Clone(labels),
			OwnerReferences: controllerRef(rev)},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP, ClusterIP: corev1.ClusterIPNone, Selector: revisionSelector(rev),
			PublishNotReadyAddresses: false,
			Ports: []corev1.ServicePort{
				{Name: "http", Port: QueueHTTPPort, TargetPort: intstr.FromInt32(QueueHTTPPort), Protocol: corev1.ProtocolTCP},
				{Name: "h2c", Port: QueueH2CPort, TargetPort: intstr.FromInt32(QueueH2CPort), Protocol: corev1.ProtocolTCP},
				{Name: "http-queueadm", Port: QueueAdminPort, TargetPort: intstr.FromInt32(QueueAdminPort), Protocol: corev1.ProtocolTCP},
				{Name: "http-autometric", Port: QueueStatsPort, TargetPort: intstr.FromInt32(QueueStatsPort), Protocol: corev1.ProtocolTCP},
				{Name: "http-usermetric", Port: QueueMetricsPort, TargetPort: intstr.FromInt32(QueueMetricsPort), Protocol: corev1.ProtocolTCP},
			},
		},
	}
	private.Labels["serving.gantry.dev/private"] = "true"
	return []*corev1.Service{public, private}
}

// MakeRoutePlaceholder returns the ExternalName Service that makes a route's
// cluster-local name ({route}.{namespace}.svc.cluster.local) resolve to the
// gateway, as Knative's placeholder Services do.
func MakeRoutePlaceholder(route *api.Route, gatewayHost string) *corev1.Service {
	t := true
	labels := map[string]string{api.LabelRoute: route.Name, LabelManagedBy: ManagedBy}
	if s := route.Labels[api.LabelService]; s != "" {
		labels[api.LabelService] = s
	}
	return &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: route.Name, Namespace: route.Namespace, Labels: labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: GroupVersion.String(), Kind: api.KindRoute, Name: route.Name,
				UID: route.UID, Controller: &t, BlockOwnerDeletion: &t}}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: gatewayHost,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(80), Protocol: corev1.ProtocolTCP}}},
	}
}
