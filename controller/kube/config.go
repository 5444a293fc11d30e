package kube

import (
	"context"
	"log/slog"
	"strings"

	"github.com/gantry-dev/gantry/api"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// loadConfig assembles the stack configuration from the config-* ConfigMaps
// of the system namespace (Knative's config-domain, config-network,
// config-gc, config-autoscaler, config-defaults), over Knative's defaults. A
// map that does not parse is logged and skipped: the defaults stay.
func loadConfig(ctx context.Context, r client.Reader, ns, domain string, log *slog.Logger) *api.Config {
	cfg := api.DefaultConfig(domain)
	cfg.Network.IngressClass = IngressClassGantry
	var cms corev1.ConfigMapList
	if err := r.List(ctx, &cms, client.InNamespace(ns)); err != nil {
		log.Error("list config maps", "namespace", ns, "err", err)
		return cfg
	}
	for i := range cms.Items {
		cm := &cms.Items[i]
		if !strings.HasPrefix(cm.Name, "config-") {
			continue
		}
		acm := &api.ConfigMap{ObjectMeta: cm.ObjectMeta, Data: cm.Data}
		if err := api.ParseConfigMap(acm, cfg); err != nil {
			log.Error("ignoring invalid config map", "namespace", ns, "name", cm.Name, "err", err)
		}
	}
	return cfg
}
