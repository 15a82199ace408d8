package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"log/slog"
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
	Repair    bool
	Settle    time.Duration
}

func (c *inspectConfig) register(f *config.Flags) {
	c.MySQL.RegisterFlags(f)
	c.Redis.RegisterFlags(f)
	c.Cassandra.RegisterFlags(f)
	f.Int64(&c.Video, "video", "VC_INSPECT_VIDEO", 0, "inspect only this video (0: every video in MySQL or the cache)")
	f.Duration(&c.Grace, "grace", "VC_INSPECT_GRACE", 0, "ignore mismatches younger than this (0: report all)")
	f.Int(&c.Window, "cache-window", "VC_CACHE_WINDOW", pagecache.DefaultWindow, "newest comments cached per video (as readsvc and cdc)")
	f.Bool(&c.NoCQL, "no-cassandra", "VC_INSPECT_NO_CASSANDRA", false, "compare only Redis with MySQL")
	f.Bool(&c.Repair, "repair", "VC_INSPECT_REPAIR", false, "repair what is found (from MySQL, through the change log and cdc; needs the four services running), then inspect again")
	f.Duration(&c.Settle, "repair-wait", "VC_INSPECT_REPAIR_WAIT", 30*time.Second, "how long -repair waits for the pipeline to carry its repairs before the last inspection")
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
	st, err := openInspection(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "inspect:", err)
		return 2
	}
	defer st.close()
	rep, err := st.run(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "inspect:", err)
		return 2
	}
	ms := rep.Older(cfg.Grace)
	printMismatches(w, rep, ms)
	if len(ms) == 0 {
		return 0
	}
	if !cfg.Repair {
		return 1
	}
	if rep, err = st.repair(ctx, w, ms, cfg.Settle); err != nil {
		fmt.Fprintln(os.Stderr, "inspect:", err)
		return 2
	}
	ms = rep.Older(cfg.Grace)
	fmt.Fprint(w, "after the repair: ")
	printMismatches(w, rep, ms)
	if len(ms) > 0 {
		return 1
	}
	return 0
}

// inspection is an inspector over the stores of a config.
type inspection struct {
	cfg    inspectConfig
	db     *sql.DB
	cache  *pagecache.Cache
	in     *inspect.Inspector
	closes []func() error
}

// openInspection opens the stores of cfg.
func openInspection(ctx context.Context, cfg inspectConfig) (*inspection, error) {
	st := &inspection{cfg: cfg}
	db, err := mysqlstore.Open(ctx, cfg.MySQL)
	if err != nil {
		return nil, err
	}
	rdb := redisstore.New(cfg.Redis)
	st.db, st.closes = db, []func() error{db.Close, rdb.Close}
	st.cache = pagecache.New(rdb, pagecache.Options{Window: cfg.Window})
	opts := inspect.Options{Concurrency: 8, Lists: true}
	if !cfg.NoCQL {
		if cfg.Cassandra.Timeout <= 0 {
			cfg.Cassandra.Timeout = 20 * time.Second
		}
		s, err := cassandrastore.Open(cfg.Cassandra)
		if err != nil {
			st.close()
			return nil, err
		}
		st.closes = append(st.closes, func() error { s.Close(); return nil })
		opts.Cassandra = cqlsource.New(s)
	}
	st.in = inspect.New(db, st.cache, opts)
	return st, nil
}

func (st *inspection) close() {
	for _, c := range st.closes {
		_ = c()
	}
}

// run inspects every video (or cfg.Video) once.
func (st *inspection) run(ctx context.Context) (inspect.Report, error) {
	videos := []int64{st.cfg.Video}
	if st.cfg.Video == 0 {
		var err error
		if videos, err = st.in.Videos(ctx); err != nil {
			return inspect.Report{}, err
		}
	}
	return st.in.Run(ctx, videos)
}

// repair repairs ms, prints what it did, waits until the outbox relay has
// sent every event up to the repair's and then inspects again until
// nothing is left or wait is over; a video still stale after the first
// inspection loses its cached pages once (the last resort).
func (st *inspection) repair(ctx context.Context, w io.Writer, ms []inspect.Mismatch, wait time.Duration) (inspect.Report, error) {
	r := inspect.NewRepairer(st.db, st.cache, slog.New(slog.DiscardHandler), nil)
	done, err := r.Repair(ctx, ms, nil)
	printRepairs(w, done)
	if err != nil {
		fmt.Fprintln(w, "some repairs failed (the next inspection finds them again):", err)
	}
	var last int64
	if err := st.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM outbox`).Scan(&last); err != nil {
		return inspect.Report{}, err
	}
	deadline := time.Now().Add(wait)
	dropped := false
	for {
		var unsent int
		if err := st.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND id <= ?`, last).Scan(&unsent); err != nil {
			return inspect.Report{}, err
		}
		if unsent == 0 {
			rep, err := st.run(ctx)
			if err != nil || len(rep.Older(st.cfg.Grace)) == 0 || time.Now().After(deadline) {
				return rep, err
			}
			if !dropped && time.Now().After(deadline.Add(-wait/2)) { // half the wait gone: the last resort
				dropped = true
				again := map[int64]bool{}
				for _, m := range rep.Older(st.cfg.Grace) {
					again[m.Video] = true
				}
				d, _ := r.Repair(ctx, rep.Older(st.cfg.Grace), again)
				fmt.Fprint(w, "still stale at half the wait; ")
				printRepairs(w, d)
			}
		} else if time.Now().After(deadline) {
			return inspect.Report{}, fmt.Errorf("%d outbox events still unsent after %s: is writesvc's relay running?", unsent, wait)
		}
		select {
		case <-ctx.Done():
			return inspect.Report{}, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// printRepairs writes the repairs by action and by kind.
func printRepairs(w io.Writer, r inspect.Repairs) {
	var acts, kinds []string
	for _, a := range inspect.Actions {
		if n := r.ByAction[a]; n > 0 {
			acts = append(acts, fmt.Sprintf("%s=%d", a, n))
		}
	}
	for _, k := range inspect.Kinds {
		if n := r.ByKind[k]; n > 0 {
			kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
		}
	}
	fmt.Fprintf(w, "repaired %d: by action %s; by kind %s\n", r.Total(), strings.Join(acts, " "), strings.Join(kinds, " "))
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
