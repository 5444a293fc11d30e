package main

import (
	"context"
	"os"

	"github.com/gantry-dev/gantry/queueproxy"
)

func runQueueProxy(ctx context.Context, args []string) error {
	return queueproxy.Main(ctx, args, os.Getenv)
}
