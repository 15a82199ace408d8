package inspect_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/inspect"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/syncer/readmodel"
)

// hotEntries is the size of the hot window richSeed fills: smaller than
// the video's roots, so the window is incomplete.
const hotEntries = 3

// rich is a video in a consistent state with likes, an edited comment, a
// reply and a pin.
type rich struct {
	seeded
	likes  map[int64]int64 // like count by comment
	root   int64           // the root with the reply
	reply  int64
	edited int64
	pinned int64
	hot    []int64 // the hot window, in order
}

// seedRich writes four approved roots (one edited, one with a reply, three
// liked — the reply too), a pending and a rejected root and a pin to MySQL,
// Cassandra (through the syncer's writer) and Redis (SetPin, the time
// window, ApplyLikes, the hot window and the reply list, as cdc, the syncer
// and readsvc's fills write them).
func (w *world) seedRich(t *testing.T) rich {
	t.Helper()
	ctx := context.Background()
	video := 1<<52 + rand.Int64N(1<<50)
	created := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
	base := comment.MinIDAt(created)
	s := rich{seeded: seeded{video: video}, likes: map[int64]int64{}}
	var rows []comment.Comment
	for i, st := range []comment.Status{comment.Rejected, comment.Pending, comment.Approved, comment.Approved, comment.Approved, comment.Approved} {
		rows = append(rows, comment.Comment{ID: base + int64(i)*4096, VideoID: video, UserID: 7, Content: fmt.Sprintf("comment %d of %d", i, video),
			Status: st, CreatedAt: created, Version: created.UnixMicro() + int64(i)})
	}
	s.root, s.edited = rows[5].ID, rows[3].ID
	rows[5].ReplyCount = 1
	rows[3].EditedAt = created.Add(time.Minute)
	rows[3].Content = "edited once"
	rep := comment.Comment{ID: base + 6*4096, VideoID: video, UserID: 8, ParentID: s.root, Content: "a reply",
		Status: comment.Approved, CreatedAt: created, Version: created.UnixMicro() + 6}
	s.reply = rep.ID
	rows = append(rows, rep)
	s.likes[rows[2].ID], s.likes[rows[4].ID], s.likes[rep.ID] = 2, 1, 1
	s.pinned = rows[4].ID
	pinVersion := created.UnixMicro() + 100
	t.Cleanup(func() {
		keys := []string{"meta", "time", "body", "ver", "ov", "ovt", "fence", "lk", "hot", "hmeta", "hbody", "pin", "rgen",
			"rm:" + fmt.Sprint(s.root), "r:" + fmt.Sprint(s.root), "rb:" + fmt.Sprint(s.root)}
		for _, k := range keys {
			w.rdb.Del(context.Background(), fmt.Sprintf("vc:{%d}:%s", video, k))
		}
	})

	// MySQL.
	var events []comment.Event
	for _, c := range rows {
		var edited any
		if !c.EditedAt.IsZero() {
			edited = c.EditedAt
		}
		if _, err := w.db.ExecContext(ctx, `INSERT INTO comments (id, video_id, user_id, parent_id, content, status, created_at, edited_at, reply_count, updated_at, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, c.ID, c.VideoID, c.UserID, c.ParentID, c.Content, string(c.Status), c.CreatedAt, edited, c.ReplyCount, created, c.Version); err != nil {
			t.Fatal(err)
		}
		events = append(events, comment.NewEvent(comment.EventCreated, c))
		c.LikeCount = s.likes[c.ID]
		s.rows = append([]comment.Comment{c}, s.rows...)
	}
	var likeEvents []readmodel.LikeEvent
	var counts []pagecache.LikeCount
	var offset int64
	for id, n := range s.likes {
		for u := range n {
			if _, err := w.db.ExecContext(ctx, `INSERT INTO comment_likes (comment_id, user_id, video_id, created_at) VALUES (?, ?, ?, ?)`,
				id, 100+u, video, created); err != nil {
				t.Fatal(err)
			}
			likeEvents = append(likeEvents, readmodel.LikeEvent{CommentID: id, VideoID: video, Delta: 1, Offset: offset})
			offset++
		}
		counts = append(counts, pagecache.LikeCount{ID: id, Offset: offset - 1, Count: n})
	}
	if _, err := w.db.ExecContext(ctx, `INSERT INTO video_pins (video_id, comment_id, pinned_by, updated_at, version) VALUES (?, ?, 1, ?, ?)`,
		video, s.pinned, created, pinVersion); err != nil {
		t.Fatal(err)
	}
	events = append(events, comment.NewPinEvent(comment.Pin{VideoID: video, CommentID: s.pinned, Version: pinVersion}))

	// Cassandra.
	if err := w.w.Apply(ctx, events); err != nil {
		t.Fatal(err)
	}
	if _, err := w.w.ApplyLikes(ctx, likeEvents); err != nil {
		t.Fatal(err)
	}

	// Redis.
	if _, err := w.cache.SetPin(ctx, video, s.pinned, pinVersion); err != nil {
		t.Fatal(err)
	}
	var roots []pagecache.Entry
	for _, c := range s.rows {
		if c.Status == comment.Approved && c.ParentID == 0 {
			roots = append(roots, pagecache.Entry{ID: c.ID, Body: inspect.PublicBody(c), Version: c.Version, Likes: c.LikeCount})
		}
	}
	fill := func(name string, f func(tok pagecache.FillToken) (pagecache.FillResult, error)) {
		t.Helper()
		tok, err := w.cache.BeginFill(ctx, video)
		if err != nil {
			t.Fatal(err)
		}
		if res, err := f(tok); err != nil || !res.Written {
			t.Fatalf("fill %s: %+v %v", name, res, err)
		}
	}
	fill("time", func(tok pagecache.FillToken) (pagecache.FillResult, error) {
		return w.cache.FillSince(ctx, video, tok, roots, int64(len(roots)), len(roots) <= window)
	})
	if err := w.cache.ApplyLikes(ctx, video, counts); err != nil {
		t.Fatal(err)
	}
	hot := slices.Clone(roots)
	sort.Slice(hot, func(i, j int) bool {
		return hot[i].Likes > hot[j].Likes || hot[i].Likes == hot[j].Likes && hot[i].ID > hot[j].ID
	})
	hot = hot[:hotEntries]
	for _, e := range hot {
		s.hot = append(s.hot, e.ID)
	}
	fill("hot", func(tok pagecache.FillToken) (pagecache.FillResult, error) {
		return w.cache.FillHot(ctx, video, tok, hot, int64(len(roots)), false)
	})
	r := s.row(s.reply)
	fill("replies", func(tok pagecache.FillToken) (pagecache.FillResult, error) {
		return w.cache.FillReplies(ctx, video, s.root, tok, []pagecache.Entry{{ID: r.ID, Body: inspect.PublicBody(r), Version: r.Version}}, 1, true)
	})
	w.ownViews(t, s.seeded)
	return s
}

// A consistent video with likes, an edit, a reply and a pin shows no
// mismatch; each corruption of the hot window, a reply list, a like count
// or the pin, in Redis or Cassandra, is found with its kind.
func TestInspectorFindsLikesRepliesPinCorruption(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	key := func(s rich, k string) string { return fmt.Sprintf("vc:{%d}:%s", s.video, k) }
	tests := []struct {
		name    string
		corrupt func(t *testing.T, s rich) int64
		kind    inspect.Kind
	}{
		{"mysql: a new like the read side never saw", func(t *testing.T, s rich) int64 {
			_, err := w.db.ExecContext(ctx, `INSERT INTO comment_likes (comment_id, user_id, video_id, created_at) VALUES (?, 999, ?, ?)`, s.edited, s.video, time.Now())
			noErr(t, err)
			_, err = w.db.ExecContext(ctx, `UPDATE comments SET updated_at = ? WHERE id = ?`, time.Now().Add(-time.Minute), s.edited)
			noErr(t, err)
			return s.edited
		}, inspect.CacheBody},
		{"mysql: an edit the read side never saw", func(t *testing.T, s rich) int64 {
			_, err := w.db.ExecContext(ctx, `UPDATE comments SET edited_at = ?, updated_at = ? WHERE id = ?`, time.Now(), time.Now().Add(-time.Minute), s.edited)
			noErr(t, err)
			return s.edited
		}, inspect.CacheBody},
		{"redis: reply in the root window", func(t *testing.T, s rich) int64 {
			noErr(t, w.rdb.ZAdd(ctx, key(s, "time"), redis.Z{Member: member(s.reply)}).Err())
			noErr(t, w.rdb.HSet(ctx, key(s, "body"), member(s.reply), inspect.PublicBody(s.row(s.reply))).Err())
			return s.reply
		}, inspect.CacheNotApproved},
		{"redis: hot score differs from the like count", func(t *testing.T, s rich) int64 {
			noErr(t, w.rdb.ZAdd(ctx, key(s, "hot"), redis.Z{Score: 7, Member: member(s.hot[1])}).Err())
			return s.hot[1]
		}, inspect.HotScore},
		{"redis: root missing from the hot window's range", func(t *testing.T, s rich) int64 {
			noErr(t, w.rdb.ZRem(ctx, key(s, "hot"), member(s.hot[0])).Err())
			return s.hot[0]
		}, inspect.HotMissing},
		{"redis: pending comment in the hot window", func(t *testing.T, s rich) int64 {
			id := s.byStatus(comment.Pending)[0]
			noErr(t, w.rdb.ZAdd(ctx, key(s, "hot"), redis.Z{Score: 9, Member: member(id)}).Err())
			noErr(t, w.rdb.HSet(ctx, key(s, "hbody"), member(id), inspect.PublicBody(s.row(id))).Err())
			return id
		}, inspect.HotNotVisible},
		{"redis: hot body with a stale like count", func(t *testing.T, s rich) int64 {
			c := s.row(s.hot[0])
			c.LikeCount--
			noErr(t, w.rdb.HSet(ctx, key(s, "hbody"), member(c.ID), inspect.PublicBody(c)).Err())
			return c.ID
		}, inspect.HotBody},
		{"redis: wrong hot total", func(t *testing.T, s rich) int64 {
			noErr(t, w.rdb.HSet(ctx, key(s, "hmeta"), "total", 9).Err())
			return 0
		}, inspect.HotTotal},
		{"redis: reply missing from its complete list", func(t *testing.T, s rich) int64 {
			noErr(t, w.rdb.ZRem(ctx, key(s, fmt.Sprint("r:", s.root)), member(s.reply)).Err())
			return s.reply
		}, inspect.ReplyMissing},
		{"redis: a root in a reply list", func(t *testing.T, s rich) int64 {
			id := s.hot[0]
			noErr(t, w.rdb.ZAdd(ctx, key(s, fmt.Sprint("r:", s.root)), redis.Z{Member: member(id)}).Err())
			noErr(t, w.rdb.HSet(ctx, key(s, fmt.Sprint("rb:", s.root)), member(id), inspect.PublicBody(s.row(id))).Err())
			return id
		}, inspect.ReplyNotVisible},
		{"redis: reply body differs", func(t *testing.T, s rich) int64 {
			c := s.row(s.reply)
			c.Content = "not what MySQL says"
			noErr(t, w.rdb.HSet(ctx, key(s, fmt.Sprint("rb:", s.root)), member(c.ID), inspect.PublicBody(c)).Err())
			return c.ID
		}, inspect.ReplyBody},
		{"redis: wrong reply total", func(t *testing.T, s rich) int64 {
			noErr(t, w.rdb.HSet(ctx, key(s, fmt.Sprint("rm:", s.root)), "total", 3).Err())
			return 0
		}, inspect.ReplyTotal},
		{"redis: another comment pinned", func(t *testing.T, s rich) int64 {
			noErr(t, w.rdb.Set(ctx, key(s, "pin"), fmt.Sprintf("%d|%d", time.Now().UnixMicro(), s.edited), 0).Err())
			return 0
		}, inspect.PinCache},
		{"cassandra: like count differs", func(t *testing.T, s rich) int64 {
			noErr(t, w.cass.Session.Query(`UPDATE comment_likes SET like_count = 5 WHERE comment_id = ?`, s.reply).Exec())
			return s.reply
		}, inspect.CassLikes},
		{"cassandra: reply missing from replies_by_parent", func(t *testing.T, s rich) int64 {
			noErr(t, w.cass.Session.Query(`DELETE FROM replies_by_parent WHERE parent_id = ? AND id = ?`, s.root, s.reply).Exec())
			return s.reply
		}, inspect.CassMissing},
		{"cassandra: edited_at lost", func(t *testing.T, s rich) int64 {
			noErr(t, w.cass.Session.Query(`UPDATE comments_by_id SET edited_at = null WHERE id = ?`, s.edited).Exec())
			return s.edited
		}, inspect.CassDiffers},
		{"cassandra: another comment pinned", func(t *testing.T, s rich) int64 {
			noErr(t, w.cass.Session.Query(`UPDATE video_pins SET comment_id = ? WHERE video_id = ?`, s.edited, s.video).Exec())
			return 0
		}, inspect.CassPin},
	}
	// bounded is the inspector cdc's job runs: Redis against MySQL only,
	// reading no more of MySQL than the cached lists cover.
	bounded := inspect.New(w.db, w.cache, inspect.Options{Lists: true})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := w.seedRich(t)
			w.requireConsistent(t, s.video)
			if ms := inspectWith(t, bounded, s.video); len(ms) != 0 {
				t.Fatalf("consistent state, bounded inspector: %d mismatches: %v", len(ms), ms)
			}
			id := tc.corrupt(t, s)
			if slices.Contains(inspect.CacheKinds, tc.kind) {
				ms := inspectWith(t, bounded, s.video)
				if !slices.ContainsFunc(ms, func(m inspect.Mismatch) bool { return m.Kind == tc.kind && m.ID == id }) {
					t.Errorf("bounded inspector: no %s mismatch for comment %d; found %v", tc.kind, id, ms)
				}
			}
			requireFound(t, w.inspect(t, s.video), s.video, tc.kind, id)
		})
	}
}

// cdc's job exports the new Redis kinds too: a wrong hot window total is
// counted in cdc_inspector_mismatches{kind="hot_total"}.
func TestJobCountsHotMismatches(t *testing.T) {
	w := newJobWorld(t)
	ctx := context.Background()
	s := w.seedCacheOnly(t, 3)
	tok, err := w.cache.BeginFill(ctx, s.video)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := w.cache.FillHot(ctx, s.video, tok, s.entries(), 3, true); err != nil || !res.Written {
		t.Fatalf("fill hot: %+v %v", res, err)
	}
	tests := []struct {
		name    string
		corrupt func() error
		want    float64
	}{
		{"consistent", func() error { return nil }, 0},
		{"wrong hot total", func() error { return w.rdb.HSet(ctx, s.key("hmeta"), "total", 4).Err() }, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.corrupt(); err != nil {
				t.Fatal(err)
			}
			w.requireJobCounts(t, time.Second, inspect.HotTotal, tc.want)
		})
	}
}
