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
  inspect   compare every cached page and the Cassandra read model with MySQL;
            prints the mismatches, exits 1 if there is one (flags: -video, -grace, -no-cassandra)
  chaos     kill -9 services and restart servers under load, then check nothing
            was lost, duplicated or left stale (flags: -kills, -short, see README.md)
  ring      seed, then 1 readsvc vs a ring of 3 (-peers): hot-page throughput and
            backfills per 1,000 cold requests (run it with .stack/cluster.env for the Redis Cluster)
  hot       one video with the profile's comments (1M in default) and Zipf likes: sort=hot
            page throughput (warm) and hot-window backfill p99 (cold) (make bench-hot)
  capacity  docs/capacity.md's tables from the per-core benchmarks' output (make bench-capacity):
            -log FILE (go test -bench output), -ring DIR (a ring report), -reads, -comments, -cores, -util
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
	switch cmd {
	case "capacity":
		os.Exit(runCapacity(args, os.Stdout))
	case "inspect", "chaos":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := 0
		if cmd == "inspect" {
			code = runInspect(ctx, args, os.Stdout)
		} else {
			code = runChaos(ctx, args, os.Stdout)
		}
		stop()
		os.Exit(code)
	}
	ps := map[string]parts{
		"all": {read: true, write: true, moderate: true}, "seed": {},
		"read": {read: true}, "write": {write: true}, "moderate": {moderate: true},
		"ring": {}, // runRing below
		"hot":  {}, // runHot below
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
	runCmd := run
	if cmd == "ring" {
		runCmd = func(ctx context.Context, logger *slog.Logger, p profile, _ parts, dir, command string) error {
			return runRing(ctx, logger, p, dir, command)
		}
	}
	if cmd == "hot" {
		runCmd = func(ctx context.Context, logger *slog.Logger, p profile, _ parts, dir, command string) error {
			return runHot(ctx, logger, p, dir, command)
		}
	}
	if err := runCmd(ctx, logger, p, want, dir, "go run ./bench "+strings.Join(os.Args[1:], " ")); err != nil {
		logger.Error("bench failed", "err", err, "logs", filepath.Join(dir, "logs"))
		os.Exit(1)
	}
}
