package server

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/vidcomments/vidcomments/internal/config"
)

// Config is what Main needs of a service's configuration.
type Config interface {
	RegisterFlags(f *config.Flags)
	Proc() *config.Process
}

// BuildFunc builds a service's object graph: every dependency opened, every
// component registered with the App. It must not start serving.
type BuildFunc func(ctx context.Context, logger *slog.Logger) (*App, error)

// Main parses flags (with VC_… environment defaults) into cfg, builds the
// service and runs it until SIGINT or SIGTERM. It returns the exit code.
func Main(name string, args []string, cfg Config, build BuildFunc) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	f := config.NewFlags(fs)
	cfg.RegisterFlags(f)
	if err := f.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 2
	}
	logger, err := NewLogger(os.Stderr, cfg.Proc().LogLevel)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 2
	}
	logger = logger.With("service", name)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	app, err := build(ctx, logger)
	if err != nil {
		logger.Error("start failed", "err", err)
		return 1
	}
	app.ShutdownTimeout = cfg.Proc().ShutdownTimeout
	if err := app.Run(ctx); err != nil {
		logger.Error("stopped with error", "err", err)
		return 1
	}
	return 0
}
