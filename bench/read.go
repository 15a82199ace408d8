package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vidcomments/vidcomments/bench/load"
	"github.com/vidcomments/vidcomments/bench/report"
	"github.com/vidcomments/vidcomments/internal/pagecache"
)

// scenario is a read mix: the path (with query) of request seq.
type scenario struct {
	Name string
	Path func(seq int64) string
}

// mix is splitmix64: a well-spread 64-bit value from a request number, so
// every mode sees the same request sequence without shared RNG state.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// unit maps request seq and a salt to [0,1).
func unit(seq int64, salt uint64) float64 {
	return float64(mix(uint64(seq)*0x100000001b3^salt)>>11) / (1 << 53)
}

func firstPage(video int64) string { return fmt.Sprintf("/v1/videos/%d/comments?limit=50", video) }

// readPlan holds the paths the scenarios draw from: first pages of every
// video, and the hot video's pages walked by cursor.
type readPlan struct {
	d       dataset
	zipf    *zipf
	hotWalk []string // hot video pages 1..n by cursor
}

// walk follows next_cursor from the hot video's first page for up to n pages.
func walk(ctx context.Context, client *http.Client, base string, video int64, n int) ([]string, error) {
	api := newAPI(base, client)
	paths := []string{firstPage(video)}
	cursor := ""
	for len(paths) < n {
		p, err := fetchPage(ctx, api, video, cursor)
		if err != nil {
			return nil, err
		}
		if cursor = p.next(); cursor == "" {
			break
		}
		paths = append(paths, firstPage(video)+"&cursor="+url.QueryEscape(cursor))
	}
	return paths, nil
}

func (rp *readPlan) scenarios() map[string]scenario {
	return map[string]scenario{
		// 90% on the hot video's first pages (6:3:1 over pages 1..3), the
		// rest Zipf over the other videos' first pages.
		"hot": {Name: "hot", Path: func(seq int64) string {
			u := unit(seq, 1)
			switch {
			case u < 0.54:
				return rp.hotWalk[0]
			case u < 0.81:
				return rp.hotWalk[min(1, len(rp.hotWalk)-1)]
			case u < 0.90:
				return rp.hotWalk[min(2, len(rp.hotWalk)-1)]
			}
			return firstPage(rp.d.video(1 + rp.zipf.at(unit(seq, 2))%max(len(rp.d.Counts)-1, 1)))
		}},
		// s = 1.0 over all videos (the hot one is rank 0), first pages.
		"zipf": {Name: "zipf", Path: func(seq int64) string {
			return firstPage(rp.d.video(rp.zipf.at(unit(seq, 3))))
		}},
		// Cursor walks: uniformly any of the hot video's walked pages,
		// most of them past the cached window.
		"deep": {Name: "deep", Path: func(seq int64) string {
			return rp.hotWalk[int(unit(seq, 4)*float64(len(rp.hotWalk)))]
		}},
		// The zipf mix again; rampRun flushes the caches before each step.
		"cold": {Name: "cold", Path: func(seq int64) string { return firstPage(rp.d.video(rp.zipf.at(unit(seq, 5)))) }},
	}
}

// staticPaths are every path the hot and zipf scenarios can ask for.
func (rp *readPlan) staticPaths() []string {
	out := append([]string(nil), rp.hotWalk[:min(3, len(rp.hotWalk))]...)
	for i := 1; i < len(rp.d.Counts); i++ {
		out = append(out, firstPage(rp.d.video(i)))
	}
	return out
}

// target is one server driven by the load generator.
type target struct {
	Mode    string   // readsvc, redis-only, cassandra-direct, static
	Base    string   // http://host:port
	Metrics string   // admin /metrics URL; "" for the static baseline
	Spread  []string // when set: several servers, request seq goes to Spread[seq%len] (Base unused)
	// Floor: a baseline whose latency may sit above the p99 target at any
	// rate (rampGroup then ramps it on errors alone). Never readsvc's own
	// modes: the looser rule would flatter them.
	Floor bool
}

// base is the server request seq goes to.
func (t target) base(seq int64) string {
	if len(t.Spread) > 0 {
		return t.Spread[uint64(seq)%uint64(len(t.Spread))]
	}
	return t.Base
}

// loadClient is the load generator's HTTP client: keep-alive connections,
// one per worker.
func loadClient(workers int) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		MaxIdleConns: workers * 2, MaxIdleConnsPerHost: workers * 2, IdleConnTimeout: time.Minute, DisableCompression: true,
	}}
}

// request makes the load.Request of a scenario against a target.
func request(client *http.Client, t target, sc scenario) load.Request {
	return func(ctx context.Context, seq int64) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base(seq)+sc.Path(seq), nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
}

// rampGroup drives one scenario against several targets through ramps run
// side by side: at step k every target still going gets its own
// start×factor^k, one target after the other, so the machine's moods (two
// shared cores) hit every mode alike. A target stops at the first rate
// where two attempts in a row miss the target (both are reported). Tier
// figures come from each target's metrics. before runs before every
// attempt (the cold scenario flushes the caches there).
func rampGroup(ctx context.Context, logger *slog.Logger, p profile, client *http.Client, sc scenario, ts []target, starts []float64, before func(context.Context) error) ([]report.Mode, []*report.Tier, error) {
	modes := make([]report.Mode, len(ts))
	tiers := make([]*report.Tier, len(ts))
	m0 := make([]metrics, len(ts))
	alive := make([]bool, len(ts))
	reqs := make([]load.Request, len(ts))
	for i, t := range ts {
		modes[i].Name, alive[i], reqs[i] = sc.Name+"/"+t.Mode, true, request(client, t, sc)
		if t.Metrics != "" {
			var err error
			if m0[i], err = scrape(ctx, client, t.Metrics); err != nil {
				return nil, nil, err
			}
		}
		// Warm-up, not recorded: connections opened, caches and the
		// target's runtime warmed, for every mode alike.
		load.Run(ctx, load.Config{Rate: starts[i], Duration: p.Warmup, MaxInFlight: p.Workers, Drain: 5 * time.Second}, reqs[i])
	}
	attempt := func(i int, rate float64) (load.Result, error) {
		if before != nil {
			if err := before(ctx); err != nil {
				return load.Result{}, err
			}
		}
		r := load.Run(ctx, load.Config{Rate: rate, Duration: p.Step, MaxInFlight: p.Workers, Drain: 5 * time.Second}, reqs[i])
		logger.Info("step", "mode", modes[i].Name, "result", r.String())
		return r, nil
	}
	// A baseline (target.Floor) that misses the p99 target at its first
	// rate, on both attempts, has a latency floor above the target (direct
	// Cassandra on the large data set): from there it is judged on errors
	// and unsent requests alone (Mode.LatencyFloor), a looser rule than
	// the others', so a ratio against it errs in its favour.
	passed := func(i int, r load.Result) bool {
		if modes[i].LatencyFloor {
			return withinErrors(r)
		}
		return stepPassed(p, r)
	}
	for k := 0; ctx.Err() == nil; k++ {
		going := false
		for i := range ts {
			rate := starts[i] * math.Pow(p.Factor, float64(k))
			if !alive[i] || rate > p.MaxRate {
				alive[i] = false
				continue
			}
			going = true
			r, err := attempt(i, rate)
			if err != nil {
				return nil, nil, err
			}
			if !passed(i, r) {
				// One pause elsewhere on the machine (a JVM collection)
				// fails a step: a rate counts as sustained when one of
				// two attempts meets the target.
				modes[i].Steps = append(modes[i].Steps, r)
				if r, err = attempt(i, rate); err != nil {
					return nil, nil, err
				}
			}
			modes[i].Steps = append(modes[i].Steps, r)
			if !passed(i, r) && ts[i].Floor && k == 0 {
				modes[i].LatencyFloor = withinErrors(r)
			}
			if !passed(i, r) {
				alive[i] = false
				continue
			}
			modes[i].BestRPS = r.Achieved
		}
		if !going {
			break
		}
	}
	for i, t := range ts {
		if t.Metrics == "" {
			continue
		}
		m1, err := scrape(ctx, client, t.Metrics)
		if err != nil {
			return nil, nil, err
		}
		tf := tiersFrom(m1.minus(m0[i]))
		tier := &report.Tier{Mode: modes[i].Name, Requests: tf.Requests, Backfills: tf.Backfill}
		if tf.Requests > 0 {
			tier.GroupcachePct = 100 * tf.Groupcache / tf.Requests
			tier.RedisPct = 100 * tf.Redis / tf.Requests
			// Loads for requests that then failed (503, client timeout)
			// are counted by the loads but not by the 200/304 requests:
			// cap at 100.
			tier.CassandraPct = min(100, 100*(tf.Backfill+tf.Cassandra)/tf.Requests)
			tier.WithoutCassandraPc = 100 - tier.CassandraPct
			tier.CassandraPer1000 = 1000 * tf.Queries / tf.Requests
		}
		tiers[i] = tier
	}
	return modes, tiers, ctx.Err()
}

// flushCaches invalidates every seeded video: pages dropped from Redis and
// the version bumped, so every groupcache key changes too.
func flushCaches(c *cluster, d dataset) func(context.Context) error {
	cache := pagecache.New(c.Redis, pagecache.Options{})
	return func(ctx context.Context) error {
		for i := range d.Counts {
			if _, err := cache.Invalidate(ctx, d.video(i)); err != nil {
				return err
			}
		}
		return nil
	}
}

// staticPage is one answer of readsvc as the static baseline replays it:
// the body and the headers that describe it.
type staticPage struct {
	Body   []byte      `json:"body"`
	Header http.Header `json:"header"`
}

// staticHeaders are the response headers the static baseline replays
// (net/http adds Date itself).
var staticHeaders = []string{"Content-Type", "Cache-Control", "Etag", "X-Content-Type-Options", "Surrogate-Key", "Content-Length"}

// writeStaticPages asks readsvc for every path and writes what it answered
// (body and headers, staticPage) to file for `bench static`.
func writeStaticPages(ctx context.Context, client *http.Client, base string, paths []string, file string) error {
	// Concurrently: on a profile whose ramps drive the static baseline,
	// these are every video's first page, most of them cold (a Cassandra
	// backfill each).
	answers := make([]staticPage, len(paths))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i, p := range paths {
		g.Go(func() error {
			code, hdr, body := fetchPatiently(ctx, client, base+p)
			if code != http.StatusOK {
				return fmt.Errorf("static page %s: %d %s", p, code, body)
			}
			answers[i] = staticPage{Body: body, Header: http.Header{}}
			for _, k := range staticHeaders {
				if v := hdr.Values(k); len(v) > 0 {
					answers[i].Header[k] = v
				}
			}
			answers[i].Header["Content-Length"] = []string{strconv.Itoa(len(body))}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	pages := make(map[string]staticPage, len(paths))
	for i, p := range paths {
		pages[p] = answers[i]
	}
	b, err := json.Marshal(pages)
	if err != nil {
		return err
	}
	return os.WriteFile(file, b, 0o644)
}

// warmFirstPages reads each path once, 32 at a time — every video's first
// page, so that Redis holds each video's window as a site's caches do in
// steady state and the zipf figures are not the first minute after a
// flush (the cold scenario and the cold deep pages measure that). A 503
// (Cassandra saturated by the warm-up itself) is asked again.
func warmFirstPages(ctx context.Context, client *http.Client, base string, paths []string) (time.Duration, error) {
	began := time.Now()
	bar := newProgress("warm first pages", len(paths))
	var mu sync.Mutex
	done := 0
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for _, p := range paths {
		g.Go(func() error {
			if code, body := getPatiently(ctx, client, base+p); code != http.StatusOK {
				return fmt.Errorf("warm %s: %d %s", p, code, body)
			}
			mu.Lock()
			done++
			bar.set(done)
			mu.Unlock()
			return nil
		})
	}
	err := g.Wait()
	bar.done()
	return time.Since(began), err
}

// ratio is a/b, or 0 when b is 0 (reported with a note, never ±Inf).
func ratio(a, b float64) float64 {
	if b == 0 || math.IsNaN(a/b) {
		return 0
	}
	return a / b
}

// stepPassed: p99 under the target, errors (and unsent) under 1%.
func stepPassed(p profile, r load.Result) bool {
	return withinErrors(r) && r.P99 <= float64(p.P99Target)/float64(time.Millisecond)
}

// withinErrors: some answers, and errors (and unsent) under 1%.
func withinErrors(r load.Result) bool { return r.OK > 0 && r.ErrorRate() <= 0.01 }

// heapProfile stores the live heap of the process behind admin in file,
// after a collection (what the heap holds, not what it last allocated).
func heapProfile(ctx context.Context, client *http.Client, admin, file string) error {
	code, body := get(ctx, client, "http://"+admin+"/debug/pprof/heap?gc=1")
	if code != http.StatusOK {
		return fmt.Errorf("heap profile: %d %.200s", code, body)
	}
	return os.WriteFile(file, body, 0o644)
}

// cpuProfile drives sc against t at rate while taking a CPU profile of the
// target process for d, and stores it in file.
func cpuProfile(ctx context.Context, client *http.Client, p profile, sc scenario, t target, admin string, rate float64, d time.Duration, file string) (load.Result, error) {
	done := make(chan load.Result, 1)
	go func() {
		done <- load.Run(ctx, load.Config{Rate: rate, Duration: d + time.Second, MaxInFlight: p.Workers, Drain: 5 * time.Second}, request(client, t, sc))
	}()
	pc := &http.Client{Timeout: d + 30*time.Second}
	code, body := get(ctx, pc, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", admin, int(d/time.Second)))
	r := <-done
	if code != http.StatusOK {
		return r, fmt.Errorf("cpu profile: %d %.200s", code, body)
	}
	return r, os.WriteFile(file, body, 0o644)
}
