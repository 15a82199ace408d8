package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/cdn"
	"github.com/vidcomments/vidcomments/internal/wrk"
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
	video, _ := st.SeedVideo(200)
	path := readtest.PagePath(video, "limit=20")
	tiers := st.NewReader(readtest.Config{})
	redisTier := st.NewReader(readtest.Config{Options: pages.Options{CacheBytes: -1}})

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
	b.ReportMetric(0, "ns/op")
	b.Logf("body %d bytes, %d connections, %d requests per mode: static %.0f req/s p99 %v | tiers %.0f req/s p99 %v, ratio %.2f (goal >= 0.9) | redis %.0f req/s p99 %v, ratio %.2f (goal >= 0.5) | static+ping %.0f req/s, ratio %.2f",
		len(body), benchConcurrency, len(lats[0]), rps[0], p99[0], rps[1], p99[1], rps[1]/rps[0], rps[2], p99[2], rps[2]/rps[0], rps[3], rps[3]/rps[0])
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
	for _, q := range []string{"limit=20", "limit=20&sort=hot", "limit=5"} {
		t.Run(q, func(t *testing.T) {
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
func staticPage(b *testing.B, r *readtest.Reader, path string) (*httptest.Server, int) {
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
// Debian's wrk, in one run: a null handler (200, empty body: the ceiling of
// the generator and net/http together on this box), static handlers writing
// the exact bytes and headers of the time and hot pages, and readsvc serving
// both. Modes take turns for rounds rounds; medians are reported. A mode
// within 10% of the null handler's rate is marked generator-bound: its ratio
// is not a figure. Run it with
//
//	go test ./readsvc/api -run '^$' -bench HotPageWrk -benchtime 1x
func BenchmarkHotPageWrk(b *testing.B) {
	if err := wrk.Installed(); err != nil {
		b.Fatal(err)
	}
	st := readtest.NewStack(b)
	video := seedLiked(b, st, 200)
	r := st.NewReader(readtest.Config{SharedMaxAge: time.Minute})
	timePath, hotPath := readtest.PagePath(video, "limit=20"), readtest.PagePath(video, "limit=20&sort=hot")
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
	null := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header()["Content-Length"] = []string{"0"}
	}))
	defer null.Close()
	modes := []struct{ name, url string }{
		{"null", null.URL + "/"},
		{"static", staticTime.URL + timePath},
		{"readsvc", r.Server.URL + timePath},
		{"static-hot", staticHot.URL + hotPath},
		{"readsvc-hot", r.Server.URL + hotPath},
		{"varnish", cache.URL() + timePath},
	}
	const (
		rounds = 3
		conns  = 64
		each   = 4 * time.Second
	)
	runs := make([][]wrk.Result, len(modes))
	// CPU time of this process (the handler under test; wrk is another
	// process) per request served, per mode: the per-core figure that
	// docs/capacity.md sizes readsvc nodes with.
	cpu, served := make([]time.Duration, len(modes)), make([]float64, len(modes))
	for range b.N {
		for range rounds {
			for i, m := range modes {
				before := processCPU(b)
				r := runWrk(b, m.url, conns, each)
				cpu[i] += processCPU(b) - before
				served[i] += r.RPS * each.Seconds()
				runs[i] = append(runs[i], r)
			}
		}
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
		if i > 0 && x.RPS >= 0.9*ceiling {
			line += "  GENERATOR-BOUND: within 10% of the null handler, not a figure"
		}
		lines = append(lines, line)
	}
	ratio := func(a, b int) float64 { return med(a).RPS / med(b).RPS }
	b.ReportMetric(ratio(0, 1), "null/static")
	b.ReportMetric(ratio(2, 1), "readsvc/static")
	b.ReportMetric(ratio(4, 3), "readsvc-hot/static-hot")
	b.ReportMetric(ratio(5, 2), "varnish/readsvc")
	b.ReportMetric(0, "ns/op")
	b.Logf("wrk -t1 -c%d -d%v, %d rounds interleaved, medians; body %d bytes\n%s\nnull/static %.2f (the generator's headroom; want >= 2) | readsvc/static %.2f (goal >= 0.95) | readsvc-hot/static-hot %.2f (goal >= 0.95) | varnish/readsvc %.2f (the page through Varnish, %s, beside readsvc direct; wrk's ceiling is the null handler's rate)",
		conns, each, rounds, timeBytes, strings.Join(lines, "\n"), ratio(0, 1), ratio(2, 1), ratio(4, 3), ratio(5, 2), varnishVersion())
}

// varnishVersion is what varnishd -V says, for the report.
func varnishVersion() string {
	out, err := exec.Command(cdn.Varnishd, "-V").CombinedOutput()
	if err != nil {
		return "varnishd -V failed"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}
