package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vidcomments/vidcomments/bench/report"
	"github.com/vidcomments/vidcomments/internal/cpustat"
	"github.com/vidcomments/vidcomments/internal/wrk"
)

// lbFigures is what measureBehindHAProxy adds to a report.
type lbFigures struct {
	Ratios  []report.Ratio
	Figures []report.NamedFigure
	Note    string
}

// measureBehindHAProxy drives the hot page with wrk against: a null
// server (wrk.NullServer: the generator's own ceiling in this run), one readsvc directly, the
// same readsvc behind HAProxy (what the proxy hop costs), and the ring's
// instances behind HAProxy (round-robin) — the cluster topology's front
// door. Modes take turns for three rounds; medians are kept. Around each
// wrk run it measures the CPU time of the readsvc processes and of HAProxy
// (internal/cpustat): pages per readsvc CPU-second directly and behind the
// ring (what the ring's peer hops cost per page) and requests per HAProxy
// CPU-second (what the front door costs), the per-core figures
// docs/capacity.md checks its sizing with.
//
// HAProxy is Debian's (scripts/stack install puts it there), run in the
// foreground with a configuration written into logDir.
func measureBehindHAProxy(ctx context.Context, logger *slog.Logger, logDir string, singleProc *proc, ringProcs []*proc, path string) (lbFigures, error) {
	single := singleProc.Addr
	ring := make([]string, len(ringProcs))
	ringCPU := make([]cpustat.Process, len(ringProcs))
	for i, r := range ringProcs {
		ring[i] = r.Addr
		ringCPU[i] = cpustat.Process{Name: r.Name, PID: r.cmd.Process.Pid}
	}
	singleCPU := cpustat.Process{Name: singleProc.Name, PID: singleProc.cmd.Process.Pid}
	if err := wrk.Installed(); err != nil {
		return lbFigures{}, err
	}
	if _, err := exec.LookPath("haproxy"); err != nil {
		return lbFigures{}, fmt.Errorf("haproxy is not installed (%v): run scripts/stack install (it installs Debian's haproxy)", err)
	}
	oneFront, err := freeAddr()
	if err != nil {
		return lbFigures{}, err
	}
	ringFront, err := freeAddr()
	if err != nil {
		return lbFigures{}, err
	}
	haproxyPID, stop, err := startHAProxy(ctx, logDir, map[string][]string{oneFront: {single}, ringFront: ring})
	if err != nil {
		return lbFigures{}, err
	}
	defer stop()
	haproxyCPU := cpustat.Process{Name: "haproxy", PID: haproxyPID}
	null, err := wrk.StartNull()
	if err != nil {
		return lbFigures{}, err
	}
	defer null.Close()

	modes := []struct{ name, url string }{
		{"null server", null.URL()},
		{"1 readsvc, direct", "http://" + single + path},
		{"HAProxy → 1 readsvc", "http://" + oneFront + path},
		{fmt.Sprintf("HAProxy → %d readsvc (ring)", len(ring)), "http://" + ringFront + path},
	}
	const (
		rounds = 3
		conns  = 64
		each   = 4 * time.Second
	)
	// The CPU meters of each mode: the readsvc processes that served it,
	// and HAProxy when it was in front.
	readsvcs := []*cpustat.Meter{cpustat.NewMeter(), cpustat.NewMeter(singleCPU), cpustat.NewMeter(singleCPU), cpustat.NewMeter(ringCPU...)}
	proxies := []*cpustat.Meter{cpustat.NewMeter(), cpustat.NewMeter(), cpustat.NewMeter(haproxyCPU), cpustat.NewMeter(haproxyCPU)}
	served := make([]float64, len(modes))
	runs := make([][]float64, len(modes))
	for round := range rounds {
		for i, m := range modes {
			if err := errors.Join(readsvcs[i].Start(), proxies[i].Start()); err != nil {
				return lbFigures{}, err
			}
			r, err := wrk.Run(ctx, m.url, conns, each)
			if err != nil {
				return lbFigures{}, fmt.Errorf("%s: %w", m.name, err)
			}
			if err := errors.Join(readsvcs[i].Stop(), proxies[i].Stop()); err != nil {
				return lbFigures{}, err
			}
			served[i] += r.RPS * each.Seconds()
			logger.Info("haproxy", "mode", m.name, "round", round, "rps", fmt.Sprintf("%.0f", r.RPS), "p99", r.P99)
			runs[i] = append(runs[i], r.RPS)
		}
	}
	med := make([]float64, len(modes))
	var out lbFigures
	for i, m := range modes {
		med[i] = median(slices.Clone(runs[i]))
		out.Figures = append(out.Figures, report.NamedFigure{Name: "hot page through wrk (median of 3), " + m.name, Value: med[i], Unit: "req/s"})
	}
	for i := 1; i < len(modes); i++ {
		m := modes[i]
		out.Figures = append(out.Figures, report.NamedFigure{Name: "pages per readsvc CPU-second (all instances serving), " + m.name, Value: readsvcs[i].PerCPUSecond(served[i]), Unit: "pages/CPU-s"})
		if i >= 2 {
			out.Figures = append(out.Figures, report.NamedFigure{Name: "requests per HAProxy CPU-second, " + m.name, Value: proxies[i].PerCPUSecond(served[i]), Unit: "req/CPU-s"})
		}
	}
	logger.Info("haproxy per-core", "direct pages/readsvc-cpu-s", fmt.Sprintf("%.0f", readsvcs[1].PerCPUSecond(served[1])),
		"ring pages/readsvc-cpu-s", fmt.Sprintf("%.0f", readsvcs[3].PerCPUSecond(served[3])),
		"haproxy→1 req/haproxy-cpu-s", fmt.Sprintf("%.0f", proxies[2].PerCPUSecond(served[2])),
		"haproxy→ring req/haproxy-cpu-s", fmt.Sprintf("%.0f", proxies[3].PerCPUSecond(served[3])))
	bound := func(i int) string {
		if med[i] >= 0.9*med[0] {
			return " GENERATOR-BOUND: within 10% of the null server, not a figure."
		}
		return ""
	}
	out.Ratios = []report.Ratio{
		{Name: "HAProxy: the proxy hop, HAProxy → 1 readsvc / 1 readsvc direct", Value: ratio(med[2], med[1]), Goal: 0.5, Higher: true, Unit: "×",
			Detail: fmt.Sprintf("wrk -t1 -c%d -d%v, %d rounds interleaved, medians: direct %.0f/s, through HAProxy %.0f/s, null server %.0f/s (the generator's ceiling).%s", conns, each, rounds, med[1], med[2], med[0], bound(2))},
		{Name: fmt.Sprintf("HAProxy: %d readsvc behind HAProxy / 1 readsvc direct", len(ring)), Value: ratio(med[3], med[1]), Goal: 0.5, Higher: true, Unit: "×",
			Detail: fmt.Sprintf("the same runs: %d instances round-robin behind HAProxy %.0f/s (rounds %.0f), 1 direct %.0f/s (rounds %.0f). Every process — wrk, HAProxy, the readsvc instances, Redis — shares this box's CPUs, so more instances cannot add capacity here; the goal only says the front door costs at most half.%s",
				len(ring), med[3], runs[3], med[1], runs[1], bound(3))},
	}
	out.Note = fmt.Sprintf("HAProxy (Debian's, %s): one frontend per backend set, mode http, keep-alive to the servers (http-reuse always), round-robin; wrk keeps %d connections to whichever front it measures. Configuration: logs/haproxy.cfg.", haproxyVersion(), conns)
	return out, nil
}

// startHAProxy runs HAProxy in the foreground with one frontend per entry
// of fronts (listen address → server addresses) and waits until every
// frontend accepts connections. stop ends it.
func startHAProxy(ctx context.Context, logDir string, fronts map[string][]string) (pid int, stop func(), err error) {
	var cfg strings.Builder
	cfg.WriteString(`# written by go run ./bench ring
global
    maxconn 4096

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    option http-keep-alive
    http-reuse always
`)
	n := 0
	for front, servers := range fronts {
		fmt.Fprintf(&cfg, "\nfrontend f%d\n    bind %s\n    default_backend b%d\n\nbackend b%d\n    balance roundrobin\n", n, front, n, n)
		for i, s := range servers {
			fmt.Fprintf(&cfg, "    server s%d %s\n", i, s)
		}
		n++
	}
	file := filepath.Join(logDir, "haproxy.cfg")
	if err := os.WriteFile(file, []byte(cfg.String()), 0o644); err != nil {
		return 0, nil, err
	}
	if out, err := exec.CommandContext(ctx, "haproxy", "-c", "-q", "-f", file).CombinedOutput(); err != nil {
		return 0, nil, fmt.Errorf("haproxy -c -f %s: %v\n%s", file, err, out)
	}
	logf, err := os.Create(filepath.Join(logDir, "haproxy.log"))
	if err != nil {
		return 0, nil, err
	}
	cmd := exec.Command("haproxy", "-db", "-f", file)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return 0, nil, fmt.Errorf("start haproxy: %w", err)
	}
	stop = func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for front := range fronts {
		for {
			c, err := net.DialTimeout("tcp", front, 200*time.Millisecond)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				stop()
				return 0, nil, fmt.Errorf("haproxy does not listen on %s after 10 s (log: %s)", front, logf.Name())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return cmd.Process.Pid, stop, nil
}

// haproxyVersion is the first line of haproxy -v, for the report.
func haproxyVersion() string {
	out, err := exec.Command("haproxy", "-v").Output()
	if err != nil {
		return "version unknown"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}
