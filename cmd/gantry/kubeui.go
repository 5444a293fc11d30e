package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/controller/kube"
	"github.com/gantry-dev/gantry/metrics"
	"github.com/gantry-dev/gantry/store"
	"github.com/gantry-dev/gantry/ui"
	"golang.org/x/sync/errgroup"
)

// runKubeUI serves the pages of `gantry up` for a cluster: its Gantry
// objects, mirrored into a throwaway store, and a Prometheus that scrapes it
// (deploy/prometheus). The pages are read-only there: apply with kubectl.
func runKubeUI(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("controller ui", flag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default $KUBECONFIG, ~/.kube/config, else in-cluster)")
	promURL := fs.String("prometheus-url", "", "the Prometheus that scrapes the cluster (required)")
	addr := fs.String("ui-addr", "127.0.0.1:8090", "the pages' address")
	grafana := fs.String("grafana-url", "", "Grafana, for links from alerts to panels")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *promURL == "" {
		return errors.New("controller ui: --prometheus-url is required (the pages' numbers come from it)")
	}
	cfg, err := restConfig(*kubeconfig)
	if err != nil {
		return err
	}
	q, err := metrics.NewRemote(*promURL, nil)
	if err != nil {
		return fmt.Errorf("--prometheus-url %s: %w", *promURL, err)
	}
	dir, err := os.MkdirTemp("", "gantry-kube-ui-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(dir)
	if err != nil {
		return err
	}
	defer st.Close()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("controller ui: %w", err)
	}
	conf := api.DefaultConfig("svc.cluster.local")
	srv := &http.Server{Handler: ui.New(ui.Options{Store: st, Config: func() *api.Config { return conf },
		Querier: q, Logger: log.With("component", "ui"), GrafanaURL: *grafana}),
		ReadHeaderTimeout: 10 * time.Second}
	log.Info("serving the pages of the cluster", "addr", ln.Addr().String(), "prometheus", *promURL)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return kube.Mirror(gctx, cfg, st, log.With("component", "mirror")) })
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	return g.Wait()
}
