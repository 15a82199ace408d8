// Package backoff retries an operation with capped exponential backoff and
// jitter. The clock and the randomness are injected, so tests are exact.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy is the shape of the waits: Base, 2·Base, 4·Base, … capped at Max,
// each then jittered into [d/2, d] ("equal jitter"), so a fleet of syncers
// that lost Cassandra together does not come back in lock-step.
type Policy struct {
	Base time.Duration
	Max  time.Duration
}

// Delay is the wait after failed attempt n (1-based), given r in [0, 1).
func (p Policy) Delay(n int, r float64) time.Duration {
	d := p.Base
	for i := 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	if d > p.Max {
		d = p.Max
	}
	half := d / 2
	return half + time.Duration(r*float64(d-half))
}

// Retrier runs an operation until it succeeds.
type Retrier struct {
	Policy Policy
	// Rand returns a number in [0, 1); rand.Float64 when nil.
	Rand func() float64
	// Sleep waits d or until ctx ends; a timer-based wait when nil.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Do calls op until it returns nil, ctx ends, or attempts calls failed
// (attempts <= 0: no limit). Before each wait it calls onRetry, if not nil,
// with the failed attempt's number, its error and the wait. It returns nil,
// the context's error, or the last error of op.
func (r Retrier) Do(ctx context.Context, attempts int, op func(ctx context.Context) error, onRetry func(attempt int, err error, wait time.Duration)) error {
	for n := 1; ; n++ {
		err := op(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempts > 0 && n >= attempts {
			return err
		}
		wait := r.Policy.Delay(n, r.rand())
		if onRetry != nil {
			onRetry(n, err, wait)
		}
		if err := r.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

func (r Retrier) rand() float64 {
	if r.Rand != nil {
		return r.Rand()
	}
	return rand.Float64()
}

func (r Retrier) sleep(ctx context.Context, d time.Duration) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
