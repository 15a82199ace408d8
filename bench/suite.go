package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vidcomments/vidcomments/bench/load"
	"github.com/vidcomments/vidcomments/bench/report"
	"github.com/vidcomments/vidcomments/readsvc/pages"
)

// profile sizes a run.
type profile struct {
	Name                      string
	Videos, Comments, Hot     int
	ReplyParents, RepliesEach int           // replies seeded on the hot video's newest comments
	Step                      time.Duration // one ramp step
	Warmup                    time.Duration // unrecorded load before each ramp
	ProfileFor                time.Duration // CPU profile of readsvc under the hot load
	Start, DirectStart        float64       // first offered rate (direct-Cassandra modes start lower)
	Factor, MaxRate           float64
	P99Target                 time.Duration
	Workers                   int
	CheckSamples              int
	DeepPages                 int
	WriteSamples, ModSamples  int
	BackgroundRate            float64 // read load behind the write and moderation runs
	Ramps                     []ramp  // the read ramps to run; nil: defaultRamps
}

// A ramp is one scenario's open-loop ramp over some modes (targets).
type ramp struct {
	Scenario string
	Modes    []string
}

// defaultRamps are the read ramps of the quick and default profiles.
var defaultRamps = []ramp{
	{"hot", []string{"static", "readsvc", "redis-only", "cassandra-direct"}},
	{"zipf", []string{"static", "readsvc", "redis-only", "cassandra-direct"}},
	{"deep", []string{"readsvc", "cassandra-direct"}},
	{"cold", []string{"readsvc"}},
}

var profiles = map[string]profile{
	"quick": {
		Name: "quick", Videos: 50, Comments: 20000, Hot: 5000, ReplyParents: 5, RepliesEach: 10,
		Step: time.Second, Warmup: 500 * time.Millisecond, ProfileFor: time.Second, Start: 1000, DirectStart: 100, Factor: 2, MaxRate: 64000, P99Target: 50 * time.Millisecond, Workers: 256,
		CheckSamples: 100, DeepPages: 60, WriteSamples: 20, ModSamples: 20, BackgroundRate: 500,
	},
	"default": {
		Name: "default", Videos: 500, Comments: 250000, Hot: 200000, ReplyParents: 20, RepliesEach: 50,
		Step: 3 * time.Second, Warmup: time.Second, ProfileFor: 3 * time.Second, Start: 800, DirectStart: 100, Factor: 1.6, MaxRate: 64000, P99Target: 50 * time.Millisecond, Workers: 256,
		CheckSamples: 300, DeepPages: 200, WriteSamples: 100, ModSamples: 100, BackgroundRate: 1000,
	},
	"large": {
		// Issue #16's shape: one video with 1,000,000 comments plus 100,000
		// videos with 2,000,000 in all (Zipf), 3,000,000 comments.
		// Its ramps are the ones its goals need (zipf: reads without
		// Cassandra, readsvc against direct Cassandra; hot: the background
		// rate of the write runs), so that the run, seeding included, fits
		// in 15 minutes; the static comparisons are the wrk block's.
		Name: "large", Videos: 100_001, Comments: 3_000_000, Hot: 1_000_000, ReplyParents: 100, RepliesEach: 100,
		Step: 4 * time.Second, Warmup: 2 * time.Second, ProfileFor: 5 * time.Second, Start: 1000, DirectStart: 25, Factor: 1.6, MaxRate: 64000, P99Target: 50 * time.Millisecond, Workers: 256,
		CheckSamples: 500, DeepPages: 400, WriteSamples: 100, ModSamples: 100, BackgroundRate: 1000,
		Ramps: []ramp{
			{"hot", []string{"readsvc"}},
			{"zipf", []string{"readsvc", "cassandra-direct"}},
		},
	},
}

// parts says which phases a command runs (seeding and its check always).
type parts struct{ read, write, moderate bool }

// run is every command but static: private cluster, seed, check, then the
// phases asked for, and the report in outDir.
func run(ctx context.Context, logger *slog.Logger, p profile, ps parts, outDir, command string) (err error) {
	rep := newReport(fmt.Sprintf("vidcomments benchmark (%s profile)", p.Name), command)
	c, err := newCluster(ctx, logger, filepath.Join(outDir, "logs"))
	if err != nil {
		return err
	}
	var d dataset
	defer func() { c.teardown(d.First, len(d.Counts)) }()
	d, seedTook, err := seed(ctx, c, p, logger)
	if err != nil {
		return err
	}
	rep.Extra = append(rep.Extra,
		report.NamedFigure{Name: "seeded comments", Value: float64(d.Total), Unit: "comments"},
		report.NamedFigure{Name: "seeded videos", Value: float64(len(d.Counts)), Unit: "videos"},
		report.NamedFigure{Name: "hot video comments", Value: float64(d.Counts[0]), Unit: "comments"},
		report.NamedFigure{Name: "seeded replies (hot video)", Value: float64(d.Replies), Unit: "replies"},
		report.NamedFigure{Name: "seed time", Value: seedTook.Seconds(), Unit: "s"},
		report.NamedFigure{Name: "seed rate (MySQL + Cassandra)", Value: float64(d.Total+d.Replies) / seedTook.Seconds(), Unit: "comments/s"},
	)

	// The services: cdc after the seed (it starts at the end of the binlog).
	if _, err := c.start(ctx, "syncer", "syncer", "post", false); err != nil {
		return err
	}
	if _, err := c.start(ctx, "cdc", "cdc", "post", false, "-server-id", fmt.Sprint(30000+time.Now().UnixNano()%10000)); err != nil {
		return err
	}
	startRead := func(name string, args ...string) (*proc, error) {
		peer, err := freeAddr()
		if err != nil {
			return nil, err
		}
		return c.start(ctx, name, "readsvc", "post", true, append([]string{"-peer-addr", peer}, args...)...)
	}
	full, err := startRead("readsvc")
	if err != nil {
		return err
	}
	client := loadClient(p.Workers)
	defer client.CloseIdleConnections()
	chk, err := checkSeed(ctx, c, d, "http://"+full.Addr, p.CheckSamples)
	if err != nil {
		return err
	}
	logger.Info("seed check", "comments", chk.Comments, "pages", chk.Pages, "mismatches", chk.Mismatches, "examples", chk.Examples)
	waited, settled, err := settleCompactions(ctx, c.Session, c.Cass.Keyspace, 90*time.Second)
	if err != nil {
		return err
	}
	logger.Info("cassandra compactions", "waited", waited.Round(time.Second), "settled", settled)
	if settled {
		rep.Notes = append(rep.Notes, fmt.Sprintf("After the seed the run waited %v until Cassandra ran no compaction of the keyspace (system_views.sstable_tasks).", waited.Round(time.Second)))
	} else {
		rep.Notes = append(rep.Notes, fmt.Sprintf("After the seed Cassandra was still compacting the keyspace when the run went on (after %v): the read figures include that work.", waited.Round(time.Second)))
	}
	rep.Notes = append(rep.Notes,
		fmt.Sprintf("Seed: bulk path — %d approved comments on %d videos (Zipf s=1.0 comment counts; hot video %d comments) plus %d replies on its newest comments, written as multi-row INSERTs into MySQL (with the change log's INSERT trigger lifted for the load and put back before any service starts) and through the read model's bulk loader (syncer/readmodel.Loader: the rows the syncer's Apply writes, counts derived once at the end) into Cassandra; Redis left empty and filled lazily by readsvc.", d.Total, len(d.Counts), d.Counts[0], d.Replies),
		fmt.Sprintf("Seed check: %d random comments compared in MySQL, Cassandra (comments_by_id) and readsvc (GET /v1/comments/{id}); first pages and totals of %d videos (hot included) compared between readsvc and MySQL: %d mismatches.", chk.Comments, chk.Pages, chk.Mismatches),
	)
	rep.Extra = append(rep.Extra, report.NamedFigure{Name: "seed check mismatches", Value: float64(chk.Mismatches), Unit: "differences"})
	if chk.Mismatches > 0 {
		return fmt.Errorf("seed check: %d mismatches, e.g. %s", chk.Mismatches, strings.Join(chk.Examples, "; "))
	}

	hotWalk, err := walk(ctx, client, "http://"+full.Addr, d.video(0), p.DeepPages)
	if err != nil {
		return err
	}
	plan := &readPlan{d: d, zipf: newZipf(len(d.Counts), 1.0), hotWalk: hotWalk}
	scs := plan.scenarios()
	readsvc := target{Mode: "readsvc", Base: "http://" + full.Addr, Metrics: "http://" + full.Admin + "/metrics"}
	hotBest := 0.0

	if ps.read {
		nogc, err := startRead("readsvc-redis-only", "-groupcache-bytes", "0")
		if err != nil {
			return err
		}
		direct, err := startRead("readsvc-cassandra-direct", "-caches-off")
		if err != nil {
			return err
		}
		pagesFile := filepath.Join(outDir, "logs", "static-pages.json")
		// The static baseline serves what the wrk block asks for and, when
		// a ramp drives it, every path of the hot and zipf scenarios.
		ramps := p.Ramps
		if ramps == nil {
			ramps = defaultRamps
		}
		hotByLikes := firstPage(d.video(0)) + "&sort=hot"
		staticPaths := []string{firstPage(d.video(0)), hotByLikes}
		if slices.ContainsFunc(ramps, func(r ramp) bool { return slices.Contains(r.Modes, "static") }) {
			staticPaths = append(plan.staticPaths(), hotByLikes) // which warms every first page too
		} else {
			took, err := warmFirstPages(ctx, client, readsvc.Base, plan.staticPaths())
			if err != nil {
				return err
			}
			rep.Notes = append(rep.Notes, fmt.Sprintf("Before the ramps every video's first page was read once (%d pages, 32 at a time, in %v), as the static baseline's page fetch does on the other profiles: the zipf figures are of warm caches; the cold deep pages are the cold figure.", len(plan.staticPaths()), took.Round(time.Second)))
		}
		if err := writeStaticPages(ctx, client, readsvc.Base, staticPaths, pagesFile); err != nil {
			return err
		}
		static, err := c.start(ctx, "static", "bench", "post", true, "static", "-pages", pagesFile)
		if err != nil {
			return err
		}
		ht, err := measureHTTPTiers(ctx, logger, full, static, firstPage(d.video(0)), hotByLikes, filepath.Join(outDir, "readsvc-wrk.cpu.pprof"))
		if err != nil {
			return fmt.Errorf("http tiers: %w", err)
		}
		rep.Ratios = append(rep.Ratios, ht.Ratios...)
		rep.Extra = append(rep.Extra, ht.Figures...)
		rep.Notes = append(rep.Notes, ht.Note)
		if err := heapProfile(ctx, client, full.Admin, filepath.Join(outDir, "readsvc.heap.pprof")); err != nil {
			return err
		}
		zr, zfigs, err := measureZipfUnderWrk(ctx, logger, plan, full, direct, filepath.Join(outDir, "logs", "zipf-paths.txt"))
		if err != nil {
			return err
		}
		rep.Ratios = append(rep.Ratios, zr)
		rep.Extra = append(rep.Extra, zfigs...)
		rep.Notes = append(rep.Notes, "CPU profile of readsvc under wrk (one more sort=time run after the rounds): readsvc-wrk.cpu.pprof (`go tool pprof -top logs/bin/readsvc readsvc-wrk.cpu.pprof` in this directory).")
		rep.Notes = append(rep.Notes, "Heap profile of readsvc after the wrk block (caches as the warm-up and the wrk rounds left them): readsvc.heap.pprof (`go tool pprof -sample_index=inuse_space -top logs/bin/readsvc readsvc.heap.pprof` in this directory).")
		targets := map[string]target{
			"readsvc":          readsvc,
			"redis-only":       {Mode: "redis-only", Base: "http://" + nogc.Addr, Metrics: "http://" + nogc.Admin + "/metrics"},
			"cassandra-direct": {Mode: "cassandra-direct", Base: "http://" + direct.Addr, Metrics: "http://" + direct.Admin + "/metrics", Floor: true},
			"static":           {Mode: "static", Base: "http://" + static.Addr},
		}
		best := map[string]float64{}
		tiers := map[string]*report.Tier{}
		for _, g := range ramps {
			var before func(context.Context) error
			if g.Scenario == "cold" {
				before = flushCaches(c, d)
			}
			var ts []target
			var starts []float64
			for _, m := range g.Modes {
				ts = append(ts, targets[m])
				if m == "cassandra-direct" {
					starts = append(starts, p.DirectStart)
				} else {
					starts = append(starts, p.Start)
				}
			}
			ms, trs, err := rampGroup(ctx, logger, p, client, scs[g.Scenario], ts, starts, before)
			if err != nil {
				return fmt.Errorf("%s: %w", g.Scenario, err)
			}
			for i, m := range ms {
				rep.Modes = append(rep.Modes, m)
				best[m.Name] = m.BestRPS
				if m.LatencyFloor {
					rep.Notes = append(rep.Notes, fmt.Sprintf("%s missed the p99 target already at its first rate: its latency floor is above the target, so its best rate is the highest it sustained with < 1%% errors or unsent requests, whatever its p99 (at most %d in flight: a slow answer still limits it). The rule is looser than the others', so a ratio against it errs in its favour.", m.Name, p.Workers))
				}
				if trs[i] != nil {
					rep.Tiers = append(rep.Tiers, *trs[i])
					tiers[m.Name] = trs[i]
				}
			}
		}
		hotBest = best["hot/readsvc"]
		cd, err := measureColdDeep(ctx, c, client, readsvc.Base, readsvc.Metrics, d.video(0), coldDeepSamples)
		if err != nil {
			return err
		}
		rep.Ratios = append(rep.Ratios, report.Ratio{Name: "cold page of the hot video at any depth: p99", Value: float64(cd.P99) / float64(time.Millisecond), Goal: 20, Unit: "ms",
			Detail: fmt.Sprintf("%d pages after random comments of the %d-comment video (the deepest %d comments down), the video invalidated before each, one at a time: p50 %v, p99 %v, max %v; %s",
				cd.Samples, d.Counts[0], cd.DeepestOrdinal, cd.P50, cd.P99, cd.Max, cd.Breakdown())})
		rss, err := rssBytes(full.cmd.Process.Pid)
		if err != nil {
			return err
		}
		budget := pages.DefaultCacheBytes + pages.DefaultCacheBytes/8 + 64<<20
		rep.Ratios = append(rep.Ratios, report.Ratio{Name: "readsvc resident memory after the read runs", Value: float64(rss) / (1 << 20), Goal: float64(budget) / (1 << 20), Unit: "MiB",
			Detail: fmt.Sprintf("VmRSS %d MiB; goal: its groupcache bytes (pages %d MiB + comments %d MiB) + 64 MiB", rss>>20, pages.DefaultCacheBytes>>20, pages.DefaultCacheBytes>>23)})
		// Where readsvc's time goes: CPU profiles at the best sustained
		// rate of the hot and zipf scenarios.
		for _, sc := range []string{"hot", "zipf"} {
			file := filepath.Join(outDir, "readsvc-"+sc+".cpu.pprof")
			r, err := cpuProfile(ctx, client, p, scs[sc], readsvc, full.Admin, max(best[sc+"/readsvc"], p.Start), p.ProfileFor, file)
			if err != nil {
				return err
			}
			rep.Notes = append(rep.Notes, fmt.Sprintf("CPU profile of readsvc under the %s scenario at %.0f req/s for %v (%s): readsvc-%s.cpu.pprof (`go tool pprof -top logs/bin/readsvc readsvc-%s.cpu.pprof` in this directory).", sc, r.Rate, p.ProfileFor, r.String(), sc, sc))
		}
		// Each ratio needs the modes it compares to have run (a profile's
		// Ramps may leave some out).
		ran := func(modes ...string) bool {
			for _, m := range modes {
				if _, ok := best[m]; !ok {
					return false
				}
			}
			return true
		}
		type goal struct {
			needs []string
			ratio func() report.Ratio
		}
		goals := []goal{
			{[]string{"hot/readsvc", "hot/static"}, func() report.Ratio {
				return report.Ratio{Name: "hot scenario, open loop: readsvc / static handler best sustained rate", Value: ratio(best["hot/readsvc"], best["hot/static"]), Goal: 0.9, Higher: true, Unit: "×",
					Detail: fmt.Sprintf("best sustained rates with p99 < %v: readsvc %.0f/s, static %.0f/s; the Go load generator's own ceiling is not measured here (see the wrk ratios for throughput)", p.P99Target, best["hot/readsvc"], best["hot/static"])}
			}},
			{[]string{"zipf/readsvc"}, func() report.Ratio {
				zt := tiers["zipf/readsvc"]
				return report.Ratio{Name: "zipf: reads served without Cassandra", Value: zt.WithoutCassandraPc, Goal: 99, Higher: true, Unit: "%",
					Detail: fmt.Sprintf("over the whole zipf/readsvc ramp: groupcache %.1f%%, Redis %.1f%%, Cassandra %.2f%% (%.0f backfills, %.2f Cassandra queries per 1,000 requests)", zt.GroupcachePct, zt.RedisPct, zt.CassandraPct, zt.Backfills, zt.CassandraPer1000)}
			}},
			{[]string{"hot/readsvc", "hot/redis-only"}, func() report.Ratio {
				return report.Ratio{Name: "hot page: readsvc / Redis-only readsvc throughput", Value: ratio(best["hot/readsvc"], best["hot/redis-only"]), Goal: 1, Higher: true, Unit: "×",
					Detail: fmt.Sprintf("readsvc %.0f/s, readsvc -groupcache-bytes 0 %.0f/s (baseline; goal: groupcache pays for itself)", best["hot/readsvc"], best["hot/redis-only"])}
			}},
			{[]string{"hot/readsvc", "hot/cassandra-direct"}, func() report.Ratio {
				return report.Ratio{Name: "hot page: readsvc / direct-Cassandra throughput", Value: ratio(best["hot/readsvc"], best["hot/cassandra-direct"]), Goal: 10, Higher: true, Unit: "×",
					Detail: fmt.Sprintf("readsvc %.0f/s, readsvc -caches-off %.0f/s (baseline)", best["hot/readsvc"], best["hot/cassandra-direct"])}
			}},
			{[]string{"zipf/readsvc", "zipf/static"}, func() report.Ratio {
				return report.Ratio{Name: "zipf: readsvc / static handler throughput", Value: ratio(best["zipf/readsvc"], best["zipf/static"]), Goal: 0.9, Higher: true, Unit: "×",
					Detail: fmt.Sprintf("readsvc %.0f/s, static %.0f/s (baseline)", best["zipf/readsvc"], best["zipf/static"])}
			}},
			{[]string{"zipf/readsvc", "zipf/redis-only"}, func() report.Ratio {
				return report.Ratio{Name: "zipf: readsvc / Redis-only readsvc throughput", Value: ratio(best["zipf/readsvc"], best["zipf/redis-only"]), Goal: 1, Higher: true, Unit: "×",
					Detail: fmt.Sprintf("readsvc %.0f/s, Redis only %.0f/s (baseline)", best["zipf/readsvc"], best["zipf/redis-only"])}
			}},
			{[]string{"deep/readsvc", "deep/cassandra-direct"}, func() report.Ratio {
				return report.Ratio{Name: "deep pages: readsvc / direct-Cassandra throughput", Value: ratio(best["deep/readsvc"], best["deep/cassandra-direct"]), Goal: 1, Higher: true, Unit: "×",
					Detail: fmt.Sprintf("readsvc %.0f/s, direct %.0f/s over %d walked pages of the hot video", best["deep/readsvc"], best["deep/cassandra-direct"], len(hotWalk))}
			}},
		}
		for _, g := range goals {
			if ran(g.needs...) {
				rep.Ratios = append(rep.Ratios, g.ratio())
			}
		}
		if ran("zipf/readsvc", "zipf/cassandra-direct") {
			// The throughput goal is the wrk figure; the open loop's
			// rates stop where its generator runs out of sending.
			rep.Extra = append(rep.Extra, report.NamedFigure{Name: fmt.Sprintf("zipf, open loop: readsvc / direct-Cassandra best sustained rate (%.0f/s, %.0f/s)", best["zipf/readsvc"], best["zipf/cassandra-direct"]),
				Value: ratio(best["zipf/readsvc"], best["zipf/cassandra-direct"]), Unit: "×"})
		}
		for _, name := range slices.Sorted(maps.Keys(best)) {
			if best[name] == 0 {
				rep.Notes = append(rep.Notes, fmt.Sprintf("%s met the p99 target at no step, so ratios against it are reported as 0.", name))
			}
		}
		rep.Notes = append(rep.Notes,
			fmt.Sprintf("Load: open-loop constant rate, latency from each request's intended start (no coordinated omission), HDR histograms; ramps start at %.0f/s (direct Cassandra %.0f/s), ×%.1f per %v step after a %v warm-up, the modes of a scenario stepped side by side (one after the other at each step), each stopping at the first rate where two attempts in a row have a p99 above %v or more than 1%% errors or unsent requests (both attempts appear in the table). All targets are separate processes on loopback; the load generator shares the machine's %d CPUs with them and with the stack.", p.Start, p.DirectStart, p.Factor, p.Step, p.Warmup, p.P99Target, rep.Machine.CPUs),
			"Modes: readsvc = all tiers; redis-only = readsvc -groupcache-bytes 0; cassandra-direct = readsvc -caches-off (every page from Cassandra through the same store); static = a bare net/http handler serving the very bytes and headers readsvc answered for each path (the physical limit here).",
			"Scenarios: hot = 90% on the hot video's first three pages, 10% Zipf over the others; zipf = Zipf s=1.0 over all videos' first pages; deep = uniform over the hot video's cursor-walked pages; cold = zipf with every video invalidated (Redis pages dropped, version bumped so groupcache keys change) before each step.",
			"Tiers from readsvc's /metrics deltas over each ramp: groupcache hits = page requests − page loads; Redis = loads{source=redis}; Cassandra = loads{backfill, cassandra, direct}; queries = readsvc_cassandra_page_queries_total.",
		)
	}

	if ps.write || ps.moderate {
		if hotBest == 0 {
			hotBest = p.BackgroundRate * 4
		}
		bgRate := min(p.BackgroundRate, hotBest/4)
		bgCtx, stopBG := context.WithCancel(ctx)
		bgDone := make(chan load.Result, 1)
		go func() {
			bgDone <- load.Run(bgCtx, load.Config{Rate: bgRate, Duration: time.Hour, MaxInFlight: p.Workers, Drain: 5 * time.Second}, request(client, readsvc, scs["hot"]))
		}()
		w := &writer{secret: c.Secret, client: &http.Client{Timeout: 10 * time.Second}, read: readsvc.Base}
		err := func() error {
			if ps.write {
				wpost, err := c.start(ctx, "writesvc-post", "writesvc", "post", true)
				if err != nil {
					return err
				}
				dl, err := w.postToVisible(ctx, "http://"+wpost.Addr, d.video(0), p.WriteSamples)
				if err != nil {
					return err
				}
				l := report.NewLatency("post→visible", dl.samples)
				rep.Latencies = append(rep.Latencies, l)
				rep.Ratios = append(rep.Ratios, report.Ratio{Name: "post→visible p99", Value: l.P99, Goal: 300, Unit: " ms",
					Detail: fmt.Sprintf("%d posts to the hot video through writesvc (VC_MODERATION=post), readsvc polled every %v; %d timed out at %v", l.N, pollEvery, dl.timeouts, visibleTimeout)})
			}
			if ps.moderate {
				wpre, err := c.start(ctx, "writesvc-pre", "writesvc", "pre", true)
				if err != nil {
					return err
				}
				ap, rj, err := w.approveReject(ctx, "http://"+wpre.Addr, d.video(0), p.ModSamples)
				if err != nil {
					return err
				}
				la, lr := report.NewLatency("approve→visible", ap.samples), report.NewLatency("reject→gone", rj.samples)
				rep.Latencies = append(rep.Latencies, la, lr)
				rep.Ratios = append(rep.Ratios,
					report.Ratio{Name: "approve→visible p99", Value: la.P99, Goal: 300, Unit: " ms",
						Detail: fmt.Sprintf("%d approvals (writesvc VC_MODERATION=pre) on the hot video; %d timed out", la.N, ap.timeouts)},
					report.Ratio{Name: "reject→gone p99", Value: lr.P99, Goal: 200, Unit: " ms",
						Detail: fmt.Sprintf("%d rejections of approved comments on the hot video; %d timed out", lr.N, rj.timeouts)})
			}
			return nil
		}()
		stopBG()
		bg := <-bgDone
		if err != nil {
			return err
		}
		rep.Extra = append(rep.Extra,
			report.NamedFigure{Name: "background read load during writes (offered)", Value: bgRate, Unit: "req/s"},
			report.NamedFigure{Name: "background read load p99", Value: bg.P99, Unit: "ms"},
			report.NamedFigure{Name: "background read errors", Value: float64(bg.Errors), Unit: "requests"})
		rep.Notes = append(rep.Notes, fmt.Sprintf("Write and moderation delays measured under a background hot-scenario read load of %.0f req/s on readsvc; the clock starts when the POST is sent and stops at the first readsvc answer showing the change.", bgRate))
	}
	return writeReport(rep, outDir)
}

// newReport starts the report of a run that begins now.
func newReport(title, command string) *report.Report {
	return &report.Report{Title: title, Generated: time.Now(), Command: command, Machine: report.ThisMachine()}
}

// writeReport adds the run's wall time (since rep.Generated) to rep, writes
// it to outDir and says where.
func writeReport(rep *report.Report, outDir string) error {
	rep.Extra = append(rep.Extra, report.NamedFigure{Name: "wall time", Value: time.Since(rep.Generated).Seconds(), Unit: "s"})
	if err := rep.Write(outDir); err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "report: %s\n", outDir)
	return nil
}
