package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/cdn"
	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/cpustat"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/stacktest"
	"github.com/vidcomments/vidcomments/internal/wrk"
	"github.com/vidcomments/vidcomments/readsvc/cqlstore"
	"github.com/vidcomments/vidcomments/readsvc/internal/cqlseed"
	"github.com/vidcomments/vidcomments/readsvc/internal/readtest"
	"github.com/vidcomments/vidcomments/readsvc/pages"
)

// benchConcurrency is the number of keep-alive connections the load
// generator drives.
const benchConcurrency = 32

// loadGen is the one load generator of every mode: a fixed number of
// keep-alive connections, each sending the next request as soon as the last
// answer is read.
type loadGen struct {
	client *http.Client
	tr     *http.Transport
}

func newLoadGen() *loadGen {
	tr := &http.Transport{MaxIdleConnsPerHost: benchConcurrency, MaxConnsPerHost: benchConcurrency}
	return &loadGen{client: &http.Client{Transport: tr}, tr: tr}
}

// drive sends n GETs of url and returns how long they took and each
// request's latency.
func (g *loadGen) drive(b *testing.B, url string, n int) (time.Duration, []time.Duration) {
	var next, failed atomic.Int64
	lat := make([][]time.Duration, benchConcurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range benchConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, n/benchConcurrency+1)
			for next.Add(1) <= int64(n) {
				t0 := time.Now()
				resp, err := g.client.Get(url)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
				mine = append(mine, time.Since(t0))
			}
			lat[w] = mine
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d requests to %s failed", f, n, url)
	}
	return elapsed, slices.Concat(lat...)
}

// BenchmarkHotPage serves the first page of a hot video in one run, under
// one load generator, by: a static net/http handler writing the same bytes,
// headers included (the ceiling); readsvc with every tier (groupcache
// hits); readsvc with groupcache off (one Redis Lua call per request); and,
// for scale, the static handler plus one Redis PING (the floor of any design
// with a Redis round trip per request). Run it with
//
//	go test ./readsvc/api -run '^$' -bench HotPage -benchtime 20000x -count 3
//
// b.N is the number of requests per mode. It reports req/s and p99 per
// mode and the ratios to the static handler.
func BenchmarkHotPage(b *testing.B) {
	st := readtest.NewStack(b)
	video, ids := st.SeedVideo(200)
	path := readtest.PagePath(video, "limit=20")
	tiers := st.NewReader(readtest.Config{})
	redisTier := st.NewReader(readtest.Config{Options: pages.Options{CacheBytes: -1}})
	// The same page with its authors' profiles (issue #18): a bigger body,
	// the same hit path.
	profiled := st.NewReader(readtest.Config{Options: pages.Options{Profiles: st.Profiles(stacktest.NewMySQL(b).DB, authorsOf(ids)...)}})
	if r := profiled.Get(b, path); r.Code != 200 || !strings.Contains(string(r.Raw), `"authors":{"`) {
		b.Fatalf("profiled page: %d %s", r.Code, r.Raw)
	}

	warm := tiers.Get(b, path)
	if warm.Code != 200 || len(warm.IDs()) != 20 {
		b.Fatalf("warm-up: %d %s", warm.Code, warm.Raw)
	}
	// The static handler writes the same bytes: body and headers.
	body := warm.Raw
	headers := http.Header{}
	for _, k := range []string{"Content-Type", "Cache-Control", "Etag", "X-Content-Type-Options", "Surrogate-Key"} {
		headers[k] = warm.Header[k]
	}
	headers["Content-Length"] = []string{strconv.Itoa(len(body))}
	static := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		for k, v := range headers {
			h[k] = v
		}
		_, _ = w.Write(body)
	}))
	defer static.Close()
	// The floor of any design with a Redis round trip per request: the
	// static handler plus one PING.
	pinged := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := st.Redis.Ping(r.Context()).Err(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		h := w.Header()
		for k, v := range headers {
			h[k] = v
		}
		_, _ = w.Write(body)
	}))
	defer pinged.Close()
	if r := redisTier.Get(b, path); string(r.Raw) != string(body) {
		b.Fatalf("the Redis tier serves other bytes:\n%s\n%s", r.Raw, body)
	}

	modes := []struct{ name, url string }{
		{"static", static.URL + path},
		{"tiers", tiers.Server.URL + path},
		{"redis", redisTier.Server.URL + path},
		{"static+ping", pinged.URL + path},
		{"profiles", profiled.Server.URL + path},
	}
	// The machine is shared: modes take turns in rounds, so a burst of
	// background load falls on all of them alike.
	const rounds = 10
	gen := newLoadGen()
	defer gen.tr.CloseIdleConnections()
	elapsed := make([]time.Duration, len(modes))
	lats := make([][]time.Duration, len(modes))
	for _, m := range modes { // open the connections
		gen.drive(b, m.url, benchConcurrency)
	}
	b.ResetTimer()
	for range rounds {
		for i, m := range modes {
			d, l := gen.drive(b, m.url, max(b.N/rounds, benchConcurrency))
			elapsed[i] += d
			lats[i] = append(lats[i], l...)
		}
	}
	b.StopTimer()
	rps := make([]float64, len(modes))
	p99 := make([]time.Duration, len(modes))
	for i, m := range modes {
		slices.Sort(lats[i])
		rps[i] = float64(len(lats[i])) / elapsed[i].Seconds()
		p99[i] = lats[i][len(lats[i])*99/100]
		b.ReportMetric(rps[i], m.name+"-req/s")
		b.ReportMetric(float64(p99[i].Microseconds())/1000, m.name+"-p99-ms")
	}
	b.ReportMetric(rps[1]/rps[0], "tiers/static")
	b.ReportMetric(rps[2]/rps[0], "redis/static")
	b.ReportMetric(rps[3]/rps[0], "ping/static")
	b.ReportMetric(rps[4]/rps[1], "profiles/tiers")
	b.ReportMetric(0, "ns/op")
	b.Logf("body %d bytes, %d connections, %d requests per mode: static %.0f req/s p99 %v | tiers %.0f req/s p99 %v, ratio %.2f (goal >= 0.9) | redis %.0f req/s p99 %v, ratio %.2f (goal >= 0.5) | static+ping %.0f req/s, ratio %.2f | with profiles %.0f req/s p99 %v, %.2f of tiers (goal >= 0.9)",
		len(body), benchConcurrency, len(lats[0]), rps[0], p99[0], rps[1], p99[1], rps[1]/rps[0], rps[2], p99[2], rps[2]/rps[0], rps[3], rps[3]/rps[0], rps[4], p99[4], rps[4]/rps[1])
}

// authorsOf returns the users of comments seeded by readtest (cqlseed).
func authorsOf(ids []int64) []int64 {
	users := make([]int64, len(ids))
	for i, id := range ids {
		users[i] = cqlseed.Comment(0, id).UserID
	}
	return users
}

// discard is a ResponseWriter that keeps nothing but its header map, which
// it clears between requests (as net/http gives every request a new one).
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }

// warmHit warms path and returns a function serving it to a handler
// through one reused request and response writer.
func warmHit(t testing.TB, r *readtest.Reader, path string) (func(http.Handler) func(), *discard) {
	t.Helper()
	if warm := r.Get(t, path); warm.Code != 200 {
		t.Fatalf("warm-up: %d %s", warm.Code, warm.Raw)
	}
	req := httptest.NewRequest(http.MethodGet, path, nil)
	w := &discard{h: http.Header{}}
	return func(h http.Handler) func() {
		return func() {
			clear(w.h)
			h.ServeHTTP(w, req)
		}
	}, w
}

// BenchmarkHotPageHit is one groupcache hit of the hot page through the
// API handler (routing, query parsing, the page key, groupcache, the
// headers and the body), without the network: its allocs/op are what
// readsvc's own code allocates per hit. Run it with
//
//	go test ./readsvc/api -run '^$' -bench HotPageHit -benchmem
func BenchmarkHotPageHit(b *testing.B) {
	st := readtest.NewStack(b)
	video := seedLiked(b, st, 200)
	r := st.NewReader(readtest.Config{})
	for _, q := range []string{"limit=20", "limit=20&sort=hot"} {
		b.Run(q, func(b *testing.B) {
			serve, w := warmHit(b, r, readtest.PagePath(video, q))
			hit := serve(r.Handler)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				hit()
				if w.code != 200 {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}

// A hot-page hit allocates nothing: the route is matched without the
// router's per-request context, the key is built on the stack, the page
// and its header values come ready from the shape's fresh copy. A count,
// not a time: it holds on any machine.
func TestHotPageHitAllocatesNothing(t *testing.T) {
	st := readtest.NewStack(t)
	video := seedLiked(t, st, 50)
	r := st.NewReader(readtest.Config{})
	profiled := st.NewReader(readtest.Config{Options: pages.Options{Profiles: st.Profiles(stacktest.NewMySQL(t).DB)}})
	for _, label := range []string{"limit=20", "limit=20&sort=hot", "limit=5", "limit=20 with profiles"} {
		q, r := label, r
		if name, ok := strings.CutSuffix(label, " with profiles"); ok {
			q, r = name, profiled
		}
		t.Run(label, func(t *testing.T) {
			serve, w := warmHit(t, r, readtest.PagePath(video, q))
			hit := serve(r.Handler)
			hit() // the shape's fresh copy is remembered on its first hit
			if got := testing.AllocsPerRun(200, hit); w.code != 200 || got != 0 {
				t.Errorf("a hit allocates %.1f times (status %d), want 0", got, w.code)
			}
		})
	}
}

// seedLiked seeds a video of n roots with like counts, so its hot page is
// as full as its time page.
func seedLiked(t testing.TB, st *readtest.Stack, n int) int64 {
	t.Helper()
	video, ids := st.SeedVideo(n)
	for i, id := range ids {
		if err := st.Seed.PutLikes(context.Background(), video, id, -1, int64(i%37), int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	return video
}

// runWrk drives url with Debian's wrk (one thread, conns connections, for
// d): its requests/s and its p99 (--latency).
func runWrk(b *testing.B, url string, conns int, d time.Duration) wrk.Result {
	b.Helper()
	r, err := wrk.Run(b.Context(), url, conns, d)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// processCPU is the user and system CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// staticPage warms path on r and serves its exact body and headers from a
// plain net/http handler: the ceiling readsvc is measured against.
func staticPage(b testing.TB, r *readtest.Reader, path string) (*httptest.Server, int) {
	b.Helper()
	warm := r.Get(b, path)
	if warm.Code != 200 || len(warm.IDs()) != 20 {
		b.Fatalf("warm-up %s: %d %s", path, warm.Code, warm.Raw)
	}
	body, headers := warm.Raw, http.Header{}
	for _, k := range []string{"Content-Type", "Cache-Control", "Etag", "X-Content-Type-Options", "Surrogate-Key"} {
		headers[k] = warm.Header[k]
	}
	headers["Content-Length"] = []string{strconv.Itoa(len(body))}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		for k, v := range headers {
			h[k] = v
		}
		_, _ = w.Write(body)
	})), len(body)
}

// BenchmarkHotPageWrk measures the hot page with an independent generator,
// Debian's wrk, in one run: a null server (wrk.NullServer, an empty 200
// with no HTTP stack behind it: the generator's own ceiling), a null
// net/http handler (what net/http alone costs), static handlers writing
// the exact bytes and headers of the time and hot pages, and readsvc
// serving both, and the page through Varnish. wrk runs on a CPU of its own
// and the handlers on the others (wrk.SplitCPUs), so the generator's
// ceiling is not shared with the handler it measures. Modes take turns for
// rounds rounds, every other round in reverse order; medians are
// reported, and a ratio is the median of the rounds' ratios. A mode within
// 10% of the null server's rate is marked generator-bound: its ratio is
// not a figure. Run it with
//
//	go test ./readsvc/api -run '^$' -bench HotPageWrk -benchtime 1x
func BenchmarkHotPageWrk(b *testing.B) {
	placement, r, timePath, hotPath := hotPageUnderWrk(b)
	// The CDN tier (internal/cdn): the same page through Varnish.
	cache, err := cdn.Start(context.Background(), b.TempDir(), "127.0.0.1:0", strings.TrimPrefix(r.Server.URL, "http://"), 64)
	if err != nil {
		b.Fatal(err)
	}
	defer cache.Stop()
	staticTime, timeBytes := staticPage(b, r, timePath)
	defer staticTime.Close()
	staticHot, _ := staticPage(b, r, hotPath)
	defer staticHot.Close()
	null, err := wrk.StartNull()
	if err != nil {
		b.Fatal(err)
	}
	defer null.Close()
	nullHTTP := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header()["Content-Length"] = []string{"0"}
	}))
	defer nullHTTP.Close()
	modes := []struct{ name, url string }{
		{"null", null.URL()},
		{"null-http", nullHTTP.URL + "/"},
		{"static", staticTime.URL + timePath},
		{"readsvc", r.Server.URL + timePath},
		{"static-hot", staticHot.URL + hotPath},
		{"readsvc-hot", r.Server.URL + hotPath},
		{"varnish", cache.URL() + timePath},
	}
	const (
		rounds = 5
		conns  = 64
		each   = 4 * time.Second
	)
	runs := make([][]wrk.Result, len(modes))
	// CPU time of this process (the handler under test; wrk is another
	// process) per request served, per mode: the per-core figure that
	// docs/capacity.md sizes readsvc nodes with.
	cpu, served := make([]time.Duration, len(modes)), make([]float64, len(modes))
	for range b.N {
		_ = wrk.Rounds(len(modes), rounds, func(i, _ int) error {
			before := processCPU(b)
			r := runWrk(b, modes[i].url, conns, each)
			cpu[i] += processCPU(b) - before
			served[i] += r.RPS * each.Seconds()
			runs[i] = append(runs[i], r)
			return nil
		})
	}
	med := func(i int) wrk.Result {
		rs := slices.Clone(runs[i])
		slices.SortFunc(rs, func(a, b wrk.Result) int { return int(a.RPS - b.RPS) })
		m := rs[len(rs)/2]
		ps := make([]time.Duration, len(rs))
		for j, x := range rs {
			ps[j] = x.P99
		}
		slices.Sort(ps)
		m.P99 = ps[len(ps)/2]
		return m
	}
	ceiling := med(0).RPS
	var lines []string
	for i, m := range modes {
		x := med(i)
		b.ReportMetric(x.RPS, m.name+"-req/s")
		b.ReportMetric(float64(x.P99.Microseconds())/1000, m.name+"-p99-ms")
		line := fmt.Sprintf("%-12s %8.0f req/s  p99 %-8v", m.name, x.RPS, x.P99)
		if m.name != "varnish" { // Varnish's CPU is another process's
			perCore := served[i] / cpu[i].Seconds()
			b.ReportMetric(perCore, m.name+"-req/cpu-s")
			line += fmt.Sprintf(" %7.0f req per CPU-second", perCore)
		}
		line += " (rounds:"
		for _, r := range runs[i] {
			line += fmt.Sprintf(" %.0f", r.RPS)
		}
		line += ")"
		if i > 1 && x.RPS >= 0.9*ceiling {
			line += "  GENERATOR-BOUND: within 10% of the null handler, not a figure"
		}
		lines = append(lines, line)
	}
	ratio := func(a, b int) float64 { return wrk.MedianRatio(runs[a], runs[b]) }
	b.ReportMetric(ratio(0, 2), "null/static")
	b.ReportMetric(ratio(3, 2), "readsvc/static")
	b.ReportMetric(ratio(5, 4), "readsvc-hot/static-hot")
	b.ReportMetric(ratio(6, 3), "varnish/readsvc")
	b.ReportMetric(0, "ns/op")
	b.Logf("wrk -t1 -c%d -d%v, %d rounds interleaved (every other one in reverse order), medians; ratios are medians of the rounds' ratios; body %d bytes; %s\n%s\nnull/static %.2f (the generator's headroom; want >= 2) | readsvc/static %.2f (goal >= 0.95) | readsvc-hot/static-hot %.2f (goal >= 0.95) | varnish/readsvc %.2f (the page through Varnish, %s, beside readsvc direct; wrk's ceiling is the null server's rate)",
		conns, each, rounds, timeBytes, placement, strings.Join(lines, "\n"), ratio(0, 2), ratio(3, 2), ratio(5, 4), ratio(6, 3), cdn.Version())
}

// hotPageUnderWrk is the set-up of the benchmarks that drive the hot page
// with wrk: wrk installed and on a CPU of its own (splitCPUs, whose
// description it returns), a reader over a video of 200 liked comments,
// and the paths of its first page by time and by likes.
func hotPageUnderWrk(b *testing.B) (placement string, r *readtest.Reader, timePath, hotPath string) {
	b.Helper()
	if err := wrk.Installed(); err != nil {
		b.Fatal(err)
	}
	placement = splitCPUs(b)
	st := readtest.NewStack(b)
	video := seedLiked(b, st, 200)
	r = st.NewReader(readtest.Config{SharedMaxAge: time.Minute})
	return placement, r, readtest.PagePath(video, "limit=20"), readtest.PagePath(video, "limit=20&sort=hot")
}

// splitCPUs gives wrk a CPU of its own and this process (the handlers
// under test, and the servers it starts) the others, for the rest of the
// benchmark, and says so for the log. On one CPU it leaves them sharing.
func splitCPUs(b *testing.B) string {
	s, err := wrk.SplitCPUs()
	if err != nil {
		return "wrk and the handlers share the CPUs (" + err.Error() + ")"
	}
	b.Cleanup(s.Undo)
	return s.String()
}

// counterSum adds up the counter name of reg over its series whose label
// has value (every series when label is empty).
func counterSum(b *testing.B, reg *prometheus.Registry, name, label, value string) float64 {
	b.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					match = true
				}
			}
			if match {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// spread drives paths round-robin with benchConcurrency keep-alive
// connections for d and returns the pages answered. Distinct paths are
// distinct page keys, so readsvc's singleflight (which shares identical
// loads in flight) does not hide the tier's reads.
func (g *loadGen) spread(b *testing.B, base string, paths []string, d time.Duration) float64 {
	var next, ok, failed atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	for range benchConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				resp, err := g.client.Get(base + paths[int(next.Add(1))%len(paths)])
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d requests to %s failed (%d answered)", f, base, ok.Load())
	}
	return float64(ok.Load())
}

// BenchmarkTierPerCore measures, in one run, each read tier's per-core
// figure: operations per CPU-second of the process that did the work
// (internal/cpustat reads the servers' CPU time from /proc) — the figures
// docs/capacity.md sizes nodes with:
//
//   - readsvc: the hot page with every tier (groupcache hits) under wrk:
//     pages per CPU-second of this process (readsvc's handler; wrk is
//     another process), the groupcache hit ratio (1 - page loads / pages)
//     and what reached redis-server meanwhile;
//   - redis: readsvc with groupcache off, the hot video's first page at
//     the 50 limits (50 page keys, so loads are not shared in flight):
//     Redis page reads (readsvc_page_loads_total{source="redis"}, one Lua
//     call each) per redis-server CPU-second;
//   - cassandra: pages past a 20-comment Redis window with groupcache off,
//     at the 50 limits: every load is a Cassandra page query
//     (readsvc_cassandra_page_queries_total): cold page reads per
//     Cassandra CPU-second;
//   - changes: new visible comments applied to another video's cache as
//     cdc does (pagecache Record) and settled as the syncer does (Settle),
//     as fast as 8 writers go: changes per redis-server CPU-second — what
//     one comment costs the hot video's Redis shard;
//   - reads+changes: wrk on a third video's first page with every tier
//     while changes land on that video at changeRate/s: Redis page reads
//     per change (each change moves the video's version, so groupcache
//     keys change) and the hit ratio under writes.
//
// Before the modes, each server's idle CPU use over a few seconds is
// measured (background work: compaction, GC, other clients): the figures
// are not corrected for it; the log shows it. Modes take turns for three
// rounds; totals over the rounds are reported. Run it with
//
//	go test ./readsvc/api -run '^$' -bench TierPerCore -benchtime 1x -v
func BenchmarkTierPerCore(b *testing.B) {
	if err := wrk.Installed(); err != nil {
		b.Fatal(err)
	}
	redisProc, err := cpustat.Server("redis")
	if err != nil {
		b.Fatal(err)
	}
	cassProc, err := cpustat.Server("cassandra")
	if err != nil {
		b.Fatal(err)
	}
	check := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	self := cpustat.Process{Name: "readsvc (this process)", PID: os.Getpid()}
	st := readtest.NewStack(b)
	video, _ := st.SeedVideo(200)
	timePath := readtest.PagePath(video, "limit=20")
	tiers := st.NewReader(readtest.Config{})
	redisTier := st.NewReader(readtest.Config{Options: pages.Options{CacheBytes: -1}})
	cassTier := st.NewReader(readtest.Config{Options: pages.Options{CacheBytes: -1, Window: 20, MaxInflight: 256}})
	first := cassTier.Get(b, timePath)
	if first.Code != 200 || first.Page.NextCursor == nil {
		b.Fatalf("first page: %d %s", first.Code, first.Raw)
	}
	var firstPages, deepPages []string
	for limit := 1; limit <= 50; limit++ {
		firstPages = append(firstPages, readtest.PagePath(video, fmt.Sprintf("limit=%d", limit)))
		deepPages = append(deepPages, readtest.PagePath(video, fmt.Sprintf("limit=%d&cursor=%s", limit, *first.Page.NextCursor)))
	}
	for _, w := range []struct {
		r     *readtest.Reader
		paths []string
	}{{tiers, []string{timePath}}, {redisTier, firstPages}, {cassTier, deepPages}} {
		for _, path := range w.paths {
			if got := w.r.Get(b, path); got.Code != 200 || len(got.IDs()) == 0 {
				b.Fatalf("warm-up %s: %d %s", path, got.Code, got.Raw)
			}
		}
	}
	// The write side: changes to a video's cache as cdc and the syncer
	// make them, on their own videos (their overlays and windows grow).
	changeVideo, changeIDs := st.SeedVideo(200)
	busyVideo, busyIDs := st.SeedVideo(200)
	busyPath := readtest.PagePath(busyVideo, "limit=20")
	if got := tiers.Get(b, busyPath); got.Code != 200 {
		b.Fatalf("warm-up %s: %d %s", busyPath, got.Code, got.Raw)
	}
	var seq atomic.Int64
	change := func(video, after int64) error {
		i := seq.Add(1)
		now := time.Now().UTC()
		c := comment.Comment{ID: after + i, VideoID: video, UserID: 7, Content: fmt.Sprintf("change %d", i), Status: comment.Approved,
			CreatedAt: now, Version: now.UnixMicro()*8 + i%8}
		body, err := cqlstore.Body(c)
		if err != nil {
			return err
		}
		ctx := context.Background()
		if _, _, err := st.Cache.Record(ctx, pagecache.Change{VideoID: video, ID: c.ID, Version: c.Version, Visible: true, Body: body}); err != nil {
			return err
		}
		_, err = st.Cache.Settle(ctx, video, c.ID, c.Version)
		return err
	}
	const changeRate = 200 // changes/s on the read video in reads+changes
	const (
		rounds = 3
		each   = 4 * time.Second
		idle   = 3 * time.Second
	)
	// Background: each server's CPU use with no load from here.
	idleMeter := cpustat.NewMeter(redisProc, cassProc)
	redisIdle, cassIdle := cpustat.NewMeter(redisProc), cpustat.NewMeter(cassProc)
	check(redisIdle.Start())
	check(cassIdle.Start())
	check(idleMeter.Start())
	time.Sleep(idle)
	check(idleMeter.Stop())
	check(redisIdle.Stop())
	check(cassIdle.Stop())

	gen := newLoadGen()
	defer gen.tr.CloseIdleConnections()
	type mode struct {
		name   string
		server cpustat.Process
		drive  func() float64 // pages answered (changes made, for changes)
		ops    func() float64 // what the tier's server did, from the reader's metrics
	}
	var changes atomic.Int64 // made by reads+changes
	changesFor := func(d time.Duration, writers int, rate float64, video, after int64) int64 {
		var n atomic.Int64
		var failed atomic.Value
		var wg sync.WaitGroup
		end := time.Now().Add(d)
		for range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				for k := 0; time.Now().Before(end); k++ {
					if rate > 0 { // paced: the k-th change of this writer at k / (rate / writers)
						if wait := time.Until(start.Add(time.Duration(float64(k) * float64(writers) / rate * float64(time.Second)))); wait > 0 {
							time.Sleep(wait)
						}
					}
					if err := change(video, after); err != nil {
						failed.CompareAndSwap(nil, err)
						return
					}
					n.Add(1)
				}
			}()
		}
		wg.Wait()
		if err, _ := failed.Load().(error); err != nil {
			b.Fatal(err)
		}
		return n.Load()
	}
	modes := []mode{
		{"readsvc", redisProc,
			func() float64 { return runWrk(b, tiers.Server.URL+timePath, 64, each).RPS * each.Seconds() },
			func() float64 { return counterSum(b, tiers.Registry, "readsvc_page_loads_total", "", "") }},
		{"redis", redisProc,
			func() float64 { return gen.spread(b, redisTier.Server.URL, firstPages, each) },
			func() float64 {
				return counterSum(b, redisTier.Registry, "readsvc_page_loads_total", "source", "redis")
			}},
		{"cassandra", cassProc,
			func() float64 { return gen.spread(b, cassTier.Server.URL, deepPages, each) },
			func() float64 {
				return counterSum(b, cassTier.Registry, "readsvc_cassandra_page_queries_total", "", "")
			}},
		{"changes", redisProc,
			func() float64 { return float64(changesFor(each, 8, 0, changeVideo, changeIDs[0])) },
			func() float64 { return 0 }},
		{"reads+changes", redisProc,
			func() float64 {
				done := make(chan int64)
				go func() { done <- changesFor(each, 1, changeRate, busyVideo, busyIDs[0]) }()
				pages := runWrk(b, tiers.Server.URL+busyPath, 64, each).RPS * each.Seconds()
				changes.Add(<-done)
				return pages
			},
			func() float64 { return counterSum(b, tiers.Registry, "readsvc_page_loads_total", "", "") }},
	}
	type totals struct {
		pages, ops float64
		self, srv  *cpustat.Meter
		rates      []float64
	}
	tot := make([]totals, len(modes))
	for i, m := range modes {
		tot[i].self, tot[i].srv = cpustat.NewMeter(self), cpustat.NewMeter(m.server)
	}
	for range b.N {
		for range rounds {
			for i, m := range modes {
				ops0 := m.ops()
				check(tot[i].self.Start())
				check(tot[i].srv.Start())
				n := m.drive()
				check(tot[i].srv.Stop())
				check(tot[i].self.Stop())
				tot[i].ops += m.ops() - ops0
				tot[i].pages += n
				tot[i].rates = append(tot[i].rates, n/each.Seconds())
			}
		}
	}
	var lines []string
	for i, m := range modes {
		t := tot[i]
		srvPerCore := t.srv.PerCPUSecond(t.ops)
		line := fmt.Sprintf("%-9s %8.0f pages (rounds %.0f/s)", m.name, t.pages, t.rates)
		switch m.name {
		case "readsvc":
			readsvcPerCore := t.self.PerCPUSecond(t.pages)
			hit := 1 - t.ops/t.pages
			b.ReportMetric(readsvcPerCore, "readsvc-pages/cpu-s")
			b.ReportMetric(hit, "groupcache-hit-ratio")
			line += fmt.Sprintf(": %.0f pages per readsvc CPU-second (%.2f CPU-s); groupcache hit ratio %.5f (%.0f loads); redis-server meanwhile %.2f CPU-s",
				readsvcPerCore, t.self.Total().Seconds(), hit, t.ops, t.srv.Total().Seconds())
		case "redis":
			b.ReportMetric(srvPerCore, "redis-reads/cpu-s")
			line += fmt.Sprintf(": %.0f Redis page reads (%.2f per page), %.0f per redis-server CPU-second (%.2f CPU-s)", t.ops, t.ops/t.pages, srvPerCore, t.srv.Total().Seconds())
		case "changes":
			perCore := t.srv.PerCPUSecond(t.pages)
			b.ReportMetric(perCore, "changes/redis-cpu-s")
			line = fmt.Sprintf("%-9s %8.0f changes (rounds %.0f/s): %.0f changes (cdc's Record + the syncer's Settle) per redis-server CPU-second (%.2f CPU-s)", m.name, t.pages, t.rates, perCore, t.srv.Total().Seconds())
		case "reads+changes":
			n := float64(changes.Load())
			b.ReportMetric(t.ops/n, "loads/change")
			b.ReportMetric(1-t.ops/t.pages, "groupcache-hit-ratio-under-changes")
			line += fmt.Sprintf(", %.0f changes at %d/s meanwhile: %.0f page loads, %.2f per change, hit ratio %.5f; redis-server %.2f CPU-s", n, changeRate, t.ops, t.ops/n, 1-t.ops/t.pages, t.srv.Total().Seconds())
		case "cassandra":
			b.ReportMetric(srvPerCore, "cassandra-reads/cpu-s")
			line += fmt.Sprintf(": %.0f Cassandra page queries (%.2f per page), %.0f per Cassandra CPU-second (%.2f CPU-s)", t.ops, t.ops/t.pages, srvPerCore, t.srv.Total().Seconds())
		}
		lines = append(lines, line)
	}
	redisIdleRate, cassIdleRate := redisIdle.Total().Seconds()/idle.Seconds(), cassIdle.Total().Seconds()/idle.Seconds()
	b.ReportMetric(redisIdleRate, "redis-idle-cpu-s/s")
	b.ReportMetric(cassIdleRate, "cassandra-idle-cpu-s/s")
	b.ReportMetric(0, "ns/op")
	b.Logf("per-core figures, %d rounds interleaved (%v each), totals; %s, %s; idle before the load: redis %.3f CPU-s/s, cassandra %.3f CPU-s/s (not subtracted)\n%s",
		rounds, each, redisProc, cassProc, redisIdleRate, cassIdleRate, strings.Join(lines, "\n"))
}
