package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"github.com/vidcomments/vidcomments/internal/server"
)

// runSubcommand is what every `syncer <name>` shares: the syncer's own
// flags and environment parsed under usage and validated, then run called
// with a context that SIGINT and SIGTERM cancel. It returns the exit code:
// run's, 2 for bad flags, 0 for -h.
func runSubcommand(name, usage string, args []string, stderr io.Writer, run func(ctx context.Context, cfg Config) int) int {
	var cfg Config
	if code, ok := server.ParseFlags("syncer "+name, usage, args, &cfg, stderr); !ok {
		return code
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "syncer %s: %v\n", name, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return run(ctx, cfg)
}
