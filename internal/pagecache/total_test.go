package pagecache_test

import (
	"testing"

	"github.com/vidcomments/vidcomments/internal/pagecache"
)

// A fill that raced the syncer cached a total off by a few; SyncTotal puts
// Cassandra's count in once nothing is pending, and never while a change
// recorded after that count is still in the overlay.
func TestSyncTotalCorrectsOnlyAQuietVideo(t *testing.T) {
	c, ctx := newCache(t, 3)
	v := video()
	mustFill(t, c, ctx, v, entries(30, 20, 10), 12, false) // the true count is 10

	if changed, err := c.SyncTotal(ctx, v+1, 10); err != nil || changed {
		t.Fatalf("uncached video: changed=%v err=%v", changed, err)
	}

	// A change cdc recorded after the syncer's count: pending, so the
	// total is Record's business.
	if _, _, err := c.Record(ctx, pagecache.Change{VideoID: v, ID: 40, Version: 5, Visible: true, Body: body(40)}); err != nil {
		t.Fatal(err)
	}
	before := read(t, c, ctx, v, 0, 3)
	if changed, err := c.SyncTotal(ctx, v, 10); err != nil || changed {
		t.Fatalf("pending change: changed=%v err=%v", changed, err)
	}
	if p := read(t, c, ctx, v, 0, 3); p.Total != 13 || p.Version != before.Version {
		t.Fatalf("pending change: total %d version %d, want 13 and %d untouched", p.Total, p.Version, before.Version)
	}

	// The syncer made it durable and counted it: 11.
	if s, err := c.Settle(ctx, v, 40, 5); err != nil || s != pagecache.SettleCleared {
		t.Fatalf("settle: %v %v", s, err)
	}
	if changed, err := c.SyncTotal(ctx, v, 11); err != nil || !changed {
		t.Fatalf("quiet video: changed=%v err=%v", changed, err)
	}
	p := read(t, c, ctx, v, 0, 3)
	if p.Total != 11 || p.Version <= before.Version {
		t.Fatalf("quiet video: total %d version %d, want 11 and a bump past %d", p.Total, p.Version, before.Version)
	}
	if changed, err := c.SyncTotal(ctx, v, 11); err != nil || changed {
		t.Fatalf("same total again: changed=%v err=%v", changed, err)
	}
	if q := read(t, c, ctx, v, 0, 3); q.Version != p.Version {
		t.Fatalf("an unchanged total bumped the version: %d → %d", p.Version, q.Version)
	}
}
