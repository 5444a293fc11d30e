package main

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/controller"
	"github.com/gantry-dev/gantry/controller/reconcile"
	"github.com/gantry-dev/gantry/store"
)

const demoV1 = `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: hello
  namespace: default
spec:
  template:
    spec:
      containers:
        - image: gantry/sample-app
          env:
            - name: TARGET
              value: Gantry
`

// demoV2 is a canary: a new revision takes 20% of the traffic, each has a tag.
const demoV2 = `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: hello
  namespace: default
spec:
  template:
    spec:
      containers:
        - image: gantry/sample-app
          env:
            - name: TARGET
              value: Gantry v2
            - name: ERROR_RATE
              value: "0.02"
  traffic:
    - revisionName: hello-00001
      percent: 80
      tag: stable
    - latestRevision: true
      percent: 20
      tag: canary
`

// runDemo deploys the sample app as two revisions and sends it light traffic
// (a few requests a second to this machine's gateway) until ctx ends.
func runDemo(ctx context.Context, log *slog.Logger, st *store.Store, ctl *controller.Controller, gwAddr, domain string) {
	if _, err := st.Get(api.KindService, "default", "hello"); err != nil {
		if !demoApply(ctx, log, st, ctl, demoV1) || !waitReady(ctx, st, "hello-00001") {
			return
		}
		if !demoApply(ctx, log, st, ctl, demoV2) {
			return
		}
		log.Info("demo deployed", "service", "hello", "revisions", "hello-00001 (80%), hello-00002 (20%)")
	}
	client := &http.Client{Timeout: 10 * time.Second}
	host := "hello.default." + domain
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+gwAddr+"/?sleep="+strconv.Itoa(rand.IntN(40)), nil)
		if err != nil {
			return
		}
		req.Host = host
		if resp, err := client.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
}

func demoApply(ctx context.Context, log *slog.Logger, st *store.Store, ctl *controller.Controller, manifest string) bool {
	objs, err := api.Decode(strings.NewReader(manifest))
	if err == nil {
		_, err = controller.Apply(st, ctl.Config(), objs)
	}
	if err != nil {
		log.Error("demo: apply", "err", err)
		return false
	}
	return ctx.Err() == nil
}

func waitReady(ctx context.Context, st *store.Store, rev string) bool {
	for {
		if o, err := st.Get(api.KindRevision, "default", rev); err == nil &&
			reconcile.IsTrue(o.(*api.Revision).Status.Conditions, api.ConditionReady) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(200 * time.Millisecond):
		}
	}
}
