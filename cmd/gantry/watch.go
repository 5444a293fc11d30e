package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"

	"github.com/gantry-dev/gantry/apiserver/wire"
)

// watchEvent is one line of GET /api/v1/{resource}?watch=true.
type watchEvent struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

// watch streams the changes of resource (in ns, or all namespaces when ns is
// empty) from the API on w.events until ctx ends or the stream breaks; then
// events is closed and w.err says why (nil when ctx ended). The reading
// goroutine belongs to the caller: stop ends it and waits for it.
func (c *client) watch(ctx context.Context, resource, ns string) *watcher {
	ctx, cancel := context.WithCancel(ctx)
	w := &watcher{events: make(chan watchEvent), done: make(chan struct{}), cancel: cancel}
	q := url.Values{"watch": {"true"}}
	if ns != "" {
		q.Set("namespace", ns)
	}
	path := "/api/v1/" + url.PathEscape(resource) + "?" + q.Encode()
	go func() {
		defer close(w.done)
		defer close(w.events)
		w.err = c.stream(ctx, path, w.events)
	}()
	return w
}

// watcher is one watch stream being read.
type watcher struct {
	events chan watchEvent
	done   chan struct{}
	cancel context.CancelFunc
	err    error // set before done closes
}

// stop ends the stream and waits for its goroutine; it returns why the
// stream ended on its own (nil if stop ended it).
func (w *watcher) stop() error {
	w.cancel()
	<-w.done
	return w.err
}

func (c *client) stream(ctx context.Context, path string, events chan<- watchEvent) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.server+path, nil)
	if err != nil {
		return err
	}
	if tok := os.Getenv(wire.TokenEnv); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	// No client timeout: a watch lasts as long as its context.
	resp, err := (&http.Client{Transport: c.http.Transport}).Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("cannot reach gantry at %s (is `gantry up` running? set --server or GANTRY_SERVER): %v", c.server, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e wire.Error
		if json.NewDecoder(resp.Body).Decode(&e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("watch %s: %s", path, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var ev watchEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return fmt.Errorf("watch %s: bad event: %w", path, err)
		}
		select {
		case events <- ev:
		case <-ctx.Done():
			return nil
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("watch %s: %w", path, err)
	}
	return fmt.Errorf("watch %s: the server ended the stream", path)
}
