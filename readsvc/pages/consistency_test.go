package pages_test

import (
	"context"
	"fmt"
	"net/url"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/pagecache/pagecachetest"
	"github.com/vidcomments/vidcomments/readsvc/internal/cqlseed"
	"github.com/vidcomments/vidcomments/readsvc/internal/readtest"
	"github.com/vidcomments/vidcomments/readsvc/pages"
)

// fixedClock keeps every request in one epoch, so only a version change
// can move a groupcache key.
func fixedClock() func() time.Time {
	at := time.Now()
	return func() time.Time { return at }
}

func without(ids []int64, drop int64) []int64 {
	out := []int64{}
	for _, id := range ids {
		if id != drop {
			out = append(out, id)
		}
	}
	return out
}

// burst sends n requests at once, get(i) for i in [0, n), and fails the
// test unless every one of them is answered 200.
func burst(t *testing.T, n int, get func(i int) *readtest.Response) {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	codes := make(chan int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			codes <- get(i).Code
		}()
	}
	close(start)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Fatalf("status %d", c)
		}
	}
}

// Invariant 1 (no stale fill): a change that lands while a backfill reads
// Cassandra is never lost to the fill. A change cdc records is in the
// overlay, and the fill script merges it: the window cached — and the page
// served to the request in flight, read back from Redis — already reflects
// it. A change outside the overlay (the syncer settles one cdc never saw),
// or any change during a backfill older than the overlay horizon, voids the
// fill: the page read before the change is served to the request that read
// it but cached nowhere (one fill attempt here), and the next read sees the
// new state.
func TestFillRaceDoesNotCacheTheStaleWindow(t *testing.T) {
	st := readtest.NewStack(t)
	const horizon = time.Minute
	tests := []struct {
		name   string
		change func(video int64, ids []int64, clk *pagecachetest.Clock) []int64 // applies a change, returns the ids expected after it
		voided bool
	}{
		{"the syncer writes a new comment cdc never saw and settles it: voided", func(video int64, ids []int64, _ *pagecachetest.Clock) []int64 {
			c := cqlseed.Comment(video, ids[0]+1000)
			st.Put(c)
			return append([]int64{c.ID}, ids...)
		}, true},
		{"cdc records a rejection Cassandra does not hold yet: merged", func(video int64, ids []int64, _ *pagecachetest.Clock) []int64 {
			c := cqlseed.Comment(video, ids[2])
			c.Status, c.Version = comment.Rejected, comment.NextVersion(c.Version, time.Now())
			st.Record(c, true)
			return without(ids, ids[2])
		}, false},
		{"cdc records an approval Cassandra does not hold yet: merged", func(video int64, ids []int64, _ *pagecachetest.Clock) []int64 {
			c := cqlseed.Comment(video, ids[0]+2000)
			st.Record(c, false)
			return append([]int64{c.ID}, ids...)
		}, false},
		{"cdc records an approval and the syncer settles it: merged", func(video int64, ids []int64, _ *pagecachetest.Clock) []int64 {
			c := cqlseed.Comment(video, ids[0]+3000)
			st.Record(c, false)
			st.Put(c) // the overlay entry is settled, kept for the horizon
			return append([]int64{c.ID}, ids...)
		}, false},
		{"cdc records an approval during a backfill older than the horizon: voided", func(video int64, ids []int64, clk *pagecachetest.Clock) []int64 {
			c := cqlseed.Comment(video, ids[0]+4000)
			st.Record(c, false)
			clk.Add(horizon)
			return append([]int64{c.ID}, ids...)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			video, ids := st.SeedVideo(5)
			var gate *readtest.Gate
			clk := pagecachetest.NewClock()
			r := st.NewReader(readtest.Config{
				Options: pages.Options{Now: fixedClock(), MaxAge: time.Hour, FillAttempts: 1},
				Wrap:    func(s pages.Store) pages.Store { gate = readtest.NewGate(s); return gate },
				Cache:   pagecache.Options{Now: clk.Now, OverlayHorizon: horizon},
			})
			gate.Arm()
			first := make(chan *readtest.Response, 1)
			go func() { first <- r.Get(t, readtest.PagePath(video, "")) }()
			<-gate.Entered // the backfill has read Cassandra and holds its rows

			want := tt.change(video, ids, clk)
			gate.Release()
			resp := <-first
			if resp.Code != 200 {
				t.Fatalf("in-flight read: %d %s", resp.Code, resp.Raw)
			}
			voided := readtest.Metric(t, r.Registry, "readsvc_fills_total", "result", "voided")
			merged := readtest.Metric(t, r.Registry, "readsvc_fills_total", "result", "merged")
			p, err := st.Cache.Read(context.Background(), video, 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			if tt.voided {
				if voided != 1 || merged != 0 {
					t.Errorf("fills voided %v merged %v, want 1 and 0", voided, merged)
				}
				if p.Cached {
					t.Fatalf("the stale window was cached in Redis (version %d, %d entries)", p.Version, len(p.Entries))
				}
				if n := readtest.Metric(t, r.Registry, "readsvc_groupcache_entries"); n != 0 {
					t.Fatalf("the page read before the change was cached in process (%v entries)", n)
				}
			} else {
				if voided != 0 || merged != 1 {
					t.Errorf("fills voided %v merged %v, want 0 and 1", voided, merged)
				}
				if got := p.IDs(); !p.Cached || !reflect.DeepEqual(got, want) || p.Total != int64(len(want)) {
					t.Fatalf("window cached=%v %v total %d, want %v: the change in flight is not in it", p.Cached, got, p.Total, want)
				}
				// The request in flight was answered from the merged window,
				// and that is what groupcache holds.
				if !reflect.DeepEqual(resp.IDs(), want) || resp.Page.Total != int64(len(want)) {
					t.Fatalf("in-flight read: %v total %d, want %v", resp.IDs(), resp.Page.Total, want)
				}
			}
			for i := range 2 { // the refill (or the merged window), then a cached read: both at the new state
				resp := r.Get(t, readtest.PagePath(video, ""))
				if resp.Code != 200 || !reflect.DeepEqual(resp.IDs(), want) || resp.Page.Total != int64(len(want)) {
					t.Fatalf("read %d after the change: %d ids %v total %d, want %v", i, resp.Code, resp.IDs(), resp.Page.Total, want)
				}
			}
			wantWritten := 0.0
			if tt.voided {
				wantWritten = 1 // the refill
			}
			if n := readtest.Metric(t, r.Registry, "readsvc_fills_total", "result", "written"); n != wantWritten {
				t.Errorf("written fills = %v, want %v", n, wantWritten)
			}
		})
	}
}

// With retries (the default), a voided fill reads again at the new version:
// the request in flight already gets the new state, and it is cached.
func TestVoidedFillIsRetried(t *testing.T) {
	st := readtest.NewStack(t)
	video, ids := st.SeedVideo(5)
	var gate *readtest.Gate
	r := st.NewReader(readtest.Config{Wrap: func(s pages.Store) pages.Store { gate = readtest.NewGate(s); return gate }})
	gate.ArmOnce()
	first := make(chan *readtest.Response, 1)
	go func() { first <- r.Get(t, readtest.PagePath(video, "")) }()
	<-gate.Entered
	added := cqlseed.Comment(video, ids[0]+1000)
	st.Put(added)
	gate.Release()
	want := append([]int64{added.ID}, ids...)
	if resp := <-first; resp.Code != 200 || !reflect.DeepEqual(resp.IDs(), want) {
		t.Fatalf("in-flight read: %d %v, want %v", resp.Code, resp.IDs(), want)
	}
	voided := readtest.Metric(t, r.Registry, "readsvc_fills_total", "result", "voided")
	written := readtest.Metric(t, r.Registry, "readsvc_fills_total", "result", "written")
	if voided != 1 || written != 1 {
		t.Errorf("fills: voided %v written %v, want 1 and 1", voided, written)
	}
	if p, err := st.Cache.Read(context.Background(), video, 0, 10); err != nil || !p.Cached || len(p.Entries) != 6 {
		t.Errorf("window after the retried fill: cached=%v %d entries (%v)", p.Cached, len(p.Entries), err)
	}
}

// A change cdc recorded before a backfill and the syncer settles while the
// backfill reads Cassandra (settling clears the overlay entry without a
// version bump, so the fill is not voided) must still be in the window:
// the backfill reads the overlay before Cassandra.
func TestChangeSettledDuringBackfillIsKept(t *testing.T) {
	st := readtest.NewStack(t)
	video, ids := st.SeedVideo(5)
	added := cqlseed.Comment(video, ids[0]+1000)
	st.Record(added, false) // cdc saw it; Cassandra does not hold it yet
	var gate *readtest.Gate
	r := st.NewReader(readtest.Config{Wrap: func(s pages.Store) pages.Store { gate = readtest.NewGate(s); return gate }})
	gate.ArmOnce()
	first := make(chan *readtest.Response, 1)
	go func() { first <- r.Get(t, readtest.PagePath(video, "")) }()
	<-gate.Entered // Cassandra read, without the comment
	st.Put(added)  // the syncer writes it and settles: overlay entry cleared
	gate.Release()
	want := append([]int64{added.ID}, ids...)
	if resp := <-first; resp.Code != 200 || !reflect.DeepEqual(resp.IDs(), want) {
		t.Errorf("read: %d %v, want %v", resp.Code, resp.IDs(), want)
	}
	if p, err := st.Cache.Read(context.Background(), video, 0, 10); err != nil || !p.Cached || len(p.Entries) != 6 || p.Entries[0].ID != added.ID {
		t.Errorf("filled window lacks the settled comment: cached=%v %d entries (%v)", p.Cached, len(p.Entries), err)
	}
}

// Invariant 3: a backfill from a lagging Cassandra merges the overlay, so
// it neither resurrects a rejected comment nor hides an approved one.
func TestBackfillMergesTheOverlay(t *testing.T) {
	st := readtest.NewStack(t)
	video, ids := st.SeedVideo(5)
	rejected := cqlseed.Comment(video, ids[1])
	rejected.Status, rejected.Version = comment.Rejected, comment.NextVersion(rejected.Version, time.Now())
	st.Record(rejected, true)
	approved := cqlseed.Comment(video, ids[0]+1000)
	st.Record(approved, false)

	r := st.NewReader(readtest.Config{})
	resp := r.Get(t, readtest.PagePath(video, ""))
	want := append([]int64{approved.ID}, without(ids, rejected.ID)...)
	if resp.Code != 200 || !reflect.DeepEqual(resp.IDs(), want) || resp.Page.Total != 5 {
		t.Fatalf("page %d %v total %d, want %v total 5", resp.Code, resp.IDs(), resp.Page.Total, want)
	}
	body, _ := st.Cache.Read(context.Background(), video, 0, 10)
	if !body.Cached || len(body.Entries) != 5 {
		t.Errorf("merged window not filled: %+v", body)
	}
}

// Pages read past the window (and pages read without a window) stay full
// and keep their next cursor when the overlay removes rows Cassandra still
// holds: the read asks Cassandra for as many more rows as the overlay may
// remove.
func TestPagesPastTheWindowStayFullUnderOverlayRemovals(t *testing.T) {
	st := readtest.NewStack(t)
	video, ids := st.SeedVideo(12)
	for _, i := range []int{5, 8} { // rejected by cdc, still approved in Cassandra
		c := cqlseed.Comment(video, ids[i])
		c.Status, c.Version = comment.Rejected, comment.NextVersion(c.Version, time.Now())
		st.Record(c, true)
	}
	visible := append(append(append([]int64(nil), ids[:5]...), ids[6:8]...), ids[9:]...)
	for _, tt := range []struct {
		name string
		opts pages.Options
	}{
		{"window of 5", pages.Options{Window: 5}},
		{"window of 5, groupcache off", pages.Options{Window: 5, CacheBytes: -1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := st.NewReader(readtest.Config{Options: tt.opts})
			var got []int64
			query := "limit=5"
			for page := 0; page < 5; page++ {
				resp := r.Get(t, readtest.PagePath(video, query))
				if resp.Code != 200 {
					t.Fatalf("page %d: %d %s", page, resp.Code, resp.Raw)
				}
				got = append(got, resp.IDs()...)
				if resp.Page.NextCursor == nil {
					break
				}
				query = "limit=5&cursor=" + url.QueryEscape(*resp.Page.NextCursor)
			}
			if !reflect.DeepEqual(got, visible) {
				t.Errorf("paged %v\nwant   %v", got, visible)
			}
		})
	}
}

// One backfill per video across processes: two readers (groupcache off,
// so nothing but singleflight and the Redis lease stands between the
// requests and Cassandra) and a burst of requests for one cold page.
func TestOneBackfillAcrossReaders(t *testing.T) {
	st := readtest.NewStack(t)
	video, _ := st.SeedVideo(20)
	readers := []*readtest.Reader{
		st.NewReader(readtest.Config{Options: pages.Options{CacheBytes: -1}}),
		st.NewReader(readtest.Config{Options: pages.Options{CacheBytes: -1}}),
	}
	const n = 200
	burst(t, n, func(i int) *readtest.Response { return readers[i%2].Get(t, readtest.PagePath(video, "limit=10")) })
	var queries float64
	for _, r := range readers {
		queries += readtest.Metric(t, r.Registry, "readsvc_cassandra_page_queries_total")
	}
	if queries != 1 {
		t.Errorf("Cassandra page queries = %v, want exactly 1", queries)
	}
}

// An empty or unknown video is a 200 with an empty list, cached as a short
// negative entry.
func TestUnknownVideoIsANegativeEntry(t *testing.T) {
	st := readtest.NewStack(t)
	r := st.NewReader(readtest.Config{Options: pages.Options{CacheBytes: -1}})
	video := readtest.Video()
	for i := range 3 {
		resp := r.Get(t, readtest.PagePath(video, ""))
		if resp.Code != 200 || string(resp.Raw) != `{"comments":[],"next_cursor":null,"total":0}` {
			t.Fatalf("read %d: %d %s", i, resp.Code, resp.Raw)
		}
	}
	if n := readtest.Metric(t, r.Registry, "readsvc_cassandra_page_queries_total"); n != 1 {
		t.Errorf("page queries = %v, want 1 (then the negative entry answers)", n)
	}
	ttl, err := st.Redis.TTL(context.Background(), fmt.Sprintf("vc:{%d}:meta", video)).Result()
	if err != nil || ttl <= 0 || ttl > pagecache.DefaultNegativeTTL*6/5 {
		t.Errorf("negative entry TTL %v (%v), want at most %v", ttl, err, pagecache.DefaultNegativeTTL*6/5)
	}
}

// The inval channel moves the version in groupcache keys: with the epoch
// frozen, a change recorded by cdc reaches a cached page only that way.
// A change made while the subscription is down reaches it after the
// reconnect, which drops the local versions.
func TestVersionMapFollowsInvalAndResetsOnReconnect(t *testing.T) {
	st := readtest.NewStack(t)
	video, ids := st.SeedVideo(3)
	proxy := st.RedisProxy()
	r := st.NewReader(readtest.Config{Options: pages.Options{Now: fixedClock(), MaxAge: time.Hour}, Redis: st.RedisVia(proxy)})
	readtest.WaitFor(t, 5*time.Second, "the inval subscription", func() bool {
		return readtest.Metric(t, r.Registry, "readsvc_version_map_resets_total") == 1
	})
	if got := r.Get(t, readtest.PagePath(video, "")).IDs(); !reflect.DeepEqual(got, ids) {
		t.Fatalf("first read %v", got)
	}

	added := cqlseed.Comment(video, ids[0]+1000)
	st.Record(added, false)
	readtest.WaitFor(t, 5*time.Second, "the recorded comment on the page", func() bool {
		return r.Get(t, readtest.PagePath(video, "")).IDs()[0] == added.ID
	})

	proxy.Cut()
	readtest.WaitFor(t, 5*time.Second, "the reader to notice the subscription is down", func() bool {
		return readtest.Metric(t, r.Registry, "readsvc_inval_subscribed") == 0
	})
	rejected := added
	rejected.Status, rejected.Version = comment.Rejected, comment.NextVersion(added.Version, time.Now())
	st.Record(rejected, true) // published while this reader cannot hear it
	proxy.Restore()
	readtest.WaitFor(t, 10*time.Second, "the resubscription", func() bool {
		return readtest.Metric(t, r.Registry, "readsvc_version_map_resets_total") == 2
	})
	if got := r.Get(t, readtest.PagePath(video, "")).IDs(); !reflect.DeepEqual(got, ids) {
		t.Errorf("after reconnect: %v, want %v (the rejection made while disconnected)", got, ids)
	}
}

// The headline scenario end to end: a viral video takes a new comment every
// 5 ms (cdc records it; the syncer writes it to Cassandra and settles it a
// little later) while its window keeps expiring and readers backfill it.
// The version moves during nearly every backfill, yet the fills are
// written, and when the comments stop the cached window holds every one.
func TestBusyVideoBackfillsAreCached(t *testing.T) {
	st, r, video, seeded := readtest.Seeded(t, 5, readtest.Config{Options: pages.Options{CacheBytes: -1}})
	ctx := context.Background()

	stop := make(chan struct{})
	recorded := make(chan comment.Comment, 1024)
	var wg sync.WaitGroup
	wg.Add(2)
	var added []int64
	go func() { // cdc
		defer wg.Done()
		defer close(recorded)
		pagecachetest.Every(stop, 5*time.Millisecond, func(i int64) bool {
			c := cqlseed.Comment(video, seeded[0]+1+i)
			st.Record(c, false)
			added = append(added, c.ID)
			recorded <- c
			return true
		})
	}()
	go func() { // the syncer, behind cdc
		defer wg.Done()
		for c := range recorded {
			st.Put(c)
		}
	}()

	keys := []string{fmt.Sprintf("vc:{%d}:meta", video), fmt.Sprintf("vc:{%d}:time", video), fmt.Sprintf("vc:{%d}:body", video)}
	deadline := time.Now().Add(2 * time.Second)
	reads := 0
	for time.Now().Before(deadline) {
		if err := st.Redis.Del(ctx, keys...).Err(); err != nil { // the window expires
			t.Fatal(err)
		}
		if resp := r.Get(t, readtest.PagePath(video, "")); resp.Code != 200 {
			t.Fatalf("read: %d %s", resp.Code, resp.Raw)
		}
		reads++
	}
	close(stop)
	wg.Wait()

	written := readtest.Metric(t, r.Registry, "readsvc_fills_total", "result", "written")
	merged := readtest.Metric(t, r.Registry, "readsvc_fills_total", "result", "merged")
	voided := readtest.Metric(t, r.Registry, "readsvc_fills_total", "result", "voided")
	t.Logf("%d comments, %d reads after an expiry: fills written %v, merged %v, voided %v", len(added), reads, written, merged, voided)
	if fills := written + merged + voided; (written+merged)*10 < fills*9 || merged*2 < fills {
		t.Errorf("fills written %v merged %v voided %v: want at least 90%% cached, and most of them after the version moved (a busy video)", written, merged, voided)
	}
	want := append([]int64(nil), seeded...)
	for _, id := range added {
		want = append([]int64{id}, want...)
	}
	p, err := st.Cache.Read(ctx, video, 0, len(want)+10)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.IDs(); !p.Cached || !reflect.DeepEqual(got, want) || p.Total != int64(len(want)) || !p.Complete {
		t.Errorf("cached window (cached=%v complete=%v total %d) %v\nwant %v", p.Cached, p.Complete, p.Total, got, want)
	}
}

// With groupcache off, identical requests in flight share one Redis read,
// as groupcache would share its load: 200 simultaneous requests for one
// cached page cost fewer Redis page reads than requests, and every one of
// them gets the page.
func TestIdenticalRequestsShareOneRedisRead(t *testing.T) {
	_, r, video, _ := readtest.Seeded(t, 20, readtest.Config{Options: pages.Options{CacheBytes: -1}})
	if c := r.Get(t, readtest.PagePath(video, "limit=10")).Code; c != 200 { // fills the window
		t.Fatalf("status %d", c)
	}
	before := readtest.Metric(t, r.Registry, "readsvc_page_loads_total", "source", "redis")
	const n = 200
	burst(t, n, func(int) *readtest.Response { return r.Get(t, readtest.PagePath(video, "limit=10")) })
	loads := readtest.Metric(t, r.Registry, "readsvc_page_loads_total", "source", "redis") - before
	if loads < 1 || loads >= n {
		t.Errorf("%v Redis page reads for %d simultaneous identical requests, want between 1 and %d", loads, n, n-1)
	}
	t.Logf("%d requests, %v Redis page reads", n, loads)
}
