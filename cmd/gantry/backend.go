package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/controller/podspec"
	"github.com/gantry-dev/gantry/controller/runtime"
	"github.com/gantry-dev/gantry/controller/runtime/docker"
	"github.com/gantry-dev/gantry/controller/runtime/process"
)

// chooseBackend picks how revisions run (--runtime) and says why, once.
func chooseBackend(ctx context.Context, mode string, publish bool, stateDir string, lookup podspec.Lookup, deployment func() api.DeploymentConfig, log *slog.Logger) (runtime.Backend, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the gantry binary: %w", err)
	}
	abs, err := filepath.Abs(stateDir)
	if err != nil {
		return nil, fmt.Errorf("state dir %s: %w", stateDir, err)
	}
	switch mode {
	case "process":
		log.Info("revisions run as host processes", "runtime", "process", "reason", "--runtime process")
		return &process.Backend{Binary: exe}, nil
	case "docker", "auto":
	default:
		return nil, fmt.Errorf("--runtime %q: want auto, docker or process", mode)
	}
	b, err := docker.New(ctx, docker.Options{StateDir: abs, Binary: exe, Logger: log, Lookup: lookup, Deployment: deployment, Publish: publish}, 2*time.Second)
	if err != nil {
		if mode == "docker" {
			if errors.Is(err, docker.ErrNoEngine) {
				return nil, fmt.Errorf("--runtime docker: no Docker Engine API answers at %s: start one (sudo systemctl start docker, or `podman system service -t 0 &` with DOCKER_HOST=unix://$XDG_RUNTIME_DIR/podman/podman.sock) or use --runtime process", docker.Host(""))
			}
			return nil, fmt.Errorf("--runtime docker: %w", err)
		}
		log.Info("revisions run as host processes", "runtime", "process", "reason", "no Docker Engine API answers at "+docker.Host(""))
		return &process.Backend{Binary: exe}, nil
	}
	log.Info("revisions run as containers", "runtime", "docker", "engine", b.Engine, "api", b.APIVersion, "host", docker.Host(""),
		"hop", b.Hop())
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := b.Cleanup(cctx); err != nil {
		log.Warn("remove leftover containers", "err", err)
	}
	return b, nil
}
