package pagecache_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/pagecache/pagecachetest"
	"github.com/vidcomments/vidcomments/internal/stacktest"
)

func stored(idVersions ...int64) []pagecache.Stored {
	var out []pagecache.Stored
	for i := 0; i+1 < len(idVersions); i += 2 {
		out = append(out, pagecache.Stored{ID: idVersions[i], Version: idVersions[i+1], Body: body(idVersions[i])})
	}
	return out
}

func asEntries(rows []pagecache.Stored) []pagecache.Entry {
	out := make([]pagecache.Entry, len(rows))
	for i, r := range rows {
		out[i] = pagecache.Entry{ID: r.ID, Body: r.Body, Version: r.Version}
	}
	return out
}

func record(t *testing.T, c *pagecache.Cache, v, id, version int64, visible, wasVisible bool, b []byte) {
	t.Helper()
	if _, _, err := c.Record(context.Background(), pagecache.Change{VideoID: v, ID: id, Version: version, Visible: visible, WasVisible: wasVisible, Body: b}); err != nil {
		t.Fatal(err)
	}
}

func sameEntries(got, want []pagecache.Entry) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].ID != want[i].ID || !bytes.Equal(got[i].Body, want[i].Body) {
			return false
		}
	}
	return true
}

// The fill script merges the overlay it finds with the rules of Merge: one
// table, the Go Merge and what a FillSince leaves in Redis, on the same
// cases. Every overlay entry is recorded after the fill's token, so each
// fill here is one whose version moved.
func TestFillSinceMergesLikeMerge(t *testing.T) {
	rdb := stacktest.Redis(t)
	ctx := context.Background()
	rows := stored(50, 5, 40, 4, 30, 3)
	changed := []byte(`{"id":"40","edited":true}`)
	tests := []struct {
		name      string
		overlay   map[int64]pagecache.OverlayEntry
		window    int
		readAll   bool
		wantTotal int64
	}{
		{"no overlay", nil, 10, false, 3},
		{"rejected but Cassandra lags: removed", map[int64]pagecache.OverlayEntry{40: {Version: 9, Visible: false}}, 10, false, 2},
		{"approved, not in Cassandra yet: added", map[int64]pagecache.OverlayEntry{60: {Version: 9, Visible: true, Body: body(60)}}, 10, false, 4},
		{"overlay older than Cassandra: Cassandra wins", map[int64]pagecache.OverlayEntry{40: {Version: 2, Visible: false}}, 10, false, 3},
		{"overlay newer body: overlay wins", map[int64]pagecache.OverlayEntry{40: {Version: 9, Visible: true, Body: changed}}, 10, false, 3},
		{"addition older than the rows read: beyond the window", map[int64]pagecache.OverlayEntry{10: {Version: 9, Visible: true, Body: body(10)}}, 10, false, 3},
		{"addition older than the rows, but they are all: kept", map[int64]pagecache.OverlayEntry{10: {Version: 9, Visible: true, Body: body(10)}}, 10, true, 4},
		{"removal of a comment the fill lacks: nothing", map[int64]pagecache.OverlayEntry{45: {Version: 9, Visible: false}}, 10, true, 3},
		{"cut to the window", map[int64]pagecache.OverlayEntry{60: {Version: 9, Visible: true, Body: body(60)}}, 2, false, 4},
		{"complete, then cut to the window", map[int64]pagecache.OverlayEntry{60: {Version: 9, Visible: true, Body: body(60)}, 20: {Version: 9, Visible: true, Body: body(20)}}, 3, true, 5},
		{"several at once", map[int64]pagecache.OverlayEntry{
			60: {Version: 9, Visible: true, Body: body(60)}, 50: {Version: 9, Visible: false}, 35: {Version: 9, Visible: true, Body: body(35)}, 30: {Version: 1, Visible: false},
		}, 10, false, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := pagecache.New(rdb, pagecache.Options{Window: tt.window})
			v := video()
			tok, err := c.BeginFill(ctx, v)
			if err != nil {
				t.Fatal(err)
			}
			for id, e := range tt.overlay {
				record(t, c, v, id, e.Version, e.Visible, false, e.Body)
			}
			res, err := c.FillSince(ctx, v, tok, asEntries(rows), int64(len(rows)), tt.readAll)
			if err != nil || !res.Written {
				t.Fatalf("fill: %+v %v", res, err)
			}
			if len(tt.overlay) > 0 && res.Version == tok.Version {
				t.Errorf("version %d did not move: the case tests nothing", res.Version)
			}
			want := pagecache.Merge(rows, tt.overlay, tt.window, tt.readAll)
			p := read(t, c, ctx, v, 0, 100)
			if !sameEntries(p.Entries, want) {
				t.Errorf("Redis window %v, Merge %v", p.IDs(), pagecache.Page{Entries: want}.IDs())
			}
			if p.Total != tt.wantTotal {
				t.Errorf("total %d, want %d", p.Total, tt.wantTotal)
			}
			if wantComplete := tt.readAll && len(want) == len(pagecache.Merge(rows, tt.overlay, 100, true)); p.Complete != wantComplete {
				t.Errorf("complete %v, want %v", p.Complete, wantComplete)
			}
		})
	}
}

// (a) A fill racing Record calls on the same video ends with exactly the
// state a fresh fill would give, whichever wrote last.
func TestFillRacingRecordsEndsLikeAFreshFill(t *testing.T) {
	c, ctx := newCache(t, 100)
	v := video()
	rows := stored(10, 1, 20, 1, 30, 1, 40, 1, 50, 1, 60, 1) // what Cassandra holds, all of it
	sort.Slice(rows, func(i, j int) bool { return rows[i].ID > rows[j].ID })
	model := map[int64]bool{} // id → visible, as cdc last saw it
	for _, r := range rows {
		model[r.ID] = true
	}
	backfill := func(tok pagecache.FillToken) pagecache.FillResult {
		ov, err := c.Overlay(ctx, v)
		if err != nil {
			t.Error(err)
			return pagecache.FillResult{}
		}
		merged := pagecache.Merge(rows, ov, 100, true)
		res, err := c.FillSince(ctx, v, tok, merged, int64(len(merged)), true)
		if err != nil {
			t.Error(err)
		}
		return res
	}

	// Deterministic first: changes recorded after the token are merged in.
	tok, err := c.BeginFill(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	ov, _ := c.Overlay(ctx, v)
	stale := pagecache.Merge(rows, ov, 100, true)
	record(t, c, v, 70, 2, true, false, body(70))
	record(t, c, v, 20, 2, false, true, nil)
	model[70], model[20] = true, false
	res, err := c.FillSince(ctx, v, tok, stale, int64(len(stale)), true)
	if err != nil || !res.Written || res.Merged != 2 || res.Version == tok.Version {
		t.Fatalf("fill after two changes: %+v %v; want written with 2 merged", res, err)
	}

	// Then a real race: a recorder against a loop of backfills.
	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer done.Store(true)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 150 {
			version := int64(3 + i)
			var id int64
			if rng.IntN(2) == 0 {
				id = 100 + int64(i) // a new comment
			} else {
				id = []int64{10, 20, 30, 40, 50, 60, 70}[rng.IntN(7)]
			}
			was := model[id]
			visible := !was || rng.IntN(4) == 0 // mostly flip, sometimes an edit
			model[id] = visible
			var b []byte
			if visible {
				b = []byte(fmt.Sprintf(`{"id":"%d","v":%d}`, id, version))
			}
			if _, _, err := c.Record(ctx, pagecache.Change{VideoID: v, ID: id, Version: version, Visible: visible, WasVisible: was, Body: b}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	fills, moved := 0, 0
	for !done.Load() {
		tok, err := c.BeginFill(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		if res := backfill(tok); res.Written {
			fills++
			if res.Version != tok.Version {
				moved++
			}
		}
	}
	wg.Wait()
	if fills == 0 {
		t.Fatal("no fill was written during the race")
	}
	t.Logf("%d fills written during the race, %d after the version moved", fills, moved)

	var want []int64
	for id, vis := range model {
		if vis {
			want = append(want, id)
		}
	}
	sort.Slice(want, func(i, j int) bool { return want[i] > want[j] })
	ov, _ = c.Overlay(ctx, v)
	fresh := pagecache.Merge(rows, ov, 100, true)
	if got := (pagecache.Page{Entries: fresh}).IDs(); !reflect.DeepEqual(got, want) {
		t.Fatalf("a fresh merge gives %v, the model %v", got, want)
	}
	p := read(t, c, ctx, v, 0, 100)
	if !sameEntries(p.Entries, fresh) || p.Total != int64(len(want)) || !p.Complete {
		t.Errorf("cached window %v total %d complete %v; a fresh fill gives %v total %d", p.IDs(), p.Total, p.Complete, want, len(want))
	}
}

// (b) A change recorded and settled while a fill reads Cassandra is kept:
// the settled overlay entry outlives the fill.
func TestChangeRecordedAndSettledDuringFillIsKept(t *testing.T) {
	c, ctx := newCache(t, 10)
	v := video()
	rows := stored(30, 1, 20, 1, 10, 1)
	tok, err := c.BeginFill(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	ov, _ := c.Overlay(ctx, v) // empty: the fill's overlay read
	// ... the fill reads Cassandra; meanwhile cdc records 40 and 20's
	// rejection, and the syncer makes both durable and settles them.
	record(t, c, v, 40, 2, true, false, body(40))
	record(t, c, v, 20, 3, false, true, nil)
	for _, s := range []struct{ id, version int64 }{{40, 2}, {20, 3}} {
		if got, err := c.Settle(ctx, v, s.id, s.version); err != nil || got != pagecache.SettleCleared {
			t.Fatalf("settle %d: %v %v", s.id, got, err)
		}
	}
	if got, _ := c.Overlay(ctx, v); len(got) != 0 {
		t.Errorf("Overlay shows settled entries: %v", got)
	}
	merged := pagecache.Merge(rows, ov, 10, true)
	res, err := c.FillSince(ctx, v, tok, merged, 3, true)
	if err != nil || !res.Written {
		t.Fatalf("fill: %+v %v", res, err)
	}
	if p := read(t, c, ctx, v, 0, 10); !reflect.DeepEqual(p.IDs(), []int64{40, 30, 10}) || p.Total != 3 {
		t.Errorf("window %v total %d, want [40 30 10] total 3", p.IDs(), p.Total)
	}
}

// A bump whose change is not in the overlay still voids every fill in
// flight: the fence.
func TestFillSinceIsVoidedByAChangeOutsideTheOverlay(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *pagecache.Cache, v int64) error
	}{
		{"settle of a change cdc never saw", func(c *pagecache.Cache, v int64) error {
			got, err := c.Settle(context.Background(), v, 40, 5)
			if err == nil && got != pagecache.SettleInvalidated {
				err = fmt.Errorf("settle = %v", got)
			}
			return err
		}},
		{"invalidate", func(c *pagecache.Cache, v int64) error {
			_, err := c.Invalidate(context.Background(), v)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ctx := newCache(t, 10)
			v := video()
			tok, err := c.BeginFill(ctx, v)
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.change(c, v); err != nil {
				t.Fatal(err)
			}
			res, err := c.FillSince(ctx, v, tok, asEntries(stored(30, 1, 20, 1)), 2, true)
			if err != nil || res.Written {
				t.Fatalf("fill across the fence: %+v %v", res, err)
			}
			if p := read(t, c, ctx, v, 0, 10); p.Cached {
				t.Errorf("stale window cached: %+v", p)
			}
			// A fill that starts after the change is written.
			tok, _ = c.BeginFill(ctx, v)
			if res, err := c.FillSince(ctx, v, tok, asEntries(stored(40, 5, 30, 1)), 2, true); err != nil || !res.Written {
				t.Errorf("fill after the fence: %+v %v", res, err)
			}
		})
	}
}

// (d) Settled entries leave the overlay once they are a horizon old, and a
// fill that old is voided when the version moved; a fill younger than the
// horizon is not. The clock is injected and passed to the scripts.
func TestOverlayHorizon(t *testing.T) {
	rdb := stacktest.Redis(t)
	ctx := context.Background()
	clk := pagecachetest.NewClock()
	const horizon = time.Minute
	c := pagecache.New(rdb, pagecache.Options{Window: 10, OverlayHorizon: horizon, Now: clk.Now})
	v := video()
	inOverlay := func(id int64) bool {
		ok, err := rdb.HExists(ctx, fmt.Sprintf("vc:{%d}:ov", v), fmt.Sprint(id)).Result()
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	settle := func(id, version int64) {
		t.Helper()
		if got, err := c.Settle(ctx, v, id, version); err != nil || got != pagecache.SettleCleared {
			t.Fatalf("settle %d: %v %v", id, got, err)
		}
	}

	record(t, c, v, 1, 1, true, false, body(1))
	settle(1, 1)
	record(t, c, v, 2, 1, true, false, body(2))
	settle(2, 1)
	record(t, c, v, 2, 2, false, true, nil) // recorded again after its settle: pending
	clk.Add(horizon / 2)
	record(t, c, v, 3, 1, true, false, body(3))
	settle(3, 1)
	if !inOverlay(1) || !inOverlay(3) {
		t.Fatal("settled entries purged before the horizon")
	}
	clk.Add(horizon/2 + time.Second)
	record(t, c, v, 4, 1, true, false, body(4))
	settle(4, 1) // purges what was settled more than a horizon ago
	for _, tt := range []struct {
		id   int64
		kept bool
	}{{1, false}, {2, true}, {3, true}, {4, true}} {
		if got := inOverlay(tt.id); got != tt.kept {
			t.Errorf("comment %d in the overlay = %v, want %v", tt.id, got, tt.kept)
		}
	}
	if ov, _ := c.Overlay(ctx, v); len(ov) != 1 || ov[2].Version != 2 {
		t.Errorf("Overlay %v, want only the pending change of comment 2", ov)
	}
	// A replayed binlog cannot record the purged change again.
	if applied, _, _ := c.Record(ctx, pagecache.Change{VideoID: v, ID: 1, Version: 1, Visible: true, Body: body(1)}); applied {
		t.Error("a purged settled change was recorded again")
	}

	for _, tt := range []struct {
		name    string
		age     time.Duration
		written bool
	}{
		{"younger than the horizon: merged", horizon - time.Second, true},
		{"a horizon old: voided", horizon, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := c.BeginFill(ctx, v)
			if err != nil {
				t.Fatal(err)
			}
			record(t, c, v, 100+int64(tt.age/time.Second), 1, true, false, body(5))
			clk.Add(tt.age)
			res, err := c.FillSince(ctx, v, tok, asEntries(stored(4, 1, 3, 1)), 2, true)
			if err != nil || res.Written != tt.written {
				t.Errorf("fill %v old: %+v %v, want written=%v", tt.age, res, err, tt.written)
			}
		})
	}
}

// fakeStore is a Cassandra for the busy-video test: the rows the syncer
// has applied, read with a latency.
type fakeStore struct {
	mu   sync.Mutex
	rows map[int64]pagecache.Stored
}

// page returns the newest n rows, newest first, whether they are all, and
// the count of all rows, from one snapshot.
func (s *fakeStore) page(ctx context.Context, n int, latency time.Duration) ([]pagecache.Stored, bool, int64) {
	s.mu.Lock()
	count := int64(len(s.rows))
	out := make([]pagecache.Stored, 0, len(s.rows))
	for _, r := range s.rows {
		out = append(out, r)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	select { // a Cassandra read takes a while: changes land meanwhile
	case <-ctx.Done():
	case <-time.After(latency):
	}
	if len(out) > n {
		return out[:n], false, count
	}
	return out, true, count
}

// (c) The headline scenario: a viral video takes a new comment every 5 ms
// while backfills run the way readsvc runs them (token, overlay, a 20 ms
// Cassandra read, Merge, FillSince), and a syncer applies and settles the
// comments behind cdc. Nearly every fill sees the version move, and yet
// most are written, and the window ends exactly at the newest comments.
func TestBusyVideoFillsSucceed(t *testing.T) {
	const (
		window   = 50
		every    = 5 * time.Millisecond
		latency  = 20 * time.Millisecond
		duration = 1500 * time.Millisecond
	)
	c, ctx := newCache(t, window)
	v := video()
	store := &fakeStore{rows: map[int64]pagecache.Stored{}}
	for id := int64(1000); id < 1030; id++ {
		store.rows[id] = pagecache.Stored{ID: id, Version: 1, Body: body(id)}
	}
	all := int64(30)

	var (
		mu      sync.Mutex
		pending []pagecache.Stored // recorded by cdc, not yet applied by the syncer
	)
	syncOnce := func() {
		mu.Lock()
		batch := pending
		pending = nil
		mu.Unlock()
		if len(batch) == 0 {
			return
		}
		store.mu.Lock()
		reqs := make([]pagecache.SettleRequest, len(batch))
		for i, r := range batch {
			store.rows[r.ID] = r
			reqs[i] = pagecache.SettleRequest{VideoID: v, ID: r.ID, Version: r.Version}
		}
		store.mu.Unlock()
		for _, res := range c.SettleMany(ctx, reqs) {
			if res.Err != nil || res.Settled != pagecache.SettleCleared {
				t.Errorf("settle: %v %v", res.Settled, res.Err)
			}
		}
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	var written atomic.Int64
	go func() { // cdc: a new visible comment every 5 ms
		defer wg.Done()
		pagecachetest.Every(stop, every, func(i int64) bool {
			r := pagecache.Stored{ID: 2000 + i, Version: 10 + i, Body: body(2000 + i)}
			if _, _, err := c.Record(ctx, pagecache.Change{VideoID: v, ID: r.ID, Version: r.Version, Visible: true, Body: r.Body}); err != nil {
				t.Error(err)
				return false
			}
			written.Add(1)
			mu.Lock()
			pending = append(pending, r)
			mu.Unlock()
			return true
		})
	}()
	go func() { // the syncer, a little behind
		defer wg.Done()
		pagecachetest.Every(stop, 3*every, func(int64) bool { syncOnce(); return true })
	}()

	var fills, merged, strictWouldWrite int
	deadline := time.Now().Add(duration)
	for time.Now().Before(deadline) {
		tok, err := c.BeginFill(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		ov, err := c.Overlay(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		rows, readAll, total := store.page(ctx, window+1, latency) // no removals on this video
		entries := pagecache.Merge(rows, ov, window+1, readAll)
		inRows := map[int64]bool{}
		for _, r := range rows {
			inRows[r.ID] = true
		}
		for _, e := range entries { // the overlay's additions (readsvc's adjustTotal)
			if !inRows[e.ID] {
				total++
			}
		}
		complete := readAll && len(entries) <= window
		if len(entries) > window {
			entries = entries[:window]
		}
		res, err := c.FillSince(ctx, v, tok, entries, total, complete)
		if err != nil {
			t.Fatal(err)
		}
		fills++
		if res.Written {
			merged++
		}
		if res.Written && res.Version == tok.Version {
			strictWouldWrite++
		}
	}
	close(stop)
	wg.Wait()
	syncOnce()
	all += written.Load()
	t.Logf("%d comments in %v; %d backfills: %d written (%d would have been with the version check alone)", written.Load(), duration, fills, merged, strictWouldWrite)
	if merged*10 < fills*9 {
		t.Errorf("%d of %d fills written, want at least 90%%", merged, fills)
	}
	if strictWouldWrite*2 > fills {
		t.Errorf("%d of %d fills saw no change: the video was not busy, the test proves nothing", strictWouldWrite, fills)
	}

	want := make([]int64, 0, window)
	for id := 2000 + written.Load() - 1; len(want) < window; id-- {
		want = append(want, id)
	}
	p := read(t, c, ctx, v, 0, window)
	if !p.Cached || !reflect.DeepEqual(p.IDs(), want) || p.Complete {
		t.Errorf("window cached=%v complete=%v %v\nwant %v", p.Cached, p.Complete, p.IDs(), want)
	}
	// A fresh fill now gives the same window.
	rows, _, _ := store.page(ctx, window+1, 0)
	ov, _ := c.Overlay(ctx, v)
	if fresh := pagecache.Merge(rows, ov, window, false); !sameEntries(p.Entries, fresh) {
		t.Errorf("cached window %v, a fresh fill %v", p.IDs(), pagecache.Page{Entries: fresh}.IDs())
	}
	if p.Total != all {
		t.Errorf("total %d, want %d", p.Total, all)
	}
}
