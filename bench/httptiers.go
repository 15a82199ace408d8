package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/vidcomments/vidcomments/bench/report"
	"github.com/vidcomments/vidcomments/internal/wrk"
	"github.com/vidcomments/vidcomments/readsvc/pages"
)

// httpTiers is what measureHTTPTiers adds to a report.
type httpTiers struct {
	Ratios  []report.Ratio
	Figures []report.NamedFigure
	Note    string
}

// A wrkMode is one server wrk drives.
type wrkMode struct{ name, url string }

// wrkRounds drives each mode with wrk for each in turn, rounds times
// (wrk.Rounds: every other round in reverse order), and returns every
// run's result per mode.
func wrkRounds(ctx context.Context, logger *slog.Logger, modes []wrkMode, rounds, conns int, each time.Duration) ([][]wrk.Result, error) {
	runs := make([][]wrk.Result, len(modes))
	err := wrk.Rounds(len(modes), rounds, func(i, round int) error {
		r, err := wrk.Run(ctx, modes[i].url, conns, each)
		if err != nil {
			return fmt.Errorf("%s: %w", modes[i].name, err)
		}
		logger.Info("wrk", "mode", modes[i].name, "round", round, "rps", fmt.Sprintf("%.0f", r.RPS), "p99", r.P99)
		runs[i] = append(runs[i], r)
		return nil
	})
	return runs, err
}

func medianRPS(rs []wrk.Result) float64 {
	xs := make([]float64, len(rs))
	for i, r := range rs {
		xs[i] = r.RPS
	}
	return median(xs)
}

func medianP99(rs []wrk.Result) time.Duration {
	xs := make([]float64, len(rs))
	for i, r := range rs {
		xs[i] = float64(r.P99)
	}
	return time.Duration(median(xs))
}

// gcFigures are readsvc's collector over the wrk block (d, the counter
// deltas) and its heap at the end (m): when readsvc trails the static
// handler, the first thing to rule out is a heap pressed against its
// memory limit, where the collector runs nearly without pause.
func gcFigures(m, d metrics) []report.NamedFigure {
	share := 0.0
	if cpu := d.sum("process_cpu_seconds_total"); cpu > 0 {
		share = 100 * d.sum("go_cpu_classes_gc_total_cpu_seconds_total") / cpu
	}
	return []report.NamedFigure{
		{Name: "wrk block: readsvc's collector, share of its CPU", Value: share, Unit: "%"},
		{Name: "wrk block: readsvc's collections", Value: d.sum("go_gc_duration_seconds_count"), Unit: "cycles"},
		{Name: "wrk block: readsvc's heap in use at the end", Value: m.sum("go_memstats_heap_inuse_bytes") / (1 << 20), Unit: "MiB"},
	}
}

// wrkProfile takes a CPU profile of the process behind admin while wrk
// drives url, and stores it in file.
func wrkProfile(ctx context.Context, admin, url string, conns int, d time.Duration, file string) error {
	done := make(chan error, 1)
	go func() {
		_, err := wrk.Run(ctx, url, conns, d+time.Second)
		done <- err
	}()
	pc := &http.Client{Timeout: d + 30*time.Second}
	code, body := get(ctx, pc, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", admin, int(d/time.Second)))
	if err := <-done; err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("cpu profile under wrk: %d %.200s", code, body)
	}
	return os.WriteFile(file, body, 0o644)
}

// underWrk readies a wrk block: wrk installed, on a CPU of its own
// (wrk.SplitCPUs) with the servers under test pinned to the others, and
// the null server (wrk's own ceiling) started. placement says where each
// runs; done undoes it all.
func underWrk(servers ...*proc) (placement string, null *wrk.NullServer, done func(), err error) {
	if err := wrk.Installed(); err != nil {
		return "", nil, nil, err
	}
	placement = "wrk and the servers share the CPUs"
	undo := func() {}
	if split, err := wrk.SplitCPUs(); err != nil {
		placement += " (" + err.Error() + ")"
	} else {
		undo = split.Undo
		pids := make([]int, len(servers))
		for i, s := range servers {
			pids[i] = s.cmd.Process.Pid
		}
		if err := split.Pin(pids...); err != nil {
			undo()
			return "", nil, nil, err
		}
		placement = split.String()
	}
	if null, err = wrk.StartNull(); err != nil {
		undo()
		return "", nil, nil, err
	}
	return placement, null, func() { null.Close(); undo() }, nil
}

// measureHTTPTiers is the hot page's throughput against the static handler
// with a generator that is not the ceiling: Debian's wrk on a CPU of its
// own (wrk.SplitCPUs), the processes under test — readsvc and the static
// baseline, both separate processes — pinned to the others, and, in the
// same rounds, wrk against a null server (wrk.NullServer, no HTTP stack:
// the generator's own ceiling). Each path is the hot video's first page,
// sort=time and sort=hot, which the static baseline serves byte for byte.
// A mode within 10% of the null server's rate is generator-bound: its
// ratio is never a pass.
func measureHTTPTiers(ctx context.Context, logger *slog.Logger, readsvc, static *proc, timePath, hotPath, profileFile string) (httpTiers, error) {
	var out httpTiers
	placement, null, done, err := underWrk(readsvc, static)
	if err != nil {
		return out, err
	}
	defer done()
	readsvcTime := "http://" + readsvc.Addr + timePath
	modes := []wrkMode{
		{"null server", null.URL()},
		{"static, sort=time", "http://" + static.Addr + timePath},
		{"readsvc, sort=time", readsvcTime},
		{"static, sort=hot", "http://" + static.Addr + hotPath},
		{"readsvc, sort=hot", "http://" + readsvc.Addr + hotPath},
	}
	const (
		rounds = 5
		conns  = 64
		each   = 4 * time.Second
	)
	metricsURL := "http://" + readsvc.Admin + "/metrics"
	before, err := scrape(ctx, http.DefaultClient, metricsURL)
	if err != nil {
		return out, err
	}
	runs, err := wrkRounds(ctx, logger, modes, rounds, conns, each)
	if err != nil {
		return out, err
	}
	after, err := scrape(ctx, http.DefaultClient, metricsURL)
	if err != nil {
		return out, err
	}
	out.Figures = append(out.Figures, gcFigures(after, after.minus(before))...)
	// Where readsvc's time goes under wrk: one more sort=time run, profiled.
	if err := wrkProfile(ctx, readsvc.Admin, readsvcTime, conns, each, profileFile); err != nil {
		return out, err
	}
	half, err := measureHalfRate(ctx, logger, modes, medianRPS(runs[1])/2, medianRPS(runs[3])/2)
	if err != nil {
		return out, err
	}
	out.Ratios = append(out.Ratios, half.Ratios...)
	out.Figures = append(out.Figures, half.Figures...)
	ceiling := medianRPS(runs[0])
	for i, m := range modes {
		out.Figures = append(out.Figures,
			report.NamedFigure{Name: "wrk, hot video's first page: " + m.name, Value: medianRPS(runs[i]), Unit: "req/s"},
			report.NamedFigure{Name: "wrk, hot video's first page: " + m.name + ", p99", Value: float64(medianP99(runs[i])) / float64(time.Millisecond), Unit: "ms"})
	}
	headroom := wrk.MedianRatio(runs[0], runs[1])
	out.Ratios = append(out.Ratios, report.Ratio{Name: "wrk's headroom: null server / static handler throughput", Value: headroom, Goal: 2, Higher: true, Unit: "×",
		Detail: fmt.Sprintf("null server %.0f/s, static %.0f/s: the generator's own ceiling against the fastest handler it measures", ceiling, medianRPS(runs[1]))})
	for _, pair := range [][2]int{{2, 1}, {4, 3}} {
		r, s := pair[0], pair[1]
		bound := medianRPS(runs[r]) >= 0.9*ceiling || medianRPS(runs[s]) >= 0.9*ceiling
		detail := fmt.Sprintf("readsvc %.0f/s (p99 %v), static %.0f/s (p99 %v); the median of %d rounds' ratios", medianRPS(runs[r]), medianP99(runs[r]), medianRPS(runs[s]), medianP99(runs[s]), rounds)
		if bound {
			detail += "; GENERATOR-BOUND: within 10% of the null server, not a figure"
		}
		out.Ratios = append(out.Ratios, report.Ratio{Name: "hot page under wrk: " + modes[r].name + " / " + modes[s].name + " throughput", Value: wrk.MedianRatio(runs[r], runs[s]), Goal: 0.95, Higher: true, Unit: "×",
			Detail: detail, GeneratorBound: bound})
	}
	out.Note = fmt.Sprintf("HTTP tiers under wrk (closed loop, the throughput goals): wrk -t1 -c%d -d%v, %d rounds, every other in reverse order; %s. The null server answers an empty 200 with no HTTP stack, so its rate is wrk's own ceiling in this run. The open-loop ramps below measure latency and tiers; their rates are bounded by the Go load generator, which shares the CPUs with the servers.", conns, each, rounds, placement) + " " + half.Note
	return out, nil
}

// measureHalfRate is the hot page's latency at half the static handler's
// rate (timeRate for sort=time and the null server, hotRate for sort=hot;
// each half of the closed-loop median just measured): wrk held to the rate
// (wrk.RunAt) against the null server, static and readsvc, in rounds, and
// readsvc's p99 over static's, the median of the rounds' ratios. The null
// server's p99 at the same rate is the generator's own. A pair where any
// round, or the null server, fell more than 5% short of its rate is
// generator-bound. modes are measureHTTPTiers': null, then static and
// readsvc for sort=time, then for sort=hot.
func measureHalfRate(ctx context.Context, logger *slog.Logger, modes []wrkMode, timeRate, hotRate float64) (httpTiers, error) {
	var out httpTiers
	// A p99 on this kind of box swings with its neighbours' load (the null
	// server's own from 0.3 to 4 ms): more short rounds make a steadier
	// median than fewer long ones.
	const (
		rounds = 5
		conns  = 64
		each   = 2 * time.Second
	)
	rates := []float64{timeRate, timeRate, timeRate, hotRate, hotRate}
	runs := make([][]wrk.Result, len(modes))
	err := wrk.Rounds(len(modes), rounds, func(i, round int) error {
		r, err := wrk.RunAt(ctx, modes[i].url, conns, rates[i], each)
		if err != nil {
			return fmt.Errorf("%s at %.0f/s: %w", modes[i].name, rates[i], err)
		}
		logger.Info("wrk at half rate", "mode", modes[i].name, "round", round, "target", fmt.Sprintf("%.0f", rates[i]), "rps", fmt.Sprintf("%.0f", r.RPS), "p99", r.P99)
		runs[i] = append(runs[i], r)
		return nil
	})
	if err != nil {
		return out, err
	}
	short := func(i int) bool {
		return slices.ContainsFunc(runs[i], func(r wrk.Result) bool { return r.RPS < 0.95*rates[i] })
	}
	for i, m := range modes {
		out.Figures = append(out.Figures, report.NamedFigure{Name: fmt.Sprintf("wrk at half the static rate (%.0f/s), hot video's first page: %s, p99", rates[i], m.name),
			Value: float64(medianP99(runs[i])) / float64(time.Millisecond), Unit: "ms"})
	}
	for _, pair := range [][2]int{{2, 1}, {4, 3}} {
		r, s := pair[0], pair[1]
		ratios := make([]float64, rounds)
		for k := range ratios {
			if p := runs[s][k].P99; p > 0 {
				ratios[k] = float64(runs[r][k].P99) / float64(p)
			}
		}
		bound := short(0) || short(r) || short(s)
		detail := fmt.Sprintf("at %.0f/s: readsvc p99 %v (held %.0f/s), static p99 %v (held %.0f/s); the null server's p99 at %.0f/s %v (held %.0f/s, the generator's own); the median of %d rounds' ratios",
			rates[r], medianP99(runs[r]), medianRPS(runs[r]), medianP99(runs[s]), medianRPS(runs[s]), rates[0], medianP99(runs[0]), medianRPS(runs[0]), rounds)
		if bound {
			detail += "; GENERATOR-BOUND: a round fell more than 5% short of its rate, not a figure"
		}
		out.Ratios = append(out.Ratios, report.Ratio{Name: "hot page at half the static rate: " + modes[r].name + " / " + modes[s].name + " p99", Value: median(ratios), Goal: 1.2, Unit: "×",
			Detail: detail, GeneratorBound: bound})
	}
	out.Note = fmt.Sprintf("Half rate: wrk -t1 -c%d -d%v held to half the static handler's closed-loop median (wrk.RunAt: one schedule, each connection waits for the next free slot), %d rounds, every other in reverse order, the null server at the same rate in each. Latency runs from each request's send, not its slot (a paced closed loop: a stall's backlog is not counted, alike for every server).", conns, each, rounds)
	return out, nil
}

// zipfPaths writes n first-page paths drawn Zipf-wise over the plan's
// videos (seeded: every run asks the same sequence) to file, one a line.
func zipfPaths(rp *readPlan, n int, file string) error {
	r := rand.New(rand.NewPCG(1, 3))
	var b strings.Builder
	for range n {
		b.WriteString(firstPage(rp.d.video(rp.zipf.sample(r))))
		b.WriteByte('\n')
	}
	return os.WriteFile(file, []byte(b.String()), 0o644)
}

// measureZipfUnderWrk is the zipf throughput goal measured as the hot
// page's is: closed loop, wrk on a CPU of its own, readsvc and the
// direct-Cassandra baseline (readsvc -caches-off) pinned to the others,
// the null server in the same rounds for wrk's own ceiling. Both modes ask
// the very same sequence of Zipf(1.0) first pages. The open-loop ramp's
// rates stop where the Go generator, sharing the CPUs, runs out of sending
// (its unsent requests), so they are not the throughput figure. conns is
// the baseline's own bound on concurrent Cassandra reads, so a rate of
// the baseline is never one of it refusing work; what fails all the same
// is counted and left out (2xx answers only).
func measureZipfUnderWrk(ctx context.Context, logger *slog.Logger, rp *readPlan, readsvc, direct *proc, pathsFile string) (report.Ratio, []report.NamedFigure, error) {
	if err := zipfPaths(rp, 200_000, pathsFile); err != nil {
		return report.Ratio{}, nil, err
	}
	placement, null, done, err := underWrk(readsvc, direct)
	if err != nil {
		return report.Ratio{}, nil, err
	}
	defer done()
	const (
		rounds = 3
		each   = 4 * time.Second
	)
	conns := pages.DefaultMaxInflight
	bases := []struct{ name, base string }{
		{"null server", strings.TrimSuffix(null.URL(), "/")},
		{"readsvc", "http://" + readsvc.Addr},
		{"readsvc -caches-off", "http://" + direct.Addr},
	}
	runs := make([][]wrk.Result, len(bases))
	err = wrk.Rounds(len(bases), rounds, func(i, round int) error {
		r, err := wrk.RunPaths(ctx, bases[i].base, pathsFile, conns, each)
		if err != nil {
			return fmt.Errorf("zipf under wrk, %s: %w", bases[i].name, err)
		}
		logger.Info("wrk zipf", "mode", bases[i].name, "round", round, "rps", fmt.Sprintf("%.0f", r.GoodRPS()), "failed", r.Failed, "p99", r.P99)
		runs[i] = append(runs[i], r)
		return nil
	})
	if err != nil {
		return report.Ratio{}, nil, err
	}
	good := func(rs []wrk.Result) []wrk.Result {
		out := make([]wrk.Result, len(rs))
		for k, r := range rs {
			out[k] = wrk.Result{RPS: r.GoodRPS()}
		}
		return out
	}
	failed := make([]int64, len(bases))
	var figures []report.NamedFigure
	for i, b := range bases {
		for _, r := range runs[i] {
			failed[i] += r.Failed
		}
		figures = append(figures,
			report.NamedFigure{Name: "wrk, zipf first pages: " + b.name, Value: medianRPS(good(runs[i])), Unit: "req/s"},
			report.NamedFigure{Name: "wrk, zipf first pages: " + b.name + ", p99", Value: float64(medianP99(runs[i])) / float64(time.Millisecond), Unit: "ms"})
	}
	ceiling, ours, base := medianRPS(runs[0]), medianRPS(good(runs[1])), medianRPS(good(runs[2]))
	bound := ours >= 0.9*ceiling
	detail := fmt.Sprintf("wrk -t1 -c%d -d%v, %d rounds, every other in reverse order, each mode over the same 200,000 Zipf(1.0) first pages; %s; readsvc %.0f/s (p99 %v), readsvc -caches-off %.0f/s (p99 %v, %d failed answers left out), null server %.0f/s; the median of the rounds' ratios",
		conns, each, rounds, placement, ours, medianP99(runs[1]), base, medianP99(runs[2]), failed[2], ceiling)
	if failed[1] > 0 {
		detail += fmt.Sprintf("; readsvc failed %d answers", failed[1])
	}
	if bound {
		detail += "; GENERATOR-BOUND: within 10% of the null server, not a figure"
	}
	return report.Ratio{Name: "zipf under wrk: readsvc / direct-Cassandra throughput", Value: wrk.MedianRatio(good(runs[1]), good(runs[2])), Goal: 10, Higher: true, Unit: "×",
		Detail: detail, GeneratorBound: bound}, figures, nil
}
