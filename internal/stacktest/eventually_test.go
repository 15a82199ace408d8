package stacktest

import (
	"testing"
	"time"
)

func TestQuantilesByNearestRank(t *testing.T) {
	var s []time.Duration
	for i := 100; i >= 1; i-- {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	p50, p99, most := Quantiles(s)
	if p50 != 50*time.Millisecond || p99 != 99*time.Millisecond || most != 100*time.Millisecond {
		t.Errorf("Quantiles of 1..100 ms = %v %v %v, want 50ms 99ms 100ms", p50, p99, most)
	}
	if p50, p99, most := Quantiles([]time.Duration{7}); p50 != 7 || p99 != 7 || most != 7 {
		t.Errorf("Quantiles of one sample = %v %v %v", p50, p99, most)
	}
}

func TestLatencyMeasuresTheWait(t *testing.T) {
	start := time.Now()
	d := Latency(t, time.Second, "20 ms to pass", func() bool { return time.Since(start) >= 20*time.Millisecond })
	if d < 20*time.Millisecond || d > 500*time.Millisecond {
		t.Errorf("Latency = %v, want about 20ms", d)
	}
}
