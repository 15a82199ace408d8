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
// flags and environment parsed and validated, with about (what the
// subcommand does, whole lines) in its usage, then run called with a
// context that SIGINT and SIGTERM cancel. It returns the exit code: run's,
// 2 for bad flags, 0 for -h.
func runSubcommand(name, about string, args []string, stderr io.Writer, run func(ctx context.Context, cfg Config) int) int {
	var cfg Config
	usage := "usage: syncer " + name + " [flags]\n\n" + about + "Same flags and environment as syncer:\n\n"
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
