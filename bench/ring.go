package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/vidcomments/vidcomments/bench/load"
	"github.com/vidcomments/vidcomments/bench/report"
	"github.com/vidcomments/vidcomments/internal/config"
)

// ringSize is the number of readsvc instances of the ring scenario.
const ringSize = 3

// runRing is `go run ./bench ring`: one readsvc against a ring of three
// (one -peers list, groupcache sharding pages between them) behind the
// same load generator, on the same seeded data and the same Redis (a Redis
// Cluster when VC_REDIS_ADDR lists several nodes). It measures the hot
// page's best sustained throughput of each, the backfills per 1,000
// requests of a cold run on each, and checks every instance answers every
// first page with the same body.
func runRing(ctx context.Context, logger *slog.Logger, p profile, outDir, command string) (err error) {
	rep := newReport(fmt.Sprintf("vidcomments ring benchmark: 1 vs %d readsvc (%s profile)", ringSize, p.Name), command)
	c, err := newCluster(ctx, logger, filepath.Join(outDir, "logs"))
	if err != nil {
		return err
	}
	var d dataset
	defer func() { c.teardown(d.First, len(d.Counts)) }()
	d, _, err = seed(ctx, c, p, logger)
	if err != nil {
		return err
	}

	peerOf := func() (string, error) { return freeAddr() }
	selfPeer, err := peerOf()
	if err != nil {
		return err
	}
	one, err := c.start(ctx, "readsvc-single", "readsvc", "post", true, "-peer-addr", selfPeer)
	if err != nil {
		return err
	}
	peers := make([]string, ringSize)
	urls := make([]string, ringSize)
	for i := range peers {
		if peers[i], err = peerOf(); err != nil {
			return err
		}
		urls[i] = "http://" + peers[i]
	}
	ring := make([]*proc, ringSize)
	for i := range ring {
		if ring[i], err = c.start(ctx, fmt.Sprintf("readsvc-ring-%d", i), "readsvc", "post", true,
			"-peer-addr", peers[i], "-peers", strings.Join(urls, ",")); err != nil {
			return err
		}
	}
	single := target{Mode: "1 instance", Base: "http://" + one.Addr, Metrics: "http://" + one.Admin + "/metrics"}
	three := target{Mode: fmt.Sprintf("%d instances (ring)", ringSize)}
	for _, r := range ring {
		three.Spread = append(three.Spread, "http://"+r.Addr)
	}

	client := loadClient(p.Workers)
	defer client.CloseIdleConnections()
	hotWalk, err := walk(ctx, client, single.Base, d.video(0), 3)
	if err != nil {
		return err
	}
	plan := &readPlan{d: d, zipf: newZipf(len(d.Counts), 1.0), hotWalk: hotWalk}
	scs := plan.scenarios()

	// Correctness first: every instance answers every first page (and the
	// hot video's walked pages) with the bytes the single instance answers.
	paths := plan.staticPaths()
	mismatches, example := 0, ""
	for _, path := range paths {
		code, want := getPatiently(ctx, client, single.Base+path)
		if code != http.StatusOK {
			return fmt.Errorf("single instance %s: %d %s", path, code, want)
		}
		for i, base := range three.Spread {
			if code, got := getPatiently(ctx, client, base+path); code != http.StatusOK || string(got) != string(want) {
				mismatches++
				if example == "" {
					example = fmt.Sprintf("ring instance %d %s: %d", i, path, code)
				}
			}
		}
	}
	logger.Info("ring agreement", "pages", len(paths), "instances", ringSize+1, "mismatches", mismatches)
	rep.Extra = append(rep.Extra, report.NamedFigure{Name: "ring: pages whose body differs between instances", Value: float64(mismatches), Unit: "pages"})
	if mismatches > 0 {
		return fmt.Errorf("ring agreement: %d pages differ, e.g. %s", mismatches, example)
	}

	// Hot page throughput: both ramps side by side (rampGroup), the ring's
	// requests spread round-robin over its instances.
	hot := scs["hot"]
	hot.Name = "ring-hot"
	// Both ramps start at a quarter of the profile's start: on two shared
	// cores the ring's extra hop can miss the p99 target at the first step.
	hotStart := p.Start / 4
	ms, trs, err := rampGroup(ctx, logger, p, client, hot, []target{single, three}, []float64{hotStart, hotStart}, nil)
	if err != nil {
		return fmt.Errorf("hot: %w", err)
	}
	rep.Modes = append(rep.Modes, ms...)
	for _, tr := range trs {
		if tr != nil {
			rep.Tiers = append(rep.Tiers, *tr)
		}
	}

	// Saturation: the same closed loop (Workers requests in flight, no
	// schedule) against each in turn, three rounds alternating, median
	// kept — less at the mercy of the machine's moods than a p99 bound.
	sat := map[string][]float64{}
	for round := range 3 {
		for _, t := range []target{single, three} {
			r := load.Run(ctx, load.Config{Rate: 1e5, Duration: p.Step, MaxInFlight: p.Workers / 4, Drain: 5 * time.Second}, request(client, t, hot))
			logger.Info("saturate", "mode", t.Mode, "round", round, "achieved", fmt.Sprintf("%.0f/s", r.Achieved), "errors", r.Errors)
			sat[t.Mode] = append(sat[t.Mode], r.Achieved)
		}
	}
	s1, s3 := median(sat[single.Mode]), median(sat[three.Mode])

	// The front door: the ring behind HAProxy against one readsvc, with
	// wrk (whose ceiling is measured in the same runs).
	lb, err := measureBehindHAProxy(ctx, logger, filepath.Join(outDir, "logs"), one, ring, firstPage(d.video(0)))
	if err != nil {
		return fmt.Errorf("haproxy: %w", err)
	}
	rep.Ratios, rep.Extra, rep.Notes = append(rep.Ratios, lb.Ratios...), append(rep.Extra, lb.Figures...), append(rep.Notes, lb.Note)

	// Cold: caches flushed, then the same request sequence at the same rate
	// against each; backfills counted over every instance involved.
	cold := scs["cold"]
	// A modest rate: the point is how often a cold page is backfilled, not
	// how fast Cassandra is; an overloaded Cassandra makes readsvc serve
	// stale copies (counted below) instead of backfilling.
	coldRate, coldFor := min(p.Start, 300), 3*p.Step
	sent := func(r load.Result) int64 { return r.Scheduled - r.Unsent }
	type coldRun struct {
		r                         load.Result
		backfills, queries, stale float64
		distinct                  int
	}
	runCold := func(t target, admins []string) (coldRun, error) {
		if err := flushCaches(c, d)(ctx); err != nil {
			return coldRun{}, err
		}
		before, err := scrapeAll(ctx, client, admins)
		if err != nil {
			return coldRun{}, err
		}
		r := load.Run(ctx, load.Config{Rate: coldRate, Duration: coldFor, MaxInFlight: p.Workers, Drain: 5 * time.Second}, request(client, t, cold))
		logger.Info("cold", "mode", t.Mode, "result", r.String())
		after, err := scrapeAll(ctx, client, admins)
		if err != nil {
			return coldRun{}, err
		}
		delta := after.minus(before)
		seen := map[string]bool{}
		for seq := range sent(r) {
			seen[cold.Path(seq)] = true
		}
		return coldRun{r: r, backfills: delta.sum("readsvc_page_loads_total", "source", "backfill"), queries: delta.sum("readsvc_cassandra_page_queries_total"),
			stale: delta.sum("readsvc_stale_served_total"), distinct: len(seen)}, nil
	}
	ringAdmins := make([]string, len(ring))
	for i, r := range ring {
		ringAdmins[i] = r.Admin
	}
	c1, err := runCold(single, []string{one.Admin})
	if err != nil {
		return err
	}
	c3, err := runCold(three, ringAdmins)
	if err != nil {
		return err
	}
	per1000 := func(x float64, r load.Result) float64 { return ratio(1000*x, float64(r.OK)) }
	best := map[string]float64{}
	for _, m := range ms {
		best[m.Name] = m.BestRPS
	}
	b1, b3 := best["ring-hot/"+single.Mode], best["ring-hot/"+three.Mode]
	rep.Extra = append(rep.Extra,
		report.NamedFigure{Name: "hot page closed-loop throughput (median of 3), 1 readsvc", Value: s1, Unit: "req/s"},
		report.NamedFigure{Name: fmt.Sprintf("hot page closed-loop throughput (median of 3), %d readsvc (ring)", ringSize), Value: s3, Unit: "req/s"},
		report.NamedFigure{Name: "hot page best sustained throughput, 1 readsvc", Value: b1, Unit: "req/s"},
		report.NamedFigure{Name: fmt.Sprintf("hot page best sustained throughput, %d readsvc (ring)", ringSize), Value: b3, Unit: "req/s"},
		report.NamedFigure{Name: "cold: backfills per 1,000 requests, 1 readsvc", Value: per1000(c1.backfills, c1.r), Unit: "backfills"},
		report.NamedFigure{Name: fmt.Sprintf("cold: backfills per 1,000 requests, %d readsvc (ring)", ringSize), Value: per1000(c3.backfills, c3.r), Unit: "backfills"},
		report.NamedFigure{Name: "cold: backfills per distinct cold page, 1 readsvc", Value: ratio(c1.backfills, float64(c1.distinct)), Unit: "backfills/page"},
		report.NamedFigure{Name: fmt.Sprintf("cold: backfills per distinct cold page, %d readsvc (ring)", ringSize), Value: ratio(c3.backfills, float64(c3.distinct)), Unit: "backfills/page"},
		report.NamedFigure{Name: "cold: Cassandra page queries per 1,000 requests, 1 readsvc", Value: per1000(c1.queries, c1.r), Unit: "queries"},
		report.NamedFigure{Name: fmt.Sprintf("cold: Cassandra page queries per 1,000 requests, %d readsvc (ring)", ringSize), Value: per1000(c3.queries, c3.r), Unit: "queries"},
		report.NamedFigure{Name: "cold: Cassandra page queries per distinct cold page, 1 readsvc", Value: ratio(c1.queries, float64(c1.distinct)), Unit: "queries/page"},
		report.NamedFigure{Name: fmt.Sprintf("cold: Cassandra page queries per distinct cold page, %d readsvc (ring)", ringSize), Value: ratio(c3.queries, float64(c3.distinct)), Unit: "queries/page"},
	)
	rep.Ratios = append(rep.Ratios,
		report.Ratio{Name: fmt.Sprintf("ring: cold backfills, %d instances / 1 instance", ringSize), Value: ratio(per1000(c3.backfills, c3.r), per1000(c1.backfills, c1.r)), Goal: 1.1, Unit: "×",
			Detail: fmt.Sprintf("the same %v cold run at %.0f req/s after a flush: 1 instance %.0f backfills (%.0f Cassandra page queries, %.0f stale answers) for %d distinct pages in %d answered requests; ring %.0f backfills (%.0f queries, %.0f stale) for %d distinct pages in %d answered requests (goal: the ring does not multiply backfills)",
				coldFor, coldRate, c1.backfills, c1.queries, c1.stale, c1.distinct, c1.r.OK, c3.backfills, c3.queries, c3.stale, c3.distinct, c3.r.OK)},
		report.Ratio{Name: fmt.Sprintf("ring: hot-page closed-loop throughput, %d instances / 1 instance", ringSize), Value: ratio(s3, s1), Goal: 0.5, Higher: true, Unit: "×",
			Detail: fmt.Sprintf("%d requests in flight for %v, three rounds alternating, medians: 1 instance %.0f/s, ring %.0f/s (rounds %.0f and %.0f); best sustained rates with p99 < %v: 1 instance %.0f/s, ring %.0f/s. On %d CPUs shared with the stack and the load generator no gain is expected — the goal only says the ring costs at most half",
				p.Workers/4, p.Step, s1, s3, sat[single.Mode], sat[three.Mode], p.P99Target, b1, b3, rep.Machine.CPUs)},
	)
	redisAddr := cmp.Or(os.Getenv("VC_REDIS_ADDR"), config.DefaultRedisAddr)
	rep.Notes = append(rep.Notes,
		fmt.Sprintf("Ring: readsvc alone (no -peers) vs %d readsvc processes sharing one groupcache ring (-peers listing all three), on the same seeded data (%d comments, %d videos) and the same Redis (%s%s). The ring's requests go round-robin over its instances from the same load generator.", ringSize, d.Total, len(d.Counts), redisAddr, clusterNote(redisAddr)),
		fmt.Sprintf("Agreement: %d paths (the hot video's first pages and every video's first page) fetched from all %d instances: %d bodies differ from the single instance's.", len(paths), ringSize+1, mismatches),
		"Cold: every seeded video invalidated (Redis pages dropped, version bumped so groupcache keys change), then the zipf first-page mix at a constant rate; backfills = readsvc_page_loads_total{source=\"backfill\"} (page builds that found the Redis window missing, including those that then waited for another loader's fill) and Cassandra page queries = readsvc_cassandra_page_queries_total, each summed over the instances that served the run; one Cassandra query per distinct cold page is the ideal. readsvc's default 1 s max-age makes every page's groupcache key turn over during the run, so a page can be built more than once per instance set (from Redis after its fill).",
	)
	return writeReport(rep, outDir)
}

// getPatiently is get, tried again while the answer is 503, for up to
// patience: on two shared cores Cassandra sometimes times out backfills
// for seconds after a bulk load (its collector pausing a quarter of a
// second at a time), and readsvc then answers 503 at once by design until
// its breaker's probe succeeds. These are the runs' preparations (warming,
// fetching the static baseline's pages), not measurements.
func getPatiently(ctx context.Context, client *http.Client, url string) (int, []byte) {
	code, _, body := fetchPatiently(ctx, client, url)
	return code, body
}

// patience is how long getPatiently waits out 503s for one path.
const patience = 30 * time.Second

// fetchPatiently is getPatiently with the answer's headers.
func fetchPatiently(ctx context.Context, client *http.Client, url string) (int, http.Header, []byte) {
	var waited time.Duration
	for attempt := 1; ; attempt++ {
		code, hdr, body := fetch(ctx, client, url)
		if code != http.StatusServiceUnavailable || waited >= patience {
			return code, hdr, body
		}
		pause := min(time.Duration(attempt)*500*time.Millisecond, 2*time.Second)
		select {
		case <-ctx.Done():
			return code, hdr, body
		case <-time.After(pause):
		}
		waited += pause
	}
}

// scrapeAll adds up the metrics of several readsvc admin listeners.
func scrapeAll(ctx context.Context, client *http.Client, admins []string) (metrics, error) {
	out := metrics{}
	for _, a := range admins {
		m, err := scrape(ctx, client, "http://"+a+"/metrics")
		if err != nil {
			return nil, err
		}
		for k, v := range m {
			out[k] += v
		}
	}
	return out, nil
}

func clusterNote(addrs string) string {
	if strings.Contains(addrs, ",") {
		return ", a Redis Cluster"
	}
	return ", one Redis node"
}

// median of a few figures.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}
