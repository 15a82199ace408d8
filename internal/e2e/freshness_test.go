package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// Issue #6's figure, end to end: with the syncer stopped (so Cassandra never
// learns of any of it), a moderator's approve appears in readsvc's
// responses and a reject disappears from them, through writesvc's API,
// MySQL, the binlog, cdc, Redis, the inval channel and readsvc's tiers.
// Each delay runs from sending the moderation request to the first readsvc
// response that shows the change.
func TestModerationFreshnessThroughReadsvcWithoutTheSyncer(t *testing.T) {
	c := startCluster(t, "pre", "syncer")
	video := time.Now().UnixNano()%1e12 + 2
	const trials = 200
	var approve, reject []time.Duration
	shows := func(id int64) bool { return slices.Contains(c.visible(video), fmt.Sprint(id)) }
	until := func(cond func() bool) time.Duration {
		start := time.Now()
		for !cond() {
			if time.Since(start) > 5*time.Second {
				t.Fatalf("change not visible after 5s")
			}
			time.Sleep(time.Millisecond)
		}
		return time.Since(start)
	}
	c.visible(video) // the first read caches the (empty) window
	for i := 0; i < trials; i++ {
		id := c.post(video, int64(100+i), fmt.Sprintf("comment %d", i))
		start := time.Now()
		c.moderate(id, "approve")
		approve = append(approve, time.Since(start)+until(func() bool { return shows(id) }))
		start = time.Now()
		c.moderate(id, "reject")
		reject = append(reject, time.Since(start)+until(func() bool { return !shows(id) }))
	}
	for _, m := range []struct {
		name  string
		d     []time.Duration
		bound time.Duration
	}{{"approve→visible", approve, 300 * time.Millisecond}, {"reject→gone", reject, 200 * time.Millisecond}} {
		slices.Sort(m.d)
		p50, p99 := m.d[len(m.d)/2], m.d[len(m.d)*99/100-1]
		t.Logf("%s over %d trials: p50 %v p99 %v max %v", m.name, len(m.d), p50.Round(100*time.Microsecond), p99.Round(100*time.Microsecond), m.d[len(m.d)-1].Round(100*time.Microsecond))
		if p99 > m.bound {
			t.Errorf("%s p99 %v, want ≤ %v", m.name, p99, m.bound)
		}
	}
}
