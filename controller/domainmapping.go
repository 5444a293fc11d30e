package controller

import (
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/controller/reconcile"
	"github.com/gantry-dev/gantry/gateway"
	"github.com/gantry-dev/gantry/store"
)

// reconcileDomainMappings resolves every DomainMapping and remembers the
// hosts (and certificates) the gateway must serve for the ready ones.
func (c *Controller) reconcileDomainMappings(cfg *api.Config) error {
	objs, err := c.o.Store.List(api.KindDomainMapping, "")
	if err != nil {
		return err
	}
	routes, err := c.o.Store.List(api.KindRoute, "")
	if err != nil {
		return err
	}
	dms := make([]*api.DomainMapping, 0, len(objs))
	for _, o := range objs {
		dms = append(dms, o.(*api.DomainMapping))
	}
	routeHosts := map[string]string{}
	for _, e := range RouteEntries(routes, nil) {
		routeHosts[e.Host] = e.Namespace + "/" + e.Route
	}
	in := reconcile.DomainMappingInputs{
		Service: func(ns, name string) *api.Service {
			if o, err := c.o.Store.Get(api.KindService, ns, name); err == nil {
				return o.(*api.Service)
			}
			return nil
		},
		Route: func(ns, name string) *api.Route {
			if o, err := c.o.Store.Get(api.KindRoute, ns, name); err == nil {
				return o.(*api.Route)
			}
			return nil
		},
		Claims:     reconcile.DomainClaims(dms),
		RouteHosts: routeHosts,
		TLSSecret: func(ns, name string) error {
			_, err := c.secretCert(ns, name)
			return err
		},
		Scheme: cfg.Network.DefaultExternalScheme, Port: c.o.GatewayPort, TLSPort: c.o.GatewayTLSPort,
	}
	var errs []error
	c.dmTargets = c.dmTargets[:0]
	for _, dm := range dms {
		res := reconcile.DomainMapping(dm, in, c.o.Now())
		dm.Status = res.Status
		if err := c.o.Store.UpdateStatus(dm); err != nil && !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, fmt.Errorf("domainmapping %s/%s status: %w", dm.Namespace, dm.Name, err))
		}
		if res.Target != nil {
			c.dmTargets = append(c.dmTargets, *res.Target)
		}
	}
	return errors.Join(errs...)
}

// secretCert loads a kubernetes.io/tls Secret as a certificate.
func (c *Controller) secretCert(ns, name string) (*tls.Certificate, error) {
	o, err := c.o.Store.Get(api.KindSecret, ns, name)
	if err != nil {
		return nil, fmt.Errorf("secret %s/%s: %w", ns, name, err)
	}
	sec := o.(*api.Secret)
	if err := reconcile.ValidTLSSecret(sec); err != nil {
		return nil, err
	}
	crt, key := sec.Data["tls.crt"], sec.Data["tls.key"]
	if len(crt) == 0 {
		crt = []byte(sec.StringData["tls.crt"])
	}
	if len(key) == 0 {
		key = []byte(sec.StringData["tls.key"])
	}
	cert, err := tls.X509KeyPair(crt, key)
	if err != nil {
		return nil, fmt.Errorf("secret %s/%s: %w", ns, name, err)
	}
	return &cert, nil
}

// domainMappingEntries gives each mapped host its route's traffic, with the
// Host rewritten to the route's own host, and collects the certificates.
func (c *Controller) domainMappingEntries(routeEntries []gateway.RouteEntry) ([]gateway.RouteEntry, map[string]*tls.Certificate) {
	byRoute := map[string]gateway.RouteEntry{}
	for _, e := range routeEntries {
		if e.Tag == "" {
			byRoute[e.Namespace+"/"+e.Route] = e
		}
	}
	var out []gateway.RouteEntry
	certs := map[string]*tls.Certificate{}
	for _, t := range c.dmTargets {
		e, ok := byRoute[t.Namespace+"/"+t.Route]
		if !ok {
			continue
		}
		e.Host, e.RewriteHost = t.Host, t.RouteHost
		out = append(out, e)
		if t.TLSSecret != "" {
			cert, err := c.secretCert(t.Namespace, t.TLSSecret)
			if err != nil {
				c.log.Warn("domainmapping certificate", "host", t.Host, "err", err)
				continue
			}
			certs[t.Host] = cert
		}
	}
	return out, certs
}
