package stacktest

import (
	"slices"
	"testing"
	"time"
)

// Eventually polls cond every 10 ms until it holds, failing the test with
// what once timeout passes: integration tests wait on conditions, never on
// bare sleeps.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Latency polls cond every 2 ms until it holds and returns how long that
// took, failing the test with what once timeout passes: for tests that
// measure how soon a change shows.
func Latency(t testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

// Quantiles are the p50, p99 (nearest rank: of 100 samples the 99th
// smallest) and maximum of samples, which it sorts.
func Quantiles(samples []time.Duration) (p50, p99, max time.Duration) {
	slices.Sort(samples)
	rank := func(q int) time.Duration { return samples[(len(samples)*q+99)/100-1] }
	return rank(50), rank(99), samples[len(samples)-1]
}
