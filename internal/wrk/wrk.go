// Package wrk runs Debian's wrk, the HTTP benchmarks' load generator, and
// reads its figures. wrk is a C event loop whose own ceiling on this kind
// of box is well above the handlers it measures; every benchmark that uses
// it also runs it against a null handler in the same run, so a figure taken
// at the generator's ceiling is seen as such.
package wrk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Result is one run's figures.
type Result struct {
	RPS      float64       // Requests/sec, every answer counted
	P50, P99 time.Duration // from --latency
	Requests int64         // answers in all ("N requests in …")
	Failed   int64         // non-2xx answers, socket errors and timeouts
}

// GoodRPS is the rate of 2xx answers.
func (r Result) GoodRPS() float64 {
	if r.Requests <= 0 {
		return r.RPS
	}
	return r.RPS * float64(max(r.Requests-r.Failed, 0)) / float64(r.Requests)
}

// Installed says how to get wrk when it is missing.
func Installed() error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return fmt.Errorf("wrk is not installed (%v): run scripts/stack install (it installs Debian's wrk)", err)
	}
	return nil
}

// Run drives url with one wrk thread over conns connections for d. Any
// non-2xx answer or socket error fails the run: a rate of errors is not a
// rate of pages.
func Run(ctx context.Context, url string, conns int, d time.Duration) (Result, error) {
	r, out, err := run(ctx, url, conns, d)
	if err == nil && r.Failed > 0 {
		err = fmt.Errorf("wrk %s: %d of %d requests failed\n%s", url, r.Failed, r.Requests, out)
	}
	return r, err
}

// run is one wrk thread over conns connections for d against url; script
// (and its arguments after the URL) when given.
func run(ctx context.Context, url string, conns int, d time.Duration, script ...string) (Result, string, error) {
	args := []string{"-t1", "-c" + strconv.Itoa(conns), "-d" + d.String(), "--latency"}
	if len(script) > 0 {
		args = append(args, "-s", script[0], url)
		args = append(args, script[1:]...)
	} else {
		args = append(args, url)
	}
	argv := command(args...)
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return Result{}, string(out), fmt.Errorf("wrk %s: %v\n%s", url, err, out)
	}
	r, err := Parse(string(out))
	return r, string(out), err
}

// pathsScript has wrk ask for the paths of a file (one a line) in turn,
// starting over at its end.
const pathsScript = `local paths, i = {}, 0
init = function(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  if #paths == 0 then error("no paths in " .. args[1]) end
end
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
`

// RunPaths is Run over the paths of pathsFile, asked in the file's order
// from base (http://host:port). Failed answers are counted, not fatal:
// a baseline that sheds load under a closed loop still has a rate of
// good answers (Result.GoodRPS).
func RunPaths(ctx context.Context, base, pathsFile string, conns int, d time.Duration) (Result, error) {
	script := filepath.Join(filepath.Dir(pathsFile), "wrk-paths.lua")
	if err := os.WriteFile(script, []byte(pathsScript), 0o644); err != nil {
		return Result{}, err
	}
	r, _, err := run(ctx, base, conns, d, script, pathsFile)
	return r, err
}

// paceScript holds wrk to a rate: one global schedule, a slot every
// 1/rate, and each connection, once its answer is in, waits for the next
// free slot (delay(), in whole milliseconds, wrk's timer grain). LuaJIT's
// ffi reads the monotonic clock, which wrk's Lua does not offer. A
// schedule more than a second behind restarts from now rather than send
// a backlog at once.
const paceScript = `local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } vc_timespec;
int clock_gettime(int clk, vc_timespec *tp);
]]
local ts = ffi.new("vc_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end
local gap, next_at
init = function(args)
  local rate = tonumber(args[1])
  if rate == nil or rate <= 0 then error("pace: no rate in " .. tostring(args[1])) end
  gap = 1000 / rate
end
delay = function()
  local t = now_ms()
  if next_at == nil or next_at < t - 1000 then next_at = t end
  next_at = next_at + gap
  local d = next_at - t
  if d < 1 then return 0 end
  return math.floor(d)
end
`

// RunAt drives url at rate requests a second over conns connections for
// d: wrk with paceScript, a paced closed loop. Each connection has one
// request out at a time, so the rate holds only while conns exceed rate ×
// (latency + 1 ms); Result.RPS says what it held. Latency runs from each
// request's send, not from its slot: a stall delays the requests behind
// it without counting their wait (coordinated omission), alike for every
// server driven the same way. Failures fail the run, as in Run.
func RunAt(ctx context.Context, url string, conns int, rate float64, d time.Duration) (Result, error) {
	f, err := os.CreateTemp("", "wrk-pace-*.lua")
	if err != nil {
		return Result{}, err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(paceScript); err != nil {
		f.Close()
		return Result{}, err
	}
	if err := f.Close(); err != nil {
		return Result{}, err
	}
	r, out, err := run(ctx, url, conns, d, f.Name(), strconv.FormatFloat(rate, 'f', 0, 64))
	if err == nil && r.Failed > 0 {
		err = fmt.Errorf("wrk %s at %.0f/s: %d of %d requests failed\n%s", url, rate, r.Failed, r.Requests, out)
	}
	return r, err
}

// Parse reads wrk's report.
func Parse(out string) (Result, error) {
	var r Result
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			r.RPS, _ = strconv.ParseFloat(f[1], 64)
		case len(f) == 2 && f[0] == "50%":
			r.P50 = parseDuration(f[1])
		case len(f) == 2 && f[0] == "99%":
			r.P99 = parseDuration(f[1])
		case len(f) >= 3 && f[1] == "requests" && f[2] == "in":
			r.Requests, _ = strconv.ParseInt(f[0], 10, 64)
		case strings.HasPrefix(strings.TrimSpace(line), "Non-2xx or 3xx responses:"):
			n, err := strconv.ParseInt(f[len(f)-1], 10, 64)
			if err != nil {
				return Result{}, errors.New("wrk: " + strings.TrimSpace(line))
			}
			r.Failed += n
		case strings.HasPrefix(strings.TrimSpace(line), "Socket errors:"):
			// Socket errors: connect 0, read 3, write 0, timeout 0
			for k := 3; k < len(f); k += 2 {
				n, err := strconv.ParseInt(strings.TrimSuffix(f[k], ","), 10, 64)
				if err != nil {
					return Result{}, errors.New("wrk: " + strings.TrimSpace(line))
				}
				r.Failed += n
			}
		}
	}
	if r.RPS == 0 {
		return Result{}, fmt.Errorf("wrk: no Requests/sec in\n%s", out)
	}
	return r, nil
}

// parseDuration reads wrk's "812.00us", "6.10ms", "1.02s", "2.00m".
func parseDuration(s string) time.Duration {
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"m", time.Minute}, {"s", time.Second}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return time.Duration(f * float64(u.unit))
		}
	}
	return 0
}

// Rounds calls run for each of modes modes in turn, rounds times, every
// other round in reverse order, so that a drift in the box's speed over a
// round favours no mode of a pair. It stops at the first error.
func Rounds(modes, rounds int, run func(mode, round int) error) error {
	for round := range rounds {
		for k := range modes {
			i := k
			if round%2 == 1 {
				i = modes - 1 - k
			}
			if err := run(i, round); err != nil {
				return err
			}
		}
	}
	return nil
}

// MedianRatio is the median over rounds of a's rate over b's in the same
// round: the two runs of a round are seconds apart, so the noise between
// rounds cancels. A round whose b is 0 counts as 0.
func MedianRatio(a, b []Result) float64 {
	rs := make([]float64, min(len(a), len(b)))
	for k := range rs {
		if b[k].RPS > 0 {
			rs[k] = a[k].RPS / b[k].RPS
		}
	}
	if len(rs) == 0 {
		return 0
	}
	slices.Sort(rs)
	return rs[len(rs)/2]
}
