package kube

import (
	"context"
	"fmt"
	"time"

	"github.com/gantry-dev/gantry/api"
	gcontroller "github.com/gantry-dev/gantry/controller"
	"github.com/gantry-dev/gantry/controller/reconcile"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// revisionReconciler runs a Revision as a Deployment with the queue-proxy
// sidecar and two Services, and reports its readiness from the Deployment
// and its pods. With the autoscaler running, the Deployment's replicas are
// the autoscaler's (written through the scale subresource); the reconciler
// sets them only when it creates the Deployment.
type revisionReconciler struct {
	*base
	autoscaled bool
}

func (r *revisionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, err error) {
	start := time.Now()
	defer func() { r.metrics.observe(api.KindRevision, start, err) }()

	rev := &api.Revision{}
	if err := r.c.Get(ctx, req.NamespacedName, rev); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if rev.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	withKind(rev)
	cfg := r.config(ctx)
	now := r.now()
	d := rev.DeepCopy()
	api.SetDefaults(d, cfg)

	routed, latest, err := routingOf(ctx, r.c, rev)
	if err != nil {
		return ctrl.Result{}, err
	}
	scale := int32(gcontroller.DesiredScale(d, routed, latest))

	var obs reconcile.Observed
	if verr := api.Validate(d, cfg); verr != nil {
		obs = reconcile.Observed{Failed: true, Reason: ReasonValidationFailed, Message: verr.Error()}
		r.event(rev, corev1.EventTypeWarning, ReasonValidationFailed, "%s", verr.Error())
	} else {
		deploy, err := r.ensureDeployment(ctx, d, scale, cfg)
		if err != nil {
			return requeueOnConflict(err)
		}
		for _, want := range MakeRevisionServices(d) {
			if err := ensureService(ctx, r.c, want); err != nil {
				return requeueOnConflict(err)
			}
		}
		obs, err = r.observe(ctx, rev, deploy)
		if err != nil {
			return ctrl.Result{}, err
		}
	}

	// The routing state label (and when it changed) drives revision GC.
	if changed := setRoutingState(rev, routed, now); changed {
		if err := r.c.Update(ctx, rev); err != nil {
			return requeueOnConflict(err)
		}
	}
	st := reconcile.RevisionStatus(rev, obs, now)
	if equality.Semantic.DeepEqual(st, rev.Status) {
		return ctrl.Result{}, nil
	}
	if reconcile.IsTrue(st.Conditions, api.ConditionReady) && !reconcile.IsTrue(rev.Status.Conditions, api.ConditionReady) {
		r.event(rev, corev1.EventTypeNormal, "RevisionReady", "Revision %q is ready", rev.Name)
	}
	if c := reconcile.GetCondition(st.Conditions, api.ConditionContainerHealthy); c != nil && c.Status == corev1.ConditionFalse {
		if old := reconcile.GetCondition(rev.Status.Conditions, api.ConditionContainerHealthy); old == nil || old.Message != c.Message {
			r.event(rev, corev1.EventTypeWarning, c.Reason, "%s", c.Message)
		}
	}
	rev.Status = st
	return requeueOnConflict(r.c.Status().Update(ctx, rev))
}

// routingOf reports whether a route of rev's namespace sends rev traffic (or
// names it), and whether rev is its configuration's latest created revision.
func routingOf(ctx context.Context, c client.Reader, rev *api.Revision) (routed, latest bool, err error) {
	var routes RouteList
	if err := c.List(ctx, &routes, client.InNamespace(rev.Namespace)); err != nil {
		return false, false, err
	}
	for i := range routes.Items {
		rt := &routes.Items[i]
		if reconcile.RoutedRevisions(rt)[rev.Name] {
			routed = true
		}
		for _, t := range rt.Spec.Traffic {
			if t.RevisionName == rev.Name {
				routed = true
			}
		}
	}
	if name := rev.Labels[api.LabelConfiguration]; name != "" {
		conf := &api.Configuration{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: rev.Namespace, Name: name}, conf); err == nil {
			latest = conf.Status.LatestCreatedRevisionName == rev.Name
		} else if !apierrors.IsNotFound(err) {
			return false, false, err
		}
	}
	return routed, latest, nil
}

// setRoutingState sets the routingState label and, when it changes, the
// routingStateModified annotation, as Knative's labeler does; a new revision
// stays pending until it is routed or ready.
func setRoutingState(rev *api.Revision, routed bool, now time.Time) bool {
	state := api.RoutingStateReserve
	if routed {
		state = api.RoutingStateActive
	}
	cur := rev.Labels[api.LabelRoutingState]
	if cur == state {
		return false
	}
	if cur == api.RoutingStatePending && !routed && !reconcile.IsTrue(rev.Status.Conditions, api.ConditionReady) {
		return false
	}
	if rev.Labels == nil {
		rev.Labels = map[string]string{}
	}
	if rev.Annotations == nil {
		rev.Annotations = map[string]string{}
	}
	rev.Labels[api.LabelRoutingState] = state
	rev.Annotations[api.AnnotationRoutingModified] = now.UTC().Format(time.RFC3339)
	return true
}

// ensureDeployment creates rev's Deployment, or puts back what was changed
// in it. Replicas are the autoscaler's once it exists (without the
// autoscaler, the static rule's).
func (r *revisionReconciler) ensureDeployment(ctx context.Context, rev *api.Revision, scale int32, cfg *api.Config) (*appsv1.Deployment, error) {
	initialScale := int32(1)
	if rs, err := api.ParseAutoscalingAnnotations(rev.Annotations, cfg.Autoscaler); err == nil {
		initialScale = rs.InitialScale
	}
	initial := scale
	if scale > 0 && initialScale > initial {
		initial = initialScale
	}
	ro := r.o.Resources
	if ro.DefaultTimeoutSeconds == 0 {
		ro.DefaultTimeoutSeconds = cfg.Defaults.RevisionTimeoutSeconds
	}
	limits := cfg.Network.Limits
	ro.ProxyLimits = &limits
	ro.ProgressDeadline = cfg.Deployment.ProgressDeadline
	want := MakeDeployment(rev, initial, ro)
	have := &appsv1.Deployment{}
	err := r.c.Get(ctx, client.ObjectKeyFromObject(want), have)
	if apierrors.IsNotFound(err) {
		// A new revision starts at its initial scale, routed or not yet, as
		// Knative's does. Its first pods are then the Deployment's first
		// rollout, the one progress-deadline bounds: a Deployment created at
		// zero and scaled up later has "progressed" at zero, and never
		// exceeds its deadline however long its pod stays unready.
		if n := max(*want.Spec.Replicas, initialScale); n != *want.Spec.Replicas {
			want.Spec.Replicas = &n
		}
		if err := r.c.Create(ctx, want); err != nil {
			if apierrors.IsAlreadyExists(err) {
				return nil, err
			}
			r.event(rev, corev1.EventTypeWarning, "CreationFailed", "Failed to create Deployment %q: %v", want.Name, err)
			return nil, fmt.Errorf("create deployment: %w", err)
		}
		r.event(rev, corev1.EventTypeNormal, "Created", "Created Deployment %q", want.Name)
		return want, nil
	}
	if err != nil {
		return nil, err
	}
	if !metav1.IsControlledBy(have, rev) {
		return nil, fmt.Errorf("deployment %s/%s exists and is not owned by revision %s", have.Namespace, have.Name, rev.Name)
	}
	replicasDrift := !r.autoscaled && (have.Spec.Replicas == nil || *have.Spec.Replicas != scale)
	if !deploymentDrifted(have, want) && !replicasDrift {
		return have, nil
	}
	if !replicasDrift {
		r.log.Info("putting back deployment", "namespace", have.Namespace, "name", have.Name)
	}
	have.Labels = want.Labels
	have.Annotations = want.Annotations
	have.OwnerReferences = want.OwnerReferences
	have.Spec.Template = want.Spec.Template
	have.Spec.ProgressDeadlineSeconds = want.Spec.ProgressDeadlineSeconds
	have.Spec.Strategy = want.Spec.Strategy
	if !r.autoscaled {
		have.Spec.Replicas = &scale
	}
	if err := r.c.Update(ctx, have); err != nil {
		return nil, fmt.Errorf("update deployment: %w", err)
	}
	return have, nil
}

// deploymentDrifted reports whether have differs from want in what the
// controller decides: the spec hash it was written with, and the fields a
// hand edit would change (the API server's defaults are not differences).
func deploymentDrifted(have, want *appsv1.Deployment) bool {
	if have.Annotations[AnnotationSpecHash] != want.Annotations[AnnotationSpecHash] {
		return true
	}
	for k, v := range want.Labels {
		if have.Labels[k] != v {
			return true
		}
	}
	hs, ws := &have.Spec.Template.Spec, &want.Spec.Template.Spec
	if len(hs.Containers) != len(ws.Containers) || len(hs.InitContainers) != len(ws.InitContainers) ||
		len(hs.Volumes) != len(ws.Volumes) || !equality.Semantic.DeepEqual(hs.TerminationGracePeriodSeconds, ws.TerminationGracePeriodSeconds) ||
		hs.ServiceAccountName != ws.ServiceAccountName {
		return true
	}
	for k, v := range want.Spec.Template.Labels {
		if have.Spec.Template.Labels[k] != v {
			return true
		}
	}
	for i := range ws.Containers {
		h, w := &hs.Containers[i], &ws.Containers[i]
		if h.Name != w.Name || h.Image != w.Image || !equality.Semantic.DeepEqual(h.Command, w.Command) ||
			!equality.Semantic.DeepEqual(h.Args, w.Args) || !equality.Semantic.DeepEqual(h.Env, w.Env) ||
			len(h.Ports) != len(w.Ports) || (h.ReadinessProbe == nil) != (w.ReadinessProbe == nil) ||
			(h.Lifecycle == nil) != (w.Lifecycle == nil) || !equality.Semantic.DeepEqual(h.Resources, w.Resources) {
			return true
		}
		for j := range w.Ports {
			if h.Ports[j].ContainerPort != w.Ports[j].ContainerPort || h.Ports[j].Name != w.Ports[j].Name {
				return true
			}
		}
	}
	return false
}

// waitingFailures are container waiting reasons that mean the revision
// cannot start (Knative reports them in ContainerHealthy).
var waitingFailures = map[string]bool{
	"ImagePullBackOff": true, "ErrImagePull": true, "InvalidImageName": true, "CrashLoopBackOff": true,
	"CreateContainerConfigError": true, "CreateContainerError": true, "RunContainerError": true,
}

// observe derives what the pure RevisionStatus needs from the Deployment and
// its pods.
func (r *revisionReconciler) observe(ctx context.Context, rev *api.Revision, deploy *appsv1.Deployment) (reconcile.Observed, error) {
	var obs reconcile.Observed
	if deploy == nil {
		return obs, nil
	}
	if deploy.Spec.Replicas != nil {
		obs.Desired = int(*deploy.Spec.Replicas)
	}
	obs.Ready = int(deploy.Status.ReadyReplicas)
	for _, c := range deploy.Status.Conditions {
		switch {
		case c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded":
			obs.Failed, obs.Reason, obs.Message = true, "ProgressDeadlineExceeded", "Initial scale was never achieved"
		case c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue:
			obs.Failed, obs.Reason, obs.Message = true, c.Reason, c.Message
		}
	}
	var pods corev1.PodList
	if err := r.c.List(ctx, &pods, client.InNamespace(rev.Namespace), client.MatchingLabels{api.LabelRevision: rev.Name}); err != nil {
		return obs, err
	}
	for i := range pods.Items {
		for _, cs := range pods.Items[i].Status.ContainerStatuses {
			if cs.Name == QueueContainerName {
				continue
			}
			if w := cs.State.Waiting; w != nil && waitingFailures[w.Reason] {
				obs.Failed, obs.Reason, obs.Message = true, w.Reason, w.Message
				if t := cs.LastTerminationState.Terminated; t != nil && t.ExitCode != 0 {
					obs.Reason = fmt.Sprintf("ExitCode%d", t.ExitCode)
					obs.Message = t.Message
					if obs.Message == "" {
						obs.Message = fmt.Sprintf("Container failed with: %s", t.Reason)
					}
				}
			}
		}
	}
	return obs, nil
}

// ensureService creates want, or puts back its ports, selector, type and
// labels; the API server's own fields (cluster IPs) are kept.
func ensureService(ctx context.Context, c client.Client, want *corev1.Service) error {
	have := &corev1.Service{}
	err := c.Get(ctx, client.ObjectKeyFromObject(want), have)
	if apierrors.IsNotFound(err) {
		if err := c.Create(ctx, want); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create service %s: %w", want.Name, err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	before := have.DeepCopy()
	have.Labels = want.Labels
	have.OwnerReferences = want.OwnerReferences
	have.Spec.Ports = want.Spec.Ports
	have.Spec.Selector = want.Spec.Selector
	have.Spec.Type = want.Spec.Type
	have.Spec.ExternalName = want.Spec.ExternalName
	if want.Spec.ClusterIP == corev1.ClusterIPNone && have.Spec.ClusterIP != corev1.ClusterIPNone {
		// A headless Service cannot be made from a ClusterIP one: recreate.
		if err := c.Delete(ctx, have); client.IgnoreNotFound(err) != nil {
			return err
		}
		return c.Create(ctx, want)
	}
	if want.Spec.Type == corev1.ServiceTypeExternalName {
		have.Spec.ClusterIP, have.Spec.ClusterIPs, have.Spec.IPFamilies, have.Spec.IPFamilyPolicy = "", nil, nil, nil
	}
	if equality.Semantic.DeepEqual(before, have) {
		return nil
	}
	if err := c.Update(ctx, have); err != nil {
		return fmt.Errorf("update service %s: %w", want.Name, err)
	}
	return nil
}
