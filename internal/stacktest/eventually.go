package stacktest

import (
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
