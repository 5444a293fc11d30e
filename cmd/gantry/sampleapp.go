package main

import (
	"context"
	"os"

	"github.com/gantry-dev/gantry/sampleapp"
)

func runSampleApp(ctx context.Context, _ []string) error {
	return sampleapp.Main(ctx, os.Getenv)
}
