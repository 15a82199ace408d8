package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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

// BuildFunc builds a service's object graph from its parsed configuration:
// every dependency opened, every component registered with the App. It must
// not start serving.
type BuildFunc[C any] func(ctx context.Context, cfg C, logger *slog.Logger) (*App, error)

// Main parses flags (with VC_… environment defaults) into a C, builds the
// service and runs it until SIGINT or SIGTERM. It returns the exit code.
func Main[C any, P interface {
	*C
	Config
}](name string, args []string, build BuildFunc[C]) int {
	var cfg C
	if code, ok := ParseFlags(name, "", args, P(&cfg), os.Stderr); !ok {
		return code
	}
	logger, err := NewLogger(os.Stderr, P(&cfg).Proc().LogLevel)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 2
	}
	logger = logger.With("service", name)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	app, err := build(ctx, cfg, logger)
	if err != nil {
		logger.Error("start failed", "err", err)
		return 1
	}
	app.ShutdownTimeout = P(&cfg).Proc().ShutdownTimeout
	if err := app.Run(ctx); err != nil {
		logger.Error("stopped with error", "err", err)
		return 1
	}
	return 0
}

// ParseFlags registers cfg's flags, with their VC_… environment defaults,
// on a flag set called name that reports to stderr, and parses args. A
// non-empty usage is printed above the flag list on -help. When ok is
// false the command exits with code: 0 after -help, 2 after a bad flag or
// environment value (already said on stderr).
func ParseFlags(name, usage string, args []string, cfg interface{ RegisterFlags(*config.Flags) }, stderr io.Writer) (code int, ok bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if usage != "" {
		fs.Usage = func() {
			fmt.Fprint(fs.Output(), usage)
			fs.PrintDefaults()
		}
	}
	f := config.NewFlags(fs)
	cfg.RegisterFlags(f)
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 2, false
	}
	return 0, true
}
