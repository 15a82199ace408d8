// Package load is vidcomments' load generator: open-loop, constant-rate
// request schedules whose latencies are measured from each request's
// intended start, so a slow server cannot hide its queueing (no coordinated
// omission), recorded in HDR histograms; and a ramp that finds the highest
// rate whose p99 stays under a target.
package load

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Request performs one request. It returns nil on success.
type Request func(ctx context.Context, seq int64) error

// Config is one constant-rate run.
type Config struct {
	Rate        float64       // requests per second offered
	Duration    time.Duration // how long requests are started
	MaxInFlight int           // concurrent requests at most (workers)
	Drain       time.Duration // how long to wait for in-flight requests at the end
}

// Result is what one run measured. Latencies are in microseconds.
type Result struct {
	Rate      float64 `json:"offered_rps"`
	Achieved  float64 `json:"achieved_rps"`
	Scheduled int64   `json:"scheduled"`
	OK        int64   `json:"ok"`
	Errors    int64   `json:"errors"`
	Unsent    int64   `json:"unsent"` // scheduled but never started: the server fell behind
	P50       float64 `json:"p50_ms"`
	P90       float64 `json:"p90_ms"`
	P99       float64 `json:"p99_ms"`
	P999      float64 `json:"p999_ms"`
	Max       float64 `json:"max_ms"`
	FirstErr  string  `json:"first_error,omitempty"`

	Hist *hdrhistogram.Histogram `json:"-"`
}

// ErrorRate is the share of started requests that failed or never started.
func (r Result) ErrorRate() float64 {
	if r.Scheduled == 0 {
		return 0
	}
	return float64(r.Errors+r.Unsent) / float64(r.Scheduled)
}

func (r Result) String() string {
	return fmt.Sprintf("offered %.0f/s achieved %.0f/s ok %d err %d unsent %d p50 %.2fms p99 %.2fms max %.2fms",
		r.Rate, r.Achieved, r.OK, r.Errors, r.Unsent, r.P50, r.P99, r.Max)
}

// Run offers cfg.Rate requests per second for cfg.Duration. Each request has
// an intended start time on a fixed schedule; its latency is the time from
// that intended start to its completion, so time spent waiting for a free
// worker counts.
func Run(ctx context.Context, cfg Config, req Request) Result {
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 64
	}
	if cfg.Drain <= 0 {
		cfg.Drain = 10 * time.Second
	}
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	total := int64(cfg.Duration / interval)
	hist := hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
	var (
		mu       sync.Mutex
		ok, errs atomic.Int64
		firstErr atomic.Value
		next     atomic.Int64 // next sequence number to take
	)
	start := time.Now()
	stopStarting := start.Add(cfg.Duration)
	runCtx, cancel := context.WithDeadline(ctx, stopStarting.Add(cfg.Drain))
	defer cancel()

	var wg sync.WaitGroup
	for w := 0; w < cfg.MaxInFlight; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				seq := next.Add(1) - 1
				if seq >= total {
					return
				}
				intended := start.Add(time.Duration(seq) * interval)
				if d := time.Until(intended); d > 0 {
					select {
					case <-time.After(d):
					case <-runCtx.Done():
						return
					}
				}
				if time.Now().After(stopStarting) || runCtx.Err() != nil {
					return // the schedule ran out of time: the rest stays unsent
				}
				err := req(runCtx, seq)
				lat := time.Since(intended)
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				ok.Add(1)
				mu.Lock()
				_ = hist.RecordValue(lat.Microseconds())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if elapsed > cfg.Duration {
		elapsed = cfg.Duration
	}
	r := Result{
		Rate:      cfg.Rate,
		Achieved:  float64(ok.Load()) / elapsed.Seconds(),
		Scheduled: total,
		OK:        ok.Load(),
		Errors:    errs.Load(),
		Hist:      hist,
	}
	r.Unsent = total - r.OK - r.Errors
	if s, _ := firstErr.Load().(string); s != "" {
		r.FirstErr = s
	}
	ms := func(q float64) float64 { return float64(hist.ValueAtQuantile(q)) / 1000 }
	r.P50, r.P90, r.P99, r.P999 = ms(50), ms(90), ms(99), ms(99.9)
	r.Max = float64(hist.Max()) / 1000
	return r
}

// RampConfig is a search for the highest sustainable rate.
type RampConfig struct {
	Start, Factor float64       // first rate and the multiplier between steps
	Max           float64       // give up above this rate
	Step          time.Duration // duration of each step
	P99Target     time.Duration // a step passes if its p99 is under this...
	MaxErrorRate  float64       // ...and its error rate under this
	MaxInFlight   int
}

// Ramp runs steps of rising rate until one misses the target, and returns
// every step and the highest passing rate (0 if none passed).
func Ramp(ctx context.Context, cfg RampConfig, req Request, progress func(Result)) ([]Result, float64) {
	var steps []Result
	best := 0.0
	for rate := cfg.Start; rate <= cfg.Max && ctx.Err() == nil; rate *= cfg.Factor {
		r := Run(ctx, Config{Rate: rate, Duration: cfg.Step, MaxInFlight: cfg.MaxInFlight}, req)
		steps = append(steps, r)
		if progress != nil {
			progress(r)
		}
		if r.P99 > float64(cfg.P99Target)/float64(time.Millisecond) || r.ErrorRate() > cfg.MaxErrorRate || r.OK == 0 {
			break
		}
		best = r.Achieved
	}
	return steps, best
}
