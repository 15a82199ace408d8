package main

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/bench/load"
)

func TestScenarioMixes(t *testing.T) {
	d := dataset{First: 1000, Counts: zipfCounts(10000, 20, 5000, 1), Total: 10000}
	walkPaths := []string{firstPage(1000), firstPage(1000) + "&cursor=a", firstPage(1000) + "&cursor=b", firstPage(1000) + "&cursor=c"}
	rp := &readPlan{d: d, zipf: newZipf(20, 1), hotWalk: walkPaths}
	scs := rp.scenarios()
	const n = 100000
	tests := []struct {
		scenario string
		share    func(path string) bool
		want     float64
	}{
		{"hot", func(p string) bool { return strings.HasPrefix(p, "/v1/videos/1000/") }, 0.90},
		{"hot", func(p string) bool { return p == walkPaths[0] }, 0.54},
		{"zipf", func(p string) bool { return p == firstPage(1000) }, zipfWeights(20, 1)[0]},
		{"zipf", func(p string) bool { return p == firstPage(1001) }, zipfWeights(20, 1)[1]},
		{"deep", func(p string) bool { return p == walkPaths[3] }, 0.25},
	}
	for _, tc := range tests {
		t.Run(tc.scenario, func(t *testing.T) {
			hits := 0
			for seq := range int64(n) {
				if tc.share(scs[tc.scenario].Path(seq)) {
					hits++
				}
			}
			if got := float64(hits) / n; math.Abs(got-tc.want) > 0.01 {
				t.Errorf("share %.3f, want %.3f", got, tc.want)
			}
		})
	}
	t.Run("same sequence every time", func(t *testing.T) {
		for seq := range int64(100) {
			if scs["zipf"].Path(seq) != scs["zipf"].Path(seq) {
				t.Fatal("paths depend on more than seq")
			}
		}
	})
}

func TestStepPassed(t *testing.T) {
	p := profile{P99Target: 50 * time.Millisecond}
	tests := []struct {
		name string
		r    load.Result
		want bool
	}{
		{"under target", load.Result{OK: 100, Scheduled: 100, P99: 49}, true},
		{"p99 over", load.Result{OK: 100, Scheduled: 100, P99: 51}, false},
		{"errors over 1%", load.Result{OK: 98, Errors: 2, Scheduled: 100, P99: 1}, false},
		{"unsent count", load.Result{OK: 97, Unsent: 3, Scheduled: 100, P99: 1}, false},
		{"nothing ok", load.Result{Scheduled: 100}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := stepPassed(p, tc.r); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if ratio(1, 0) != 0 || ratio(3, 2) != 1.5 {
		t.Error("ratio")
	}
}

// A baseline whose every answer is slower than the p99 target is ramped on
// errors alone (target.Floor) and gets a rate; readsvc's own modes never
// get that looser rule.
func TestRampGroupLatencyFloor(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(80 * time.Millisecond)
	}))
	defer slow.Close()
	p := profile{Step: 300 * time.Millisecond, Warmup: 100 * time.Millisecond, Factor: 2, MaxRate: 80, P99Target: 50 * time.Millisecond, Workers: 64}
	sc := scenario{Name: "s", Path: func(int64) string { return "/" }}
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(80 * time.Millisecond)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	ts := []target{{Mode: "baseline", Base: slow.URL, Floor: true}, {Mode: "readsvc", Base: slow.URL}, {Mode: "failing baseline", Base: failing.URL, Floor: true}}
	modes, _, err := rampGroup(context.Background(), slog.New(slog.DiscardHandler), p, http.DefaultClient, sc, ts, []float64{20, 20, 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := modes[0]; !m.LatencyFloor || m.BestRPS < 60 {
		t.Errorf("baseline: floor %v, best %.0f/s; want a floor and the top rate (80/s) sustained", m.LatencyFloor, m.BestRPS)
	}
	if m := modes[1]; m.LatencyFloor || m.BestRPS != 0 {
		t.Errorf("readsvc mode: floor %v, best %.0f/s; want no floor and no sustained rate", m.LatencyFloor, m.BestRPS)
	}
	if m := modes[2]; m.LatencyFloor || m.BestRPS != 0 {
		t.Errorf("a baseline that fails: floor %v, best %.0f/s; want no floor (errors are no latency floor) and no sustained rate", m.LatencyFloor, m.BestRPS)
	}
}
