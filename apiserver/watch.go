package apiserver

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/store"
	"github.com/labstack/echo/v4"
	"k8s.io/apimachinery/pkg/labels"
)

// Watch event types, as Kubernetes names them.
const (
	EventAdded    = "ADDED"
	EventModified = "MODIFIED"
	EventDeleted  = "DELETED"
)

// WatchEvent is one line of a watch answer (newline-delimited JSON).
type WatchEvent struct {
	Type   string     `json:"type"`
	Object api.Object `json:"object"`
}

// watchResync is how often a watch compares the store with what it sent:
// the store drops events for a full channel, so a watch cannot rely on them
// alone.
var watchResync = 5 * time.Second

// watch streams the objects of kind: each current one as ADDED, then every
// change until the client goes away. It runs in the request's goroutine, so
// the request owns it.
func (s *server) watch(c echo.Context, kind string, sel labels.Selector) error {
	ns := c.QueryParam("namespace")
	if srv, ok := c.Request().Context().Value(http.ServerContextKey).(*http.Server); ok {
		s.stopWatchesOn(srv)
	}
	ch := make(chan store.Event, 256)
	s.o.Store.Watch(ch)
	defer s.o.Store.Unwatch(ch)

	w := c.Response()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Flush() // the client sees the stream open even with nothing to send yet
	enc := json.NewEncoder(w)
	sent := map[string]api.Object{} // by namespace/name: the last version sent
	send := func(typ string, o api.Object) error {
		if err := enc.Encode(WatchEvent{Type: typ, Object: api.Redacted(o)}); err != nil {
			return err
		}
		w.Flush()
		return nil
	}
	matches := func(o api.Object) bool {
		return (ns == "" || o.GetNamespace() == ns) && (sel == nil || sel.Matches(labels.Set(o.GetLabels())))
	}
	// offer sends o if it is new or changed since it was last sent, and a
	// deletion if it no longer matches.
	offer := func(key string, o api.Object) error {
		prev, had := sent[key]
		switch {
		case o == nil || !matches(o):
			if !had {
				return nil
			}
			delete(sent, key)
			return send(EventDeleted, prev)
		case !had:
			sent[key] = o
			return send(EventAdded, o)
		case prev.GetResourceVersion() != o.GetResourceVersion():
			sent[key] = o
			return send(EventModified, o)
		}
		return nil
	}
	resync := func() error {
		items, err := s.o.Store.List(kind, ns)
		if err != nil {
			return err
		}
		now := map[string]bool{}
		for _, o := range items {
			key := o.GetNamespace() + "/" + o.GetName()
			now[key] = true
			if err := offer(key, o); err != nil {
				return err
			}
		}
		for key := range sent {
			if !now[key] {
				if err := offer(key, nil); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := resync(); err != nil {
		return err
	}
	tick := time.NewTicker(watchResync)
	defer tick.Stop()
	ctx := c.Request().Context()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.stopping:
			return nil
		case <-tick.C:
			if err := resync(); err != nil {
				return err
			}
		case ev := <-ch:
			if ev.Ref.Kind != kind || (ns != "" && ev.Ref.Namespace != ns) {
				continue
			}
			key := ev.Ref.Namespace + "/" + ev.Ref.Name
			var o api.Object
			if !ev.Deleted {
				got, err := s.o.Store.Get(kind, ev.Ref.Namespace, ev.Ref.Name)
				if err == nil {
					o = got
				}
			}
			if err := offer(key, o); err != nil {
				return err
			}
		}
	}
}
