package pagecache_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/stacktest"
)

// pub is a body shaped like comment.Public, which the scripts edit.
func pub(id, parent, likes int64) []byte {
	return []byte(fmt.Sprintf(`{"id":"%d","video_id":"1","user_id":"2","parent_id":"%d","content":"c \"like_count\":7,","created_at":"2026-01-01T00:00:00.000Z","like_count":%d,"reply_count":0}`, id, parent, likes))
}

func hotEntries(likes map[int64]int64) []pagecache.Entry {
	out := make([]pagecache.Entry, 0, len(likes))
	for id, n := range likes {
		out = append(out, pagecache.Entry{ID: id, Likes: n, Body: pub(id, 0, n), Version: 1})
	}
	slices.SortFunc(out, func(a, b pagecache.Entry) int {
		if a.Likes != b.Likes {
			return int(b.Likes - a.Likes)
		}
		return int(b.ID - a.ID)
	})
	return out
}

func newHotCache(t *testing.T, window, hot int) (*pagecache.Cache, context.Context) {
	t.Helper()
	return pagecache.New(stacktest.Redis(t), pagecache.Options{Window: window, HotWindow: hot}), context.Background()
}

func fillHot(t *testing.T, c *pagecache.Cache, ctx context.Context, v int64, likes map[int64]int64, complete bool) {
	t.Helper()
	tok, err := c.BeginFill(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	es := hotEntries(likes)
	if len(es) > c.HotWindow() {
		es = es[:c.HotWindow()]
	}
	res, err := c.FillHot(ctx, v, tok, es, int64(len(likes)), complete)
	if err != nil || !res.Written {
		t.Fatalf("fill hot: %+v %v", res, err)
	}
}

type hotRow struct{ ID, Likes int64 }

func readHot(t *testing.T, c *pagecache.Cache, ctx context.Context, v, epoch int64, pos pagecache.HotPos, limit int) (pagecache.HotPage, []hotRow) {
	t.Helper()
	p, err := c.ReadHot(ctx, v, epoch, pos, limit)
	if err != nil {
		t.Fatal(err)
	}
	var rows []hotRow
	for _, it := range p.Items {
		rows = append(rows, hotRow{it.ID, it.Likes})
	}
	return p, rows
}

func TestApplyLikesGuardsAndSplicesBodies(t *testing.T) {
	c, ctx := newHotCache(t, 100, 100)
	v := video()
	mustFill(t, c, ctx, v, []pagecache.Entry{{ID: 3, Body: pub(3, 0, 0)}, {ID: 2, Body: pub(2, 0, 0)}}, 2, true)
	fillHot(t, c, ctx, v, map[int64]int64{3: 0, 2: 0}, true)
	steps := []struct {
		name   string
		counts []pagecache.LikeCount
		want   []hotRow // hot order after the step
		body3  int64    // like_count in 3's bodies
	}{
		{"first counts", []pagecache.LikeCount{{ID: 3, Offset: 10, Count: 5}, {ID: 2, Offset: 11, Count: 9}}, []hotRow{{2, 9}, {3, 5}}, 5},
		{"older offset ignored", []pagecache.LikeCount{{ID: 3, Offset: 9, Count: 100}}, []hotRow{{2, 9}, {3, 5}}, 5},
		{"same offset ignored", []pagecache.LikeCount{{ID: 3, Offset: 10, Count: 100}}, []hotRow{{2, 9}, {3, 5}}, 5},
		{"newer moves it up", []pagecache.LikeCount{{ID: 3, Offset: 12, Count: 20}}, []hotRow{{3, 20}, {2, 9}}, 20},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := c.ApplyLikes(ctx, v, st.counts); err != nil {
				t.Fatal(err)
			}
			_, rows := readHot(t, c, ctx, v, rand.Int64(), pagecache.HotPos{}, 10)
			if !reflect.DeepEqual(rows, st.want) {
				t.Errorf("hot order %v, want %v", rows, st.want)
			}
			// Page one pinned a snapshot for epoch 1; a new epoch sees live order.
			p, _ := readHot(t, c, ctx, v, rand.Int64(), pagecache.HotPos{}, 10)
			want := fmt.Sprintf(`,"like_count":%d,`, st.body3)
			for _, it := range p.Items {
				if it.ID == 3 && !strings.Contains(string(it.Body), want) {
					t.Errorf("hot body %s, want %s", it.Body, want)
				}
			}
			tp := read(t, c, ctx, v, 0, 10)
			if !strings.Contains(string(tp.Entries[0].Body), want) || !strings.Contains(string(tp.Entries[0].Body), `"c \"like_count\":7,"`) {
				t.Errorf("time body %s, want %s and the content untouched", tp.Entries[0].Body, want)
			}
			likes, err := c.Likes(ctx, v, []int64{3, 99})
			if err != nil || likes[3] != st.body3 || len(likes) != 1 {
				t.Errorf("Likes = %v %v", likes, err)
			}
		})
	}
}

func TestHotWindowEntersAndLeavesByRange(t *testing.T) {
	c, ctx := newHotCache(t, 100, 3)
	v := video()
	// Five roots; the window holds the top three: 5(50) 4(40) 3(30).
	all := map[int64]int64{5: 50, 4: 40, 3: 30, 2: 20, 1: 10}
	mustFill(t, c, ctx, v, []pagecache.Entry{{ID: 5, Body: pub(5, 0, 0)}, {ID: 4, Body: pub(4, 0, 0)}, {ID: 3, Body: pub(3, 0, 0)}, {ID: 2, Body: pub(2, 0, 0)}, {ID: 1, Body: pub(1, 0, 0)}}, 5, true)
	fillHot(t, c, ctx, v, all, false)
	epoch := int64(1000)
	check := func(name string, want []hotRow) {
		t.Helper()
		epoch++
		_, rows := readHot(t, c, ctx, v, epoch, pagecache.HotPos{}, 10)
		if !reflect.DeepEqual(rows, want) {
			t.Errorf("%s: hot window %v, want %v", name, rows, want)
		}
	}
	check("filled", []hotRow{{5, 50}, {4, 40}, {3, 30}})
	off := int64(0)
	like := func(id, n int64) {
		off++
		if err := c.ApplyLikes(ctx, v, []pagecache.LikeCount{{ID: id, Offset: off, Count: n}}); err != nil {
			t.Fatal(err)
		}
	}
	like(1, 45) // enters (its body is in the time window), 3 is trimmed
	check("entered", []hotRow{{5, 50}, {1, 45}, {4, 40}})
	like(4, 1) // falls to the bottom of an incomplete window: leaves
	check("left", []hotRow{{5, 50}, {1, 45}})
	like(2, 5) // below the window's lowest: stays out
	check("stays out", []hotRow{{5, 50}, {1, 45}})
	// A root the cache has no body for sorts into the window: the window
	// keeps only the part above it (a correct prefix) — here less than
	// half the window, so it is dropped for a refill.
	like(77, 48)
	if p, _ := readHot(t, c, ctx, v, 1, pagecache.HotPos{}, 10); p.Cached {
		t.Errorf("unknown body: window kept %+v", p.Items)
	}
}

func TestHotPagingWithoutDuplicatesOrSkipsWhileLikesChange(t *testing.T) {
	const n = 150
	c, ctx := newHotCache(t, 1000, 1000)
	v := video()
	likes := map[int64]int64{}
	for id := int64(1); id <= n; id++ {
		likes[id] = rand.Int64N(20)
	}
	fillHot(t, c, ctx, v, likes, true)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var applied int
	wg.Add(1)
	go func() { // likes keep changing while the reader pages
		defer wg.Done()
		off := int64(0)
		for {
			select {
			case <-stop:
				return
			default:
			}
			batch := make([]pagecache.LikeCount, 10)
			for i := range batch {
				off++
				batch[i] = pagecache.LikeCount{ID: 1 + rand.Int64N(n), Offset: off, Count: rand.Int64N(200)}
			}
			if err := c.ApplyLikes(ctx, v, batch); err != nil {
				t.Error(err)
				return
			}
			applied++
		}
	}()
	for round := 0; round < 5; round++ {
		epoch := rand.Int64()
		seen := map[int64]int{}
		pos := pagecache.HotPos{}
		for pages := 0; ; pages++ {
			p, err := c.ReadHot(ctx, v, epoch, pos, 7)
			if err != nil {
				t.Fatal(err)
			}
			if !p.Cached || !p.Complete {
				t.Fatalf("page %d: %+v", pages, p)
			}
			for _, it := range p.Items {
				seen[it.ID]++
				if it.Body == nil || it.Gone {
					t.Fatalf("item %+v has no live body", it)
				}
			}
			if len(p.Items) < 7 {
				break
			}
			last := p.Items[len(p.Items)-1]
			pos = pagecache.HotPos{Likes: last.Likes, ID: last.ID}
		}
		if len(seen) != n {
			t.Errorf("round %d: %d distinct comments, want %d", round, len(seen), n)
		}
		for id, k := range seen {
			if k != 1 {
				t.Errorf("round %d: comment %d served %d times", round, id, k)
			}
		}
	}
	close(stop)
	wg.Wait()
	if applied == 0 {
		t.Fatal("no likes applied while paging")
	}
}

func TestHotFillMergesOverlayAndLikes(t *testing.T) {
	c, ctx := newHotCache(t, 100, 10)
	v := video()
	tok, err := c.BeginFill(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	// While the fill reads Cassandra: 2 is rejected, 9 approved (a root
	// with 4 likes in lk), 8 approved as a reply (not hot), 3 gets likes.
	must := func(_ bool, _ int64, err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := c.ApplyLikes(ctx, v, []pagecache.LikeCount{{ID: 9, Offset: 1, Count: 4}, {ID: 3, Offset: 2, Count: 50}}); err != nil {
		t.Fatal(err)
	}
	must(c.Record(ctx, pagecache.Change{VideoID: v, ID: 2, Version: 5, WasVisible: true}))
	must(c.Record(ctx, pagecache.Change{VideoID: v, ID: 9, Version: 5, Visible: true, Body: pub(9, 0, 0)}))
	must(c.Record(ctx, pagecache.Change{VideoID: v, ID: 8, Version: 5, Visible: true, Body: pub(8, 3, 0), ParentID: 3}))
	res, err := c.FillHot(ctx, v, tok, hotEntries(map[int64]int64{1: 10, 2: 7, 3: 5}), 3, true)
	if err != nil || !res.Written {
		t.Fatalf("fill %+v %v", res, err)
	}
	p, rows := readHot(t, c, ctx, v, 1, pagecache.HotPos{}, 10)
	if want := []hotRow{{3, 50}, {1, 10}, {9, 4}}; !reflect.DeepEqual(rows, want) {
		t.Errorf("hot window %v, want %v", rows, want)
	}
	if p.Total != 3 || !p.Complete {
		t.Errorf("total %d complete %v", p.Total, p.Complete)
	}
	if !strings.Contains(string(p.Items[0].Body), `"like_count":50,`) {
		t.Errorf("body %s", p.Items[0].Body)
	}
}

// The syncer settles an approval before cdc records it (cdc behind or
// down): the settle drops the pages and leaves the settled marker, and
// cdc's late record of that change is skipped for the lists — but it still
// takes the comment out of its author's private view, which no settle can
// reach. An older change replayed afterwards leaves the view alone.
func TestLateRecordOfASettledChangeEmptiesTheView(t *testing.T) {
	c, ctx := newHotCache(t, 100, 100)
	v := video()
	const id, user = 20, 77
	pending := func() int {
		es, err := c.Pending(ctx, v, user)
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	created := pagecache.Change{VideoID: v, ID: id, Version: 1, UserID: user, Pending: true, Body: pub(id, 0, 0)}
	if ok, _, err := c.Record(ctx, created); err != nil || !ok || pending() != 1 {
		t.Fatalf("pending comment recorded=%v err=%v, view holds %d", ok, err, pending())
	}
	if s, err := c.Settle(ctx, v, id, 2); err != nil || s != pagecache.SettleInvalidated {
		t.Fatalf("settle of the approval before cdc: %v %v", s, err)
	}
	approved := pagecache.Change{VideoID: v, ID: id, Version: 2, UserID: user, Visible: true, Body: pub(id, 0, 0)}
	if ok, _, err := c.Record(ctx, approved); err != nil || ok {
		t.Fatalf("late record applied=%v err=%v, want skipped", ok, err)
	}
	if n := pending(); n != 0 {
		t.Errorf("the author's view still holds the approved comment (%d)", n)
	}
	if ok, _, _ := c.Record(ctx, created); ok || pending() != 0 {
		t.Errorf("the replayed pending change applied=%v, view holds %d", ok, pending())
	}
}

func TestRecordRoutesRepliesPendingAndHot(t *testing.T) {
	c, ctx := newHotCache(t, 100, 100)
	v := video()
	const root, reply, user = 10, 20, 77
	mustFill(t, c, ctx, v, []pagecache.Entry{{ID: root, Body: pub(root, 0, 0)}}, 1, true)
	fillHot(t, c, ctx, v, map[int64]int64{root: 0}, true)
	tok, _ := c.BeginFill(ctx, v)
	if res, err := c.FillReplies(ctx, v, root, tok, nil, 0, true); err != nil || !res.Written {
		t.Fatalf("fill replies %+v %v", res, err)
	}
	record := func(ch pagecache.Change) {
		t.Helper()
		ch.VideoID = v
		if ok, _, err := c.Record(ctx, ch); err != nil || !ok {
			t.Fatalf("record %+v: %v %v", ch, ok, err)
		}
	}
	replies := func() []int64 {
		t.Helper()
		p, err := c.ReadReplies(ctx, v, root, 0, 10)
		if err != nil || !p.Cached {
			t.Fatalf("replies %+v %v", p, err)
		}
		return p.IDs()
	}
	pending := func() []int64 {
		es, err := c.Pending(ctx, v, user)
		if err != nil {
			t.Fatal(err)
		}
		out := []int64{}
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	// A pending reply: only its author's hash holds it.
	record(pagecache.Change{ID: reply, Version: 1, ParentID: root, UserID: user, Pending: true, Body: pub(reply, root, 0)})
	if got := pending(); !reflect.DeepEqual(got, []int64{reply}) {
		t.Errorf("pending %v", got)
	}
	if got := replies(); len(got) != 0 {
		t.Errorf("replies while pending %v", got)
	}
	// Approved: out of the pending hash, into the reply list, not the pages.
	record(pagecache.Change{ID: reply, Version: 2, ParentID: root, UserID: user, Visible: true, Body: pub(reply, root, 0)})
	if got := pending(); len(got) != 0 {
		t.Errorf("pending after approval %v", got)
	}
	if got := replies(); !reflect.DeepEqual(got, []int64{reply}) {
		t.Errorf("replies %v", got)
	}
	if p := read(t, c, ctx, v, 0, 10); !reflect.DeepEqual(p.IDs(), []int64{root}) || p.Total != 1 {
		t.Errorf("time window %v total %d", p.IDs(), p.Total)
	}
	// Rejected: gone from the reply list at once.
	record(pagecache.Change{ID: reply, Version: 3, ParentID: root, UserID: user, WasVisible: true})
	if got := replies(); len(got) != 0 {
		t.Errorf("replies after rejection %v", got)
	}
	// A new root enters the (complete) hot window; a rejected one leaves.
	record(pagecache.Change{ID: 30, Version: 1, UserID: user, Visible: true, Body: pub(30, 0, 0)})
	if _, rows := readHot(t, c, ctx, v, 5, pagecache.HotPos{}, 10); !reflect.DeepEqual(rows, []hotRow{{30, 0}, {root, 0}}) {
		t.Errorf("hot after approval %v", rows)
	}
	record(pagecache.Change{ID: 30, Version: 2, UserID: user, WasVisible: true})
	p, rows := readHot(t, c, ctx, v, 6, pagecache.HotPos{}, 10)
	if !reflect.DeepEqual(rows, []hotRow{{root, 0}}) || p.Total != 1 {
		t.Errorf("hot after rejection %v total %d", rows, p.Total)
	}
	// An old snapshot still lists 30, but its body is gone.
	p, _ = readHot(t, c, ctx, v, 5, pagecache.HotPos{}, 10)
	if len(p.Items) != 2 || !p.Items[0].Gone {
		t.Errorf("snapshot after rejection %+v", p.Items)
	}
	// Invalidate drops the hot window and the reply lists.
	if _, err := c.Invalidate(ctx, v); err != nil {
		t.Fatal(err)
	}
	if p, _ := readHot(t, c, ctx, v, 7, pagecache.HotPos{}, 10); p.Cached {
		t.Error("hot window survived Invalidate")
	}
	if p, err := c.ReadReplies(ctx, v, root, 0, 10); err != nil || p.Cached {
		t.Errorf("reply list survived Invalidate: %+v %v", p, err)
	}
}

func TestSetPinIsVersionGuarded(t *testing.T) {
	c, ctx := newHotCache(t, 10, 10)
	v := video()
	if p, err := c.Pin(ctx, v); err != nil || p.Cached {
		t.Fatalf("pin of a new video %+v %v", p, err)
	}
	if err := c.FillPin(ctx, v, 0, 0); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name      string
		id, ver   int64
		applied   bool
		wantID    int64
		wantBumps bool
	}{
		{"pin", 5, 100, true, 5, true},
		{"older ignored", 6, 99, false, 5, false},
		{"repin", 7, 101, true, 7, true},
		{"unpin", 0, 102, true, 0, true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			before, _ := c.Version(ctx, v)
			ok, err := c.SetPin(ctx, v, st.id, st.ver)
			if err != nil || ok != st.applied {
				t.Fatalf("SetPin = %v %v", ok, err)
			}
			p, err := c.Pin(ctx, v)
			if err != nil || !p.Cached || p.ID != st.wantID {
				t.Errorf("Pin = %+v %v", p, err)
			}
			after, _ := c.Version(ctx, v)
			if (after != before) != st.wantBumps {
				t.Errorf("version %d → %d", before, after)
			}
		})
	}
	if err := c.FillPin(ctx, v, 9, 50); err != nil { // older than cdc's: ignored
		t.Fatal(err)
	}
	if p, _ := c.Pin(ctx, v); p.ID != 0 || p.Version != 102 {
		t.Errorf("FillPin overwrote a newer pin: %+v", p)
	}
}

// slotHook records the keys of every script call.
type slotHook struct {
	mu   sync.Mutex
	keys [][]string
}

func (h *slotHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *slotHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.record(cmd.Args())
		return next(ctx, cmd)
	}
}
func (h *slotHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			h.record(c.Args())
		}
		return next(ctx, cmds)
	}
}
func (h *slotHook) record(args []any) {
	if len(args) < 3 {
		return
	}
	name := strings.ToLower(fmt.Sprint(args[0]))
	if name != "eval" && name != "evalsha" {
		return
	}
	n, _ := args[2].(int)
	ks := make([]string, 0, n)
	for i := 0; i < n && 3+i < len(args); i++ {
		ks = append(ks, fmt.Sprint(args[3+i]))
	}
	h.mu.Lock()
	h.keys = append(h.keys, ks)
	h.mu.Unlock()
}

func TestEveryScriptUsesKeysOfOneSlot(t *testing.T) {
	rdb := stacktest.Redis(t)
	h := &slotHook{}
	rdb.AddHook(h)
	c, ctx := pagecache.New(rdb, pagecache.Options{Window: 10, HotWindow: 10}), context.Background()
	v := video()
	mustFill(t, c, ctx, v, entries(2, 1), 2, true)
	fillHot(t, c, ctx, v, map[int64]int64{2: 1, 1: 0}, true)
	tok, _ := c.BeginFill(ctx, v)
	_, _ = c.FillReplies(ctx, v, 2, tok, nil, 0, true)
	_, _ = c.ReadReplies(ctx, v, 2, 0, 5)
	_, _, _ = c.Record(ctx, pagecache.Change{VideoID: v, ID: 3, Version: 1, Visible: true, Body: pub(3, 2, 0), ParentID: 2, UserID: 4})
	_ = c.ApplyLikes(ctx, v, []pagecache.LikeCount{{ID: 2, Offset: 1, Count: 3}})
	_, _ = c.ReadHot(ctx, v, 1, pagecache.HotPos{}, 5)
	_, _ = c.ReadHot(ctx, v, 1, pagecache.HotPos{Likes: 3, ID: 2}, 5)
	_, _ = c.Settle(ctx, v, 3, 1)
	_ = c.SettleMany(ctx, []pagecache.SettleRequest{{VideoID: v, ID: 9, Version: 9}})
	_, _ = c.SetPin(ctx, v, 2, 1)
	_ = c.FillPin(ctx, v, 2, 1)
	_, _ = c.Invalidate(ctx, v)
	tk, _, _ := c.TryLease(ctx, v, 1e9)
	_ = c.ReleaseLease(ctx, v, tk)
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.keys) < 12 {
		t.Fatalf("saw %d script calls", len(h.keys))
	}
	want := fmt.Sprintf("vc:{%d}:", v)
	for _, ks := range h.keys {
		for _, k := range ks {
			if !strings.HasPrefix(k, want) {
				t.Errorf("script keys %v: %q is not of slot tag %s", ks, k, want)
			}
		}
	}
}

func TestSettleOfAnUnseenChangeDropsTheHotWindowAndReplyLists(t *testing.T) {
	c, ctx := newHotCache(t, 10, 10)
	v := video()
	fillHot(t, c, ctx, v, map[int64]int64{1: 3}, true)
	tok, _ := c.BeginFill(ctx, v)
	if res, err := c.FillReplies(ctx, v, 1, tok, []pagecache.Entry{{ID: 2, Body: pub(2, 1, 0)}}, 1, true); err != nil || !res.Written {
		t.Fatalf("fill replies %+v %v", res, err)
	}
	// The syncer made a change durable that cdc never recorded.
	if s, err := c.Settle(ctx, v, 5, 100); err != nil || s != pagecache.SettleInvalidated {
		t.Fatalf("Settle = %v %v", s, err)
	}
	if p, _ := readHot(t, c, ctx, v, 1, pagecache.HotPos{}, 10); p.Cached {
		t.Error("hot window survived the settle's invalidation")
	}
	if p, err := c.ReadReplies(ctx, v, 1, 0, 10); err != nil || p.Cached {
		t.Errorf("reply list survived the settle's invalidation: %+v %v", p, err)
	}
}

func TestPageOneRetakesTheSnapshotAfterARefill(t *testing.T) {
	c, ctx := newHotCache(t, 10, 10)
	v := video()
	const epoch = 77
	fillHot(t, c, ctx, v, map[int64]int64{1: 5, 2: 3, 3: 1}, true)
	if _, rows := readHot(t, c, ctx, v, epoch, pagecache.HotPos{}, 10); !reflect.DeepEqual(rows, []hotRow{{1, 5}, {2, 3}, {3, 1}}) {
		t.Fatalf("page one %v", rows)
	}
	// Dropped and refilled within the epoch, in another order.
	if _, err := c.Invalidate(ctx, v); err != nil {
		t.Fatal(err)
	}
	if p, _ := readHot(t, c, ctx, v, epoch, pagecache.HotPos{Likes: 5, ID: 1}, 10); p.Cached {
		t.Fatal("a later page read a snapshot while the window is not cached")
	}
	fillHot(t, c, ctx, v, map[int64]int64{1: 5, 2: 9, 3: 1}, true)
	// A later page of the old page one keeps the frozen order…
	if _, rows := readHot(t, c, ctx, v, epoch, pagecache.HotPos{Likes: 5, ID: 1}, 10); !reflect.DeepEqual(rows, []hotRow{{2, 3}, {3, 1}}) {
		t.Errorf("later page of the old snapshot %v", rows)
	}
	// …and a new page one snapshots the refilled window.
	if _, rows := readHot(t, c, ctx, v, epoch, pagecache.HotPos{}, 10); !reflect.DeepEqual(rows, []hotRow{{2, 9}, {1, 5}, {3, 1}}) {
		t.Errorf("page one after the refill %v", rows)
	}
}
