// Command concertd serves the concertd HTTP API (docs/API.md). Configuration
// comes from the environment; CONCERTD_EMBEDDED=1 runs everything in-process with
// a demo concert and no outside service.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	cfg, err := configFromEnv(os.Getenv)
	if err == nil {
		err = (&Main{Config: cfg, Out: os.Stdout}).Run(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "concertd:", err)
		os.Exit(1)
	}
}
