package readmodel

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/stacktest"
)

// oneRoot is a private keyspace, a writer and one approved root comment
// in the read model.
func oneRoot(t *testing.T) (*stacktest.Cassandra, *Writer, context.Context, comment.Comment) {
	t.Helper()
	cass, w, ctx := newTestWriter(t, 0, time.Minute)
	video := randomVideo()
	root := newHistory(video, time.Now().Add(-time.Hour), 1, comment.Approved)
	if err := w.Apply(ctx, events(root...)); err != nil {
		t.Fatal(err)
	}
	return cass, w, ctx, root[0]
}

func likeEvents(id, video, delta, from, n int64) []LikeEvent {
	out := make([]LikeEvent, n)
	for i := range out {
		out[i] = LikeEvent{CommentID: id, VideoID: video, Delta: delta, Offset: from + int64(i)}
	}
	return out
}

// checkState compares the videos' read model with the rows and likes.
func checkState(t *testing.T, ctx context.Context, w *Writer, video int64, rows []comment.Comment, likes map[int64]int64) {
	t.Helper()
	got, err := Dump(ctx, w.s)
	if err != nil {
		t.Fatal(err)
	}
	if d := Diff(got.Videos(video), ExpectLikes(rows, likes), 10); len(d) > 0 {
		t.Errorf("%s", strings.Join(d, "\n"))
	}
}

// TestApplyLikesIsExact: 1,000 likes in batches give exactly 1,000; the
// whole stream replayed from offset 0 adds nothing; 300 unlikes take 300
// away; the hot index holds the comment once, at its count.
func TestApplyLikesIsExact(t *testing.T) {
	_, w, ctx := newTestWriter(t, 0, 2*time.Minute)
	video := randomVideo()
	root := newHistory(video, time.Now().Add(-time.Hour), 1, comment.Approved)
	if err := w.Apply(ctx, events(root...)); err != nil {
		t.Fatal(err)
	}
	id := root[0].ID
	likes := likeEvents(id, video, +1, 0, 1000)
	unlikes := likeEvents(id, video, -1, 1000, 300)
	steps := []struct {
		name    string
		batches [][]LikeEvent
		want    int64
		changed bool
	}{
		{"1000 likes in 10 batches", chunks(likes, 100), 1000, true},
		{"replayed from offset 0 in other batches", chunks(likes, 333), 1000, false},
		{"300 unlikes", chunks(unlikes, 100), 700, true},
		{"everything again in one batch", [][]LikeEvent{append(append([]LikeEvent{}, likes...), unlikes...)}, 700, false},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			var last LikeCount
			changed := false
			for _, b := range s.batches {
				counts, err := w.ApplyLikes(ctx, b)
				if err != nil {
					t.Fatal(err)
				}
				if len(counts) != 1 {
					t.Fatalf("%d counts for one comment", len(counts))
				}
				last, changed = counts[0], changed || counts[0].Changed
			}
			if last.Count != s.want || changed != s.changed {
				t.Errorf("count %d changed %v, want %d %v", last.Count, changed, s.want, s.changed)
			}
			checkState(t, ctx, w, video, root, map[int64]int64{id: s.want})
		})
	}
}

// TestZombieLikeWriterLoses: a writer that computed a count from an older
// base writes an older timestamp (offset + 1), so the newer count stays.
func TestZombieLikeWriterLoses(t *testing.T) {
	cass, w, ctx, root := oneRoot(t)
	video, id := root.VideoID, root.ID
	zombie := NewWriter(cass.Session, 0, nil)
	// The zombie read the base after offset 4 (5 likes) ...
	if _, err := zombie.ApplyLikes(ctx, likeEvents(id, video, +1, 0, 5)); err != nil {
		t.Fatal(err)
	}
	// ... the partition's new owner applies offsets 5..9 ...
	if _, err := w.ApplyLikes(ctx, likeEvents(id, video, +1, 5, 5)); err != nil {
		t.Fatal(err)
	}
	// ... and the zombie, still holding its old base of 5 at offset 4,
	// writes what it computed for offsets 5..7 alone: 8 at offset 7.
	if err := zombie.writeLikeCount(ctx, id, video, 8, 7); err != nil {
		t.Fatal(err)
	}
	count, offset, err := w.storedLikes(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if count != 10 || offset != 9 {
		t.Errorf("comment_likes (%d, %d) after the zombie's write, want (10, 9)", count, offset)
	}
	checkState(t, ctx, w, video, []comment.Comment{root}, map[int64]int64{id: 10}) // likes_by_bucket too
}

// TestRecountSetsTheCount: a recount (the inspector's repair) replaces
// whatever count a lost event left, drops the stray hot entry it names,
// is followed by the likes after it, and adds nothing when replayed.
func TestRecountSetsTheCount(t *testing.T) {
	cass, w, ctx, c := oneRoot(t)
	video, id, root := c.VideoID, c.ID, []comment.Comment{c}
	if _, err := w.ApplyLikes(ctx, likeEvents(id, video, +1, 0, 3)); err != nil {
		t.Fatal(err)
	}
	// A stray entry no count move will ever delete: the comment filed at 9.
	if err := cass.Session.Query(insertHot, video, Band(9), int64(9), id, time.Now().UnixMicro()).Exec(); err != nil {
		t.Fatal(err)
	}
	recount := LikeEvent{CommentID: id, VideoID: video, Recount: true, Count: 5, Stale: 9, Offset: 3}
	batch := append([]LikeEvent{recount}, likeEvents(id, video, +1, 4, 1)...)
	for _, step := range []struct {
		name  string
		batch []LikeEvent
	}{{"recount to 5, then one like", batch}, {"the same again (a replay)", batch}, {"the recount alone, replayed", batch[:1]}} {
		t.Run(step.name, func(t *testing.T) {
			counts, err := w.ApplyLikes(ctx, step.batch)
			if err != nil {
				t.Fatal(err)
			}
			if len(counts) != 1 || counts[0].Count != 6 {
				t.Fatalf("counts %+v, want 6", counts)
			}
			checkState(t, ctx, w, video, root, map[int64]int64{id: 6})
		})
	}
}

// TestHotIndexFollowsVisibilityAndReplies: the hot index holds exactly the
// visible roots at their counts through rejection, re-approval, deletion
// and likes; replies go to replies_by_parent, never to the hot index or the
// video's pages; pins keep their newest version.
func TestHotIndexFollowsVisibilityAndReplies(t *testing.T) {
	cass, w, ctx := newTestWriter(t, 0, 2*time.Minute)
	video := randomVideo()
	at := time.Now().Add(-2 * time.Hour)
	a := newHistory(video, at, 1, comment.Approved, comment.Rejected, comment.Approved, comment.Deleted)
	b := newHistory(video, at, 2, comment.Approved)
	reply := newHistory(video, at.Add(time.Minute), 3, comment.Approved, comment.Rejected)
	for i := range reply {
		reply[i].ParentID = b[0].ID
	}
	edited := b[0]
	edited.Content, edited.EditedAt, edited.Version = "edited", at.Add(2*time.Minute), b[0].Version+10
	offset := int64(0)
	like := func(id, delta, n int64) func() error {
		return func() error {
			evs := likeEvents(id, video, delta, offset, n)
			offset += n
			_, err := w.ApplyLikes(ctx, evs)
			return err
		}
	}
	apply := func(cs ...comment.Comment) func() error {
		return func() error { return w.Apply(ctx, events(cs...)) }
	}
	steps := []struct {
		name  string
		do    func() error
		rows  []comment.Comment
		likes map[int64]int64
	}{
		{"two approved roots and a reply", apply(a[0], b[0], reply[0]), []comment.Comment{a[0], b[0], reply[0]}, nil},
		{"likes move a up", like(a[0].ID, +1, 5), []comment.Comment{a[0], b[0], reply[0]}, map[int64]int64{a[0].ID: 5}},
		{"rejected: out of the hot index", apply(a[1]), []comment.Comment{a[1], b[0], reply[0]}, map[int64]int64{a[0].ID: 5}},
		{"approved again: back at its count", apply(a[2]), []comment.Comment{a[2], b[0], reply[0]}, map[int64]int64{a[0].ID: 5}},
		{"likes on a reply stay out of the hot index", like(reply[0].ID, +1, 2), []comment.Comment{a[2], b[0], reply[0]}, map[int64]int64{a[0].ID: 5, reply[0].ID: 2}},
		{"the reply rejected", apply(reply[1]), []comment.Comment{a[2], b[0], reply[1]}, map[int64]int64{a[0].ID: 5, reply[0].ID: 2}},
		{"an edit keeps b's entry", apply(edited), []comment.Comment{a[2], edited, reply[1]}, map[int64]int64{a[0].ID: 5, reply[0].ID: 2}},
		{"a's likes taken back to 1", like(a[0].ID, -1, 4), []comment.Comment{a[2], edited, reply[1]}, map[int64]int64{a[0].ID: 1, reply[0].ID: 2}},
		{"a deleted", apply(a[3]), []comment.Comment{a[3], edited, reply[1]}, map[int64]int64{a[0].ID: 1, reply[0].ID: 2}},
		{"everything replayed, older first", apply(append(append(append([]comment.Comment{}, a...), b...), reply...)...), []comment.Comment{a[3], edited, reply[1]}, map[int64]int64{a[0].ID: 1, reply[0].ID: 2}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if err := s.do(); err != nil {
				t.Fatal(err)
			}
			checkState(t, ctx, w, video, s.rows, s.likes)
		})
	}

	t.Run("pins keep the newest version", func(t *testing.T) {
		pins := []comment.Event{
			comment.NewPinEvent(comment.Pin{VideoID: video, CommentID: b[0].ID, Version: 20}),
			comment.NewPinEvent(comment.Pin{VideoID: video, CommentID: a[0].ID, Version: 10}),
		}
		if err := w.Apply(ctx, pins); err != nil {
			t.Fatal(err)
		}
		var pinned, version int64
		if err := cass.Session.Query(`SELECT comment_id, version FROM video_pins WHERE video_id = ?`, video).ScanContext(ctx, &pinned, &version); err != nil {
			t.Fatal(err)
		}
		if pinned != b[0].ID || version != 20 {
			t.Errorf("video_pins (%d, %d), want (%d, 20)", pinned, version, b[0].ID)
		}
		if err := w.Apply(ctx, []comment.Event{comment.NewPinEvent(comment.Pin{VideoID: video, Version: 30})}); err != nil {
			t.Fatal(err)
		}
		if err := cass.Session.Query(`SELECT comment_id FROM video_pins WHERE video_id = ?`, video).ScanContext(ctx, &pinned); err != nil || pinned != 0 {
			t.Errorf("after unpin: %d, %v", pinned, err)
		}
	})
}

func TestBand(t *testing.T) {
	for _, tt := range []struct {
		count int64
		band  int32
	}{{0, 0}, {1, 1}, {2, 2}, {3, 2}, {4, 3}, {7, 3}, {8, 4}, {1000, 10}, {-1, 0}} {
		t.Run("", func(t *testing.T) {
			if got := Band(tt.count); got != tt.band {
				t.Errorf("Band(%d) = %d, want %d", tt.count, got, tt.band)
			}
		})
	}
}

func chunks(evs []LikeEvent, n int) [][]LikeEvent {
	var out [][]LikeEvent
	for i := 0; i < len(evs); i += n {
		out = append(out, evs[i:min(i+n, len(evs))])
	}
	return out
}

// TestBackfillLikeBuckets: a keyspace whose counts are only in
// comment_likes (written before likes_by_bucket existed) gets each of them
// copied at its own write time. A count the syncer is writing meanwhile
// (likes_by_bucket written, comment_likes not yet) keeps its newer value,
// and a second run changes nothing.
func TestBackfillLikeBuckets(t *testing.T) {
	cass, w, ctx := newTestWriter(t, 0, time.Minute)
	video := randomVideo()
	var rows []comment.Comment
	for seq := range int64(3) {
		rows = append(rows, newHistory(video, time.Now().Add(-time.Hour), seq+1, comment.Approved)...)
	}
	if err := w.Apply(ctx, events(rows...)); err != nil {
		t.Fatal(err)
	}
	a, b, c := rows[0].ID, rows[1].ID, rows[2].ID
	for id, n := range map[int64]int64{a: 4, b: 7, c: 1} { // as the syncer wrote them before: at offset n−1
		if err := cass.Session.Query(writeLikes, id, video, n, n-1, n).Exec(); err != nil {
			t.Fatal(err)
		}
	}
	// The syncer is half-way through moving b to 8 at offset 7.
	if err := cass.Session.Query(writeBucketLikes, video, comment.Bucket(b), b, int64(8), int64(8)).Exec(); err != nil {
		t.Fatal(err)
	}
	likes := func() State {
		t.Helper()
		got, err := Dump(ctx, cass.Session)
		if err != nil {
			t.Fatal(err)
		}
		return got.Videos(video)
	}
	if got := likes().BucketLikes; !reflect.DeepEqual(got, map[int64]int64{b: 8}) {
		t.Fatalf("likes_by_bucket before the backfill = %v, want only %d: 8", got, b)
	}
	want := map[int64]int64{a: 4, b: 8, c: 1}
	for run := range 2 {
		n, err := w.BackfillLikeBuckets(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if n < 3 { // the keyspace may hold other tests' counts too
			t.Errorf("run %d copied %d counts, want at least 3", run, n)
		}
		if got := likes().BucketLikes; !reflect.DeepEqual(got, want) {
			t.Errorf("run %d: likes_by_bucket = %v, want %v", run, got, want)
		}
	}
	// The syncer's second write lands: both tables agree.
	if err := w.writeLikeCount(ctx, b, video, 8, 7); err != nil {
		t.Fatal(err)
	}
	if got := likes(); !reflect.DeepEqual(got.Likes, want) || !reflect.DeepEqual(got.BucketLikes, want) {
		t.Errorf("comment_likes %v and likes_by_bucket %v, want both %v", got.Likes, got.BucketLikes, want)
	}
}
