package main

import (
	"context"
	"errors"
	"os"

	"github.com/gantry-dev/gantry/autoscaler"
	"github.com/gantry-dev/gantry/dashboards"
)

func runScale(_ context.Context, args []string) error {
	if len(args) == 0 || args[0] != "simulate" {
		return errors.New("usage: gantry scale simulate --trace FILE [--config FILE] [--annotations k=v,...] [--pod-startup DURATION] [-o csv|json]")
	}
	return autoscaler.SimulateMain(args[1:], os.Stdout, os.ReadFile)
}

func runDashboards(_ context.Context, args []string) error { return dashboards.DashboardsMain(args) }

func runAlerts(_ context.Context, args []string) error { return dashboards.AlertsMain(args) }
