package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vidcomments/vidcomments/internal/config"
	"github.com/vidcomments/vidcomments/internal/inspect"
	"github.com/vidcomments/vidcomments/internal/inspect/cqlsource"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/stores/cassandrastore"
	"github.com/vidcomments/vidcomments/internal/stores/mysqlstore"
	"github.com/vidcomments/vidcomments/internal/stores/redisstore"
)

// inspectConfig is the configuration of `bench inspect`.
type inspectConfig struct {
	MySQL     config.MySQL
	Redis     config.Redis
	Cassandra config.Cassandra
	Video     int64
	Grace     time.Duration
	Window    int
	NoCQL     bool
}

func (c *inspectConfig) register(f *config.Flags) {
	c.MySQL.RegisterFlags(f)
	c.Redis.RegisterFlags(f)
	c.Cassandra.RegisterFlags(f)
	f.Int64(&c.Video, "video", "VC_INSPECT_VIDEO", 0, "inspect only this video (0: every video in MySQL or the cache)")
	f.Duration(&c.Grace, "grace", "VC_INSPECT_GRACE", 0, "ignore mismatches younger than this (0: report all)")
	f.Int(&c.Window, "cache-window", "VC_CACHE_WINDOW", pagecache.DefaultWindow, "newest comments cached per video (as readsvc and cdc)")
	f.Bool(&c.NoCQL, "no-cassandra", "VC_INSPECT_NO_CASSANDRA", false, "compare only Redis with MySQL")
}

// runInspect is `go run ./bench inspect`: one inspection over everything
// (or -video), a table of mismatches on w, exit status 1 when there is one.
func runInspect(ctx context.Context, args []string, w io.Writer) int {
	var cfg inspectConfig
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	f := config.NewFlags(fs)
	cfg.register(f)
	if err := f.Parse(args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	rep, err := inspectOnce(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "inspect:", err)
		return 2
	}
	ms := rep.Older(cfg.Grace)
	printMismatches(w, rep, ms)
	if len(ms) > 0 {
		return 1
	}
	return 0
}

// inspectOnce opens the stores of cfg and inspects every video (or
// cfg.Video) once.
func inspectOnce(ctx context.Context, cfg inspectConfig) (inspect.Report, error) {
	db, err := mysqlstore.Open(ctx, cfg.MySQL)
	if err != nil {
		return inspect.Report{}, err
	}
	defer db.Close()
	rdb := redisstore.New(cfg.Redis)
	defer rdb.Close()
	cache := pagecache.New(rdb, pagecache.Options{Window: cfg.Window})
	opts := inspect.Options{Concurrency: 8, Redis: rdb}
	if !cfg.NoCQL {
		if cfg.Cassandra.Timeout <= 0 {
			cfg.Cassandra.Timeout = 20 * time.Second
		}
		s, err := cassandrastore.Open(cfg.Cassandra)
		if err != nil {
			return inspect.Report{}, err
		}
		defer s.Close()
		opts.Cassandra = cqlsource.New(s)
	}
	in := inspect.New(db, cache, opts)
	videos := []int64{cfg.Video}
	if cfg.Video == 0 {
		if videos, err = in.Videos(ctx); err != nil {
			return inspect.Report{}, err
		}
	}
	return in.Run(ctx, videos)
}

// printMismatches writes a summary line, the counts by kind and a table of
// the mismatches (the first 200).
func printMismatches(w io.Writer, rep inspect.Report, ms []inspect.Mismatch) {
	fmt.Fprintf(w, "inspected %d videos in %s: %d mismatches (%d counted)\n", rep.Videos, rep.Took.Round(time.Millisecond), len(rep.Mismatches), len(ms))
	if len(ms) == 0 {
		kinds := make([]string, len(inspect.Kinds))
		for i, k := range inspect.Kinds {
			kinds[i] = string(k)
		}
		fmt.Fprintln(w, "kinds:", strings.Join(kinds, " "))
		return
	}
	counts := inspect.ByKind(ms)
	var parts []string
	for _, k := range inspect.Kinds {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", k, counts[k]))
		}
	}
	fmt.Fprintln(w, "by kind:", strings.Join(parts, " "))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tVIDEO\tCOMMENT\tAGE\tWHERE\tDETAIL")
	for i, m := range ms {
		if i == 200 {
			fmt.Fprintf(tw, "…\t%d more\t\t\t\t\n", len(ms)-200)
			break
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", m.Kind, m.Video, m.ID, m.Age.Round(time.Millisecond), m.Where, m.Detail)
	}
	tw.Flush()
}
