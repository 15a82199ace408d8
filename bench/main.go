// Command bench seeds a private vidcomments cluster, drives open-loop read
// load against readsvc and its baselines, measures write and moderation
// delays, and writes a report (JSON, Markdown, PNG) under bench/out/. See
// README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/vidcomments/vidcomments/internal/stack"
)

const usage = `usage: go run ./bench <command> [flags]

commands:
  all       seed, read, write and moderate (what make bench runs)
  seed      seed and check MySQL, Cassandra and readsvc agree
  read      seed, then the read scenarios against readsvc and its baselines
  write     seed, then post→visible delays under read load
  moderate  seed, then approve→visible and reject→gone delays under read load
  static    (internal) the static-handler baseline process

flags: -profile quick|default|large, -out DIR (default bench/out/<time>)`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	if cmd == "static" {
		if err := runStatic(args); err != nil {
			fmt.Fprintln(os.Stderr, "static:", err)
			os.Exit(1)
		}
		return
	}
	ps := map[string]parts{
		"all": {read: true, write: true, moderate: true}, "seed": {},
		"read": {read: true}, "write": {write: true}, "moderate": {moderate: true},
	}
	want, ok := ps[cmd]
	if !ok {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	prof := fs.String("profile", "default", "quick, default or large")
	out := fs.String("out", "", "report directory (default bench/out/<UTC time>)")
	_ = fs.Parse(args)
	p, ok := profiles[*prof]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown profile %q\n", *prof)
		os.Exit(2)
	}
	dir := *out
	if dir == "" {
		root, err := stack.RepoRoot()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		dir = filepath.Join(root, "bench", "out", time.Now().UTC().Format("20060102T150405Z")+"-"+cmd+"-"+p.Name)
	}
	dir, _ = filepath.Abs(dir)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, logger, p, want, dir, "go run ./bench "+strings.Join(os.Args[1:], " ")); err != nil {
		logger.Error("bench failed", "err", err, "logs", filepath.Join(dir, "logs"))
		os.Exit(1)
	}
}
