package pagecache_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/stacktest"
)

// video returns a video id no other test run uses.
func video() int64 { return 1e12 + rand.Int64N(1e12) }

func body(id int64) []byte { return []byte(fmt.Sprintf(`{"id":"%d"}`, id)) }

func entries(ids ...int64) []pagecache.Entry {
	out := make([]pagecache.Entry, len(ids))
	for i, id := range ids {
		out[i] = pagecache.Entry{ID: id, Body: body(id)}
	}
	return out
}

func newCache(t *testing.T, window int) (*pagecache.Cache, context.Context) {
	t.Helper()
	return pagecache.New(stacktest.Redis(t), pagecache.Options{Window: window}), context.Background()
}

func mustFill(t *testing.T, c *pagecache.Cache, ctx context.Context, v int64, es []pagecache.Entry, total int64, complete bool) {
	t.Helper()
	tok, err := c.BeginFill(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.FillSince(ctx, v, tok, es, total, complete)
	if err != nil || !res.Written {
		t.Fatalf("fill: %+v %v", res, err)
	}
}

func read(t *testing.T, c *pagecache.Cache, ctx context.Context, v, before int64, limit int) pagecache.Page {
	t.Helper()
	p, err := c.Read(ctx, v, before, limit)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadPagesThroughTheWindow(t *testing.T) {
	c, ctx := newCache(t, 100)
	v := video()
	if p := read(t, c, ctx, v, 0, 10); p.Cached {
		t.Fatal("an unfilled video reads as cached")
	}
	// Ids of different digit counts: member padding keeps numeric order.
	mustFill(t, c, ctx, v, entries(100000, 9999, 500, 42, 7), 5, true)
	p := read(t, c, ctx, v, 0, 2)
	if !p.Cached || !p.Complete || p.Total != 5 || !reflect.DeepEqual(p.IDs(), []int64{100000, 9999}) {
		t.Fatalf("first page %+v", p)
	}
	if string(p.Entries[0].Body) != string(body(100000)) {
		t.Errorf("body %s", p.Entries[0].Body)
	}
	if got := read(t, c, ctx, v, 9999, 2).IDs(); !reflect.DeepEqual(got, []int64{500, 42}) {
		t.Errorf("second page %v", got)
	}
	if got := read(t, c, ctx, v, 42, 2).IDs(); !reflect.DeepEqual(got, []int64{7}) {
		t.Errorf("last page %v", got)
	}
	// An empty video is cached too (negative entry): meta without members.
	e := video()
	mustFill(t, c, ctx, e, nil, 0, true)
	if p := read(t, c, ctx, e, 0, 10); !p.Cached || len(p.Entries) != 0 || !p.Complete {
		t.Errorf("empty video page %+v", p)
	}
}

// Invariant 1: a change that lands while a filler reads Cassandra never
// lets the stale window be cached — the fill merges it (more cases in
// fillsince_test.go, and voiding by changes outside the overlay there too).
func TestAChangeInFlightIsInTheFilledWindow(t *testing.T) {
	c, ctx := newCache(t, 100)
	v := video()
	token, err := c.BeginFill(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Record(ctx, pagecache.Change{VideoID: v, ID: 5, Version: 1, Visible: false, WasVisible: true}); err != nil {
		t.Fatal(err)
	}
	res, err := c.FillSince(ctx, v, token, entries(5, 4), 2, true)
	if err != nil || !res.Written || res.Merged != 1 {
		t.Fatalf("fill: %+v %v, want written with the one change merged", res, err)
	}
	if p := read(t, c, ctx, v, 0, 10); !p.Cached || slices.Contains(p.IDs(), 5) || p.Total != 1 {
		t.Errorf("window after the fill %+v (ids %v): the rejected comment must be gone", p, p.IDs())
	}
}

func TestRecordEditsACachedWindow(t *testing.T) {
	c, ctx := newCache(t, 3)
	v := video()
	mustFill(t, c, ctx, v, entries(30, 20, 10), 4, false)

	steps := []struct {
		name      string
		ch        pagecache.Change
		applied   bool
		wantIDs   []int64
		wantTotal int64
	}{
		{"approve a new comment: on top, oldest trimmed", pagecache.Change{ID: 40, Version: 2, Visible: true, Body: body(40)}, true, []int64{40, 30, 20}, 5},
		{"the same change again is skipped", pagecache.Change{ID: 40, Version: 2, Visible: true, Body: body(40)}, false, []int64{40, 30, 20}, 5},
		{"reject a cached comment", pagecache.Change{ID: 30, Version: 5, Visible: false, WasVisible: true}, true, []int64{40, 20}, 4},
		{"an older approve of it arrives late: skipped", pagecache.Change{ID: 30, Version: 4, Visible: true, Body: body(30)}, false, []int64{40, 20}, 4},
		{"approve an old comment below a full window: not inserted", pagecache.Change{ID: 5, Version: 6, Visible: true, Body: body(5)}, true, []int64{40, 20}, 5},
	}
	for _, s := range steps {
		s.ch.VideoID = v
		before, _ := c.Version(ctx, v)
		applied, ver, err := c.Record(ctx, s.ch)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if applied != s.applied {
			t.Errorf("%s: applied=%v", s.name, applied)
		}
		if applied && ver <= before {
			t.Errorf("%s: version %d not above %d", s.name, ver, before)
		}
		p := read(t, c, ctx, v, 0, 10)
		if !reflect.DeepEqual(p.IDs(), s.wantIDs) || p.Total != s.wantTotal {
			t.Errorf("%s: window %v total %d, want %v total %d", s.name, p.IDs(), p.Total, s.wantIDs, s.wantTotal)
		}
	}
	ov, err := c.Overlay(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	if e := ov[30]; e.Version != 5 || e.Visible {
		t.Errorf("overlay for 30 = %+v", e)
	}
	if e := ov[40]; e.Version != 2 || !e.Visible || string(e.Body) != string(body(40)) {
		t.Errorf("overlay for 40 = %+v", e)
	}
}

func TestSettle(t *testing.T) {
	c, ctx := newCache(t, 10)
	v := video()
	mustFill(t, c, ctx, v, entries(2, 1), 2, true)

	// cdc saw version 3 first: the syncer's settle only drops the entry.
	if _, _, err := c.Record(ctx, pagecache.Change{VideoID: v, ID: 3, Version: 3, Visible: true, Body: body(3)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Settle(ctx, v, 3, 3); got != pagecache.SettleCleared {
		t.Errorf("settle of a recorded version = %v", got)
	}
	if p := read(t, c, ctx, v, 0, 10); !p.Cached || !reflect.DeepEqual(p.IDs(), []int64{3, 2, 1}) {
		t.Errorf("window after a clean settle %+v", p)
	}
	if ov, _ := c.Overlay(ctx, v); len(ov) != 0 {
		t.Errorf("overlay not cleared: %v", ov)
	}

	// A newer change still pending: settling an older one does nothing.
	_, _, _ = c.Record(ctx, pagecache.Change{VideoID: v, ID: 2, Version: 9, Visible: false, WasVisible: true})
	if got, _ := c.Settle(ctx, v, 2, 8); got != pagecache.SettleNothing {
		t.Errorf("settle under a newer entry = %v", got)
	}

	// cdc never saw version 4 of comment 1 (cdc down): pages are dropped.
	before, _ := c.Version(ctx, v)
	if got, _ := c.Settle(ctx, v, 1, 4); got != pagecache.SettleInvalidated {
		t.Errorf("settle of an unseen change = %v", got)
	}
	if p := read(t, c, ctx, v, 0, 10); p.Cached || p.Version <= before {
		t.Errorf("pages not invalidated: %+v (version before %d)", p, before)
	}
	// ... and when cdc catches up later, it does not record it again.
	if applied, _, _ := c.Record(ctx, pagecache.Change{VideoID: v, ID: 1, Version: 4, Visible: false}); applied {
		t.Error("a settled change was recorded again")
	}
	// Replaying the settle is harmless.
	if got, _ := c.Settle(ctx, v, 1, 4); got != pagecache.SettleNothing {
		t.Errorf("replayed settle = %v", got)
	}
}

func TestVersionBumpsArePublished(t *testing.T) {
	rdb := stacktest.Redis(t)
	c := pagecache.New(rdb, pagecache.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub := rdb.Subscribe(ctx, pagecache.InvalChannel)
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // the subscription confirmation
		t.Fatal(err)
	}
	v := video()
	ver, err := c.Invalidate(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	if ver < time.Now().Add(-time.Minute).UnixMicro() {
		t.Errorf("a fresh version %d does not start at the clock", ver)
	}
	for {
		msg, err := sub.ReceiveMessage(ctx)
		if err != nil {
			t.Fatalf("no inval message: %v", err)
		}
		gv, gver, err := pagecache.ParseInval(msg.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if gv == v {
			if gver != ver {
				t.Errorf("published version %d, want %d", gver, ver)
			}
			return
		}
	}
}

func TestLease(t *testing.T) {
	c, ctx := newCache(t, 10)
	v := video()
	tok, ok, err := c.TryLease(ctx, v, 5*time.Second)
	if err != nil || !ok {
		t.Fatalf("first lease: %v %v", ok, err)
	}
	if _, ok, _ := c.TryLease(ctx, v, 5*time.Second); ok {
		t.Error("a held lease was granted twice")
	}
	if err := c.ReleaseLease(ctx, v, "not-mine"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := c.TryLease(ctx, v, 5*time.Second); ok {
		t.Error("another token released the lease")
	}
	if err := c.ReleaseLease(ctx, v, tok); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := c.TryLease(ctx, v, 5*time.Second); !ok {
		t.Error("lease not free after release")
	}
}

// An empty video's negative entry lives NegativeTTL, far shorter than a page.
func TestNegativeFillHasItsOwnTTL(t *testing.T) {
	rdb := stacktest.Redis(t)
	c := pagecache.New(rdb, pagecache.Options{NegativeTTL: 5 * time.Second})
	ctx := context.Background()
	empty, full := video(), video()
	mustFill(t, c, ctx, empty, nil, 0, true)
	mustFill(t, c, ctx, full, entries(1), 1, true)
	tests := []struct {
		name     string
		video    int64
		min, max time.Duration
	}{
		{"negative entry", empty, time.Second, 6 * time.Second},
		{"page", full, pagecache.DefaultPageTTL - time.Minute, pagecache.DefaultPageTTL * 6 / 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ttl, err := rdb.TTL(ctx, fmt.Sprintf("vc:{%d}:meta", tt.video)).Result()
			if err != nil {
				t.Fatal(err)
			}
			if ttl < tt.min || ttl > tt.max {
				t.Errorf("TTL %v, want within [%v, %v]", ttl, tt.min, tt.max)
			}
		})
	}
}

func TestScanVideosFindsCachedAndVersionedVideos(t *testing.T) {
	c, ctx := newCache(t, 10)
	filled, bumped, untouched := video(), video(), video()
	mustFill(t, c, ctx, filled, entries(2, 1), 2, true)
	if _, err := c.Invalidate(ctx, bumped); err != nil { // leaves only the ver key
		t.Fatal(err)
	}
	found := map[int64]int{}
	if err := c.ScanVideos(ctx, func(v int64) error { found[v]++; return nil }); err != nil {
		t.Fatal(err)
	}
	if found[filled] != 1 || found[bumped] != 1 {
		t.Errorf("scan found filled video %d times, bumped video %d times; want once each", found[filled], found[bumped])
	}
	if found[untouched] != 0 {
		t.Error("scan found a video the cache never saw")
	}
}
