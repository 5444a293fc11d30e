package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gantry-dev/gantry/api"
	gcontroller "github.com/gantry-dev/gantry/controller"
	"github.com/gantry-dev/gantry/controller/reconcile"
	"github.com/gantry-dev/gantry/gateway"
	"github.com/gantry-dev/gantry/internal/h1"
	corev1 "k8s.io/api/core/v1"
)

// gatewayRunner is the built-in gateway and activator on a cluster: it
// watches Routes, Revisions, DomainMappings and the revisions' pods through
// the informers' cache and programs the same gateway `gantry up` runs. A
// request for a revision with no ready pod waits in the activator, which
// pokes the autoscaler (in this process, or over HTTP). Every replica serves.
type gatewayRunner struct {
	*base
	gw     *gateway.Gateway
	scaler *autoscalerRunner
	client *http.Client
}

func newGatewayRunner(b *base, scaler *autoscalerRunner) *gatewayRunner {
	return &gatewayRunner{base: b, scaler: scaler, client: &http.Client{Timeout: 2 * time.Second}}
}

// NeedLeaderElection: every gateway replica serves.
func (g *gatewayRunner) NeedLeaderElection() bool { return false }

func (g *gatewayRunner) coldStart(namespace, revision string) {
	if g.scaler != nil {
		g.scaler.Poke(namespace, revision)
		return
	}
	go func() {
		u := g.o.AutoscalerURL + "/poke?namespace=" + url.QueryEscape(namespace) + "&revision=" + url.QueryEscape(revision)
		resp, err := g.client.Post(u, "text/plain", nil)
		if err != nil {
			g.log.Warn("poke autoscaler", "url", u, "err", err)
			return
		}
		resp.Body.Close()
	}()
}

// Start serves until ctx ends. config-network's client limits are read
// once, here, as `gantry up` reads them at its start: a change takes a
// restart of the gateway's pods.
func (g *gatewayRunner) Start(ctx context.Context) error {
	limits := h1.LimitsFrom(g.config(ctx).Network.Limits)
	g.gw = gateway.New(gateway.Options{Logger: g.log.With("component", "gateway"), Registry: processRegistry,
		OnColdStart: g.coldStart, Limits: limits})
	if g.probe != nil {
		g.probe.local.Store(g.gw)
		defer g.probe.local.Store(nil)
	}
	if g.o.GatewayAddr != "0" {
		ln, err := net.Listen("tcp", g.o.GatewayAddr)
		if err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		// The port is served as `gantry up` serves it: the HTTP/1 engine,
		// handing what is outside its subset (h2c for gRPC, upgrades) to
		// net/http for the rest of the connection.
		fallback := &http.Server{Handler: g.gw, BaseContext: func(net.Listener) context.Context { return ctx },
			ErrorLog: slog.NewLogLogger(g.log.Handler(), slog.LevelDebug)}
		limits.Apply(fallback)
		fallback.Protocols = new(http.Protocols)
		fallback.Protocols.SetHTTP1(true)
		fallback.Protocols.SetUnencryptedHTTP2(true)
		srv := h1.NewServer(g.gw, fallback, g.log.With("component", "gateway"))
		srv.WatchAfter = time.Second
		go func() {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
		}()
		go func() {
			if err := srv.Serve(limits.Listen(ln)); err != nil && !errors.Is(err, http.ErrServerClosed) {
				g.log.Error("gateway server", "addr", g.o.GatewayAddr, "err", err)
			}
		}()
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if err := g.program(ctx); err != nil && ctx.Err() == nil {
			g.log.Error("program gateway", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// program rebuilds the route table and endpoints from the cache.
func (g *gatewayRunner) program(ctx context.Context) error {
	var routes RouteList
	if err := g.c.List(ctx, &routes); err != nil {
		return err
	}
	var revs RevisionList
	if err := g.c.List(ctx, &revs); err != nil {
		return err
	}
	byName := map[string]*api.Revision{}
	for i := range revs.Items {
		byName[revs.Items[i].Namespace+"/"+revs.Items[i].Name] = &revs.Items[i]
	}
	// Routes of the gateway-api class too: their HTTPRoutes send a
	// revision without ready instances here, the activator.
	objs := make([]api.Object, 0, len(routes.Items))
	for i := range routes.Items {
		objs = append(objs, &routes.Items[i])
	}
	entries := gcontroller.RouteEntries(objs, func(ns, name string) *api.Revision { return byName[ns+"/"+name] })
	entries = append(entries, g.domainMappingEntries(ctx, entries)...)
	t, err := gateway.NewTable(entries)
	if err != nil {
		return err
	}
	g.gw.SetTable(t)

	var pods corev1.PodList
	if err := g.c.List(ctx, &pods); err != nil {
		return err
	}
	eps := gateway.Endpoints{}
	for i := range pods.Items {
		p := &pods.Items[i]
		rev := p.Labels[api.LabelRevision]
		if rev == "" || p.Status.PodIP == "" || p.DeletionTimestamp != nil || !podReady(p) {
			continue
		}
		k := gateway.EndpointKey(p.Namespace, rev)
		eps[k] = append(eps[k], gateway.Endpoint{
			HTTP: net.JoinHostPort(p.Status.PodIP, strconv.Itoa(QueueHTTPPort)),
			H2C:  net.JoinHostPort(p.Status.PodIP, strconv.Itoa(QueueH2CPort)),
		})
	}
	g.gw.SetEndpoints(eps)
	return nil
}

// servable: a DomainMapping whose host is its own and whose reference
// resolves is served, Ready or not yet: its reconciler says Ready only once
// the gateways serve it (probe.go).
func servable(dm *api.DomainMapping) bool {
	return reconcile.IsTrue(dm.Status.Conditions, api.ConditionDomainClaimed) &&
		reconcile.IsTrue(dm.Status.Conditions, api.ConditionReferenceResolved) &&
		reconcile.IsTrue(dm.Status.Conditions, reconcile.ConditionCertificateProvisioned)
}

// domainMappingEntries serves each servable DomainMapping's host with its
// route's traffic, rewriting the Host to the route's.
func (g *gatewayRunner) domainMappingEntries(ctx context.Context, routeEntries []gateway.RouteEntry) []gateway.RouteEntry {
	var dms DomainMappingList
	if err := g.c.List(ctx, &dms); err != nil {
		return nil
	}
	byRoute := map[string]gateway.RouteEntry{}
	for _, e := range routeEntries {
		if e.Tag == "" && e.PathPrefix == "" {
			byRoute[e.Namespace+"/"+e.Route] = e
		}
	}
	var out []gateway.RouteEntry
	for i := range dms.Items {
		dm := &dms.Items[i]
		if !servable(dm) {
			continue
		}
		ns := dm.Spec.Ref.Namespace
		if ns == "" {
			ns = dm.Namespace
		}
		e, ok := byRoute[ns+"/"+dm.Spec.Ref.Name]
		if !ok {
			continue
		}
		e.RewriteHost = e.Host
		e.Host = dm.Name
		out = append(out, e)
	}
	return out
}
