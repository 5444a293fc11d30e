package controller

import (
	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/store"
)

// StoreLookup finds Secrets and ConfigMaps in the store, for the runtimes
// (podspec.Lookup).
type StoreLookup struct{ Store *store.Store }

// Secret returns the Secret ns/name.
func (l StoreLookup) Secret(ns, name string) (*api.Secret, bool) {
	o, err := l.Store.Get(api.KindSecret, ns, name)
	if err != nil {
		return nil, false
	}
	s, ok := o.(*api.Secret)
	return s, ok
}

// ConfigMap returns the ConfigMap ns/name.
func (l StoreLookup) ConfigMap(ns, name string) (*api.ConfigMap, bool) {
	o, err := l.Store.Get(api.KindConfigMap, ns, name)
	if err != nil {
		return nil, false
	}
	c, ok := o.(*api.ConfigMap)
	return c, ok
}
