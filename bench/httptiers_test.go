package main

import (
	"testing"

	"github.com/vidcomments/vidcomments/internal/wrk"
)

// The ratio of two modes is taken round by round, so a slow round (the
// box busy elsewhere) that hits both modes alike does not move it.
func TestMedianRatioPairsRounds(t *testing.T) {
	rs := func(rps ...float64) []wrk.Result {
		out := make([]wrk.Result, len(rps))
		for i, r := range rps {
			out[i].RPS = r
		}
		return out
	}
	readsvc, static := rs(9500, 4750, 19000, 9600, 9400), rs(10000, 5000, 20000, 10000, 10000)
	if got := medianRatio(readsvc, static); got != 0.95 {
		t.Errorf("median ratio %v, want 0.95", got)
	}
	// Rounds' ratios 0.5, 1 and 2: the median is 1.
	if got := medianRatio(rs(5000, 10000, 10000), rs(10000, 10000, 5000)); got != 1 {
		t.Errorf("median ratio %v, want 1", got)
	}
}
