package main

import (
	"strings"
	"testing"
)

func TestParseBenchMetrics(t *testing.T) {
	out := `goos: linux
BenchmarkTierPerCore
    bench_test.go:642: per-core figures
BenchmarkTierPerCore-2   	       1	         0.5067 cassandra-idle-cpu-s/s	      1416 cassandra-reads/cpu-s	         0.9999 groupcache-hit-ratio
BenchmarkSyncerVersusBareLoop/new_comments-2         	       1	25895101677 ns/op	       329.1 bare1_events/s
PASS
`
	m, err := parseBenchMetrics(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if got := m["BenchmarkTierPerCore"]["cassandra-reads/cpu-s"]; got != 1416 {
		t.Errorf("cassandra-reads/cpu-s = %v, want 1416", got)
	}
	if got := m["BenchmarkSyncerVersusBareLoop/new_comments"]["bare1_events/s"]; got != 329.1 {
		t.Errorf("bare1_events/s = %v, want 329.1", got)
	}
	if len(m) != 2 {
		t.Errorf("%d benchmarks, want 2: %v", len(m), m)
	}
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{300000: "300,000", 1416.4: "1,416", 0.5: "0.50", -12345: "-12,345", 999: "999"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}
