package load

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRunOffersTheScheduledRate(t *testing.T) {
	r := Run(context.Background(), Config{Rate: 1000, Duration: 300 * time.Millisecond, MaxInFlight: 8},
		func(context.Context, int64) error { return nil })
	// A starved machine may leave the last one or two sends of the window
	// unstarted (the generator's own goroutines did not run in time); an
	// instant server must otherwise get every scheduled request.
	if r.Scheduled != 300 || r.Errors != 0 || r.OK+r.Unsent != 300 || r.Unsent > 3 {
		t.Errorf("result %v (scheduled %d)", r, r.Scheduled)
	}
}

// A server that stalls once must show the stall in the latency of every
// request scheduled behind it, not only in the one request that hit it.
func TestRunCountsQueueingBehindAStall(t *testing.T) {
	stall := 100 * time.Millisecond
	r := Run(context.Background(), Config{Rate: 200, Duration: 500 * time.Millisecond, MaxInFlight: 1},
		func(_ context.Context, seq int64) error {
			if seq == 10 {
				time.Sleep(stall)
			}
			return nil
		})
	// 20 requests were scheduled during the stall (200/s × 100 ms); each
	// waited for it, so far more than 1% of latencies exceed half the stall.
	if r.P90 < float64(stall/2)/float64(time.Millisecond) && r.P99 < float64(stall/2)/float64(time.Millisecond) {
		t.Errorf("queueing hidden: %v", r)
	}
}

func TestRunCountsErrors(t *testing.T) {
	r := Run(context.Background(), Config{Rate: 500, Duration: 100 * time.Millisecond, MaxInFlight: 4},
		func(_ context.Context, seq int64) error {
			if seq%2 == 0 {
				return errors.New("boom")
			}
			return nil
		})
	if r.Errors != 25 || r.OK != 25 || r.FirstErr != "boom" {
		t.Errorf("result %v %q", r, r.FirstErr)
	}
}

func TestRampStopsAtTheFirstMissedTarget(t *testing.T) {
	// Service time 2 ms on 2 workers: about 1,000/s sustainable.
	steps, best := Ramp(context.Background(), RampConfig{Start: 100, Factor: 4, Max: 100000, Step: 200 * time.Millisecond,
		P99Target: 50 * time.Millisecond, MaxErrorRate: 0.01, MaxInFlight: 2},
		func(context.Context, int64) error { time.Sleep(2 * time.Millisecond); return nil }, nil)
	if len(steps) < 2 || best <= 0 || best > 1100 {
		t.Errorf("best %.0f after %d steps", best, len(steps))
	}
	if last := steps[len(steps)-1]; last.P99 <= 50 && last.ErrorRate() <= 0.01 && last.Rate*4 <= 100000 {
		t.Errorf("ramp stopped on a passing step: %v", last)
	}
}
