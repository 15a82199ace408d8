package backoff

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	p := Policy{Base: 100 * time.Millisecond, Max: time.Second}
	tests := []struct {
		name string
		n    int
		r    float64
		want time.Duration
	}{
		{"first, no jitter drawn", 1, 0.999999999, 100 * time.Millisecond},
		{"first, lowest jitter", 1, 0, 50 * time.Millisecond},
		{"doubles", 3, 0.5, 300 * time.Millisecond}, // 400ms → [200, 400]
		{"capped", 10, 0, 500 * time.Millisecond},
		{"capped far out", 1000, 0.999999999, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.Delay(tt.n, tt.r)
			if d := got - tt.want; d < -time.Microsecond || d > time.Microsecond {
				t.Errorf("Delay(%d, %v) = %v, want %v", tt.n, tt.r, got, tt.want)
			}
		})
	}
}

func TestDo(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name      string
		failures  int // op fails this many times, then succeeds
		attempts  int
		wantErr   error
		wantCalls int
		wantWaits []time.Duration
	}{
		{"succeeds at once", 0, 0, nil, 1, nil},
		{"retries until success", 3, 0, nil, 4, ms(10, 20, 40)},
		{"gives up after attempts", 10, 3, boom, 3, ms(10, 20)},
		{"cap holds", 6, 0, nil, 7, ms(10, 20, 40, 50, 50, 50)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var waits, hooked []time.Duration
			r := Retrier{
				Policy: Policy{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond},
				Rand:   func() float64 { return 0.999999999 },
				Sleep: func(_ context.Context, d time.Duration) error {
					waits = append(waits, d.Round(time.Millisecond))
					return nil
				},
			}
			calls := 0
			err := r.Do(context.Background(), tt.attempts, func(context.Context) error {
				calls++
				if calls <= tt.failures {
					return boom
				}
				return nil
			}, func(_ int, _ error, d time.Duration) { hooked = append(hooked, d.Round(time.Millisecond)) })
			if !errors.Is(err, tt.wantErr) || calls != tt.wantCalls {
				t.Errorf("err %v after %d calls, want %v after %d", err, calls, tt.wantErr, tt.wantCalls)
			}
			if !reflect.DeepEqual(waits, tt.wantWaits) || !reflect.DeepEqual(hooked, tt.wantWaits) {
				t.Errorf("waits %v, hooked %v, want %v", waits, hooked, tt.wantWaits)
			}
		})
	}
}

func ms(ns ...int) []time.Duration {
	out := make([]time.Duration, len(ns))
	for i, n := range ns {
		out[i] = time.Duration(n) * time.Millisecond
	}
	return out
}

func TestDoStopsWhenTheContextEnds(t *testing.T) {
	tests := []struct {
		name        string
		cancelInOp  bool // cancel while the operation runs, else while waiting
		wantRetries int
	}{
		{"during the operation", true, 0},
		{"during the wait", false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			calls, retries := 0, 0
			err := Retrier{Policy: Policy{Base: time.Hour, Max: time.Hour}}.Do(ctx, 0, func(context.Context) error {
				calls++
				if tt.cancelInOp {
					cancel()
				}
				return errors.New("down")
			}, func(int, error, time.Duration) {
				retries++
				cancel() // the real timer waits an hour: only the context can end it
			})
			if !errors.Is(err, context.Canceled) || calls != 1 || retries != tt.wantRetries {
				t.Errorf("err %v after %d calls, %d retries; want context.Canceled after 1 call, %d retries", err, calls, retries, tt.wantRetries)
			}
		})
	}
}
