package inspect

import (
	"slices"
	"testing"

	"github.com/vidcomments/vidcomments/internal/comment"
)

// Each kind of mismatch gets the repair that reaches its tier through the
// path every change takes; only what no change will touch drops pages.
func TestPlan(t *testing.T) {
	ghostRow := comment.Comment{ID: 300, VideoID: video, UserID: 9, CreatedAt: changed, Version: 7000}
	tests := []struct {
		name string
		m    Mismatch
		want Step
	}{
		{"cassandra row missing", Mismatch{Kind: CassMissing, Video: video, ID: 101}, Step{Action: TouchComment, Video: video, ID: 101}},
		{"cassandra row old", Mismatch{Kind: CassOld, Video: video, ID: 101}, Step{Action: TouchComment, Video: video, ID: 101}},
		{"cassandra row differs", Mismatch{Kind: CassDiffers, Video: video, ID: 101}, Step{Action: TouchComment, Video: video, ID: 101}},
		{"cassandra holds a rejected one", Mismatch{Kind: CassNotApproved, Video: video, ID: 104}, Step{Action: TouchComment, Video: video, ID: 104}},
		{"cassandra holds one MySQL lacks", Mismatch{Kind: CassNotApproved, Video: video, ID: 300, Ghost: true, Held: ghostRow},
			Step{Action: EraseGhost, Video: video, ID: 300, Held: ghostRow}},
		{"cassandra count", Mismatch{Kind: CassCount, Video: video}, Step{Action: TouchBuckets, Video: video}},
		{"cassandra likes", Mismatch{Kind: CassLikes, Video: video, ID: 101}, Step{Action: Recount, Video: video, ID: 101}},
		{"hot entry at a stray count", Mismatch{Kind: CassHot, Video: video, ID: 101, Held: comment.Comment{ID: 101, LikeCount: 9}},
			Step{Action: Recount, Video: video, ID: 101, Held: comment.Comment{LikeCount: 9}}},
		{"hot entry missing", Mismatch{Kind: CassHot, Video: video, ID: 101, Held: comment.Comment{ID: 101, LikeCount: -1}},
			Step{Action: TouchComment, Video: video, ID: 101}},
		{"cassandra pin", Mismatch{Kind: CassPin, Video: video}, Step{Action: TouchPin, Video: video}},
		{"cassandra pin MySQL lacks", Mismatch{Kind: CassPin, Video: video, Ghost: true, Held: comment.Comment{ID: 101, Version: 50}},
			Step{Action: Unpin, Video: video, Held: comment.Comment{ID: 101, Version: 50}}},
		{"cached pin", Mismatch{Kind: PinCache, Video: video}, Step{Action: TouchPin, Video: video}},
		{"redis score", Mismatch{Kind: HotScore, Video: video, ID: 101}, Step{Action: Recount, Video: video, ID: 101}},
		{"redis body", Mismatch{Kind: CacheBody, Video: video, ID: 101}, Step{Action: TouchComment, Video: video, ID: 101}},
		{"redis member missing", Mismatch{Kind: ReplyMissing, Video: video, ID: 104}, Step{Action: TouchComment, Video: video, ID: 104}},
		{"redis holds a rejected one", Mismatch{Kind: CacheNotApproved, Video: video, ID: 104}, Step{Action: TouchComment, Video: video, ID: 104}},
		{"redis holds one MySQL lacks", Mismatch{Kind: HotNotVisible, Video: video, ID: 300, Ghost: true}, Step{Action: DropPages, Video: video}},
		{"redis holds another video's", Mismatch{Kind: CacheWrongVideo, Video: video, ID: 107, Ghost: true}, Step{Action: DropPages, Video: video}},
		{"redis total", Mismatch{Kind: CacheTotal, Video: video}, Step{Action: DropPages, Video: video}},
		{"pending view lacks one", Mismatch{Kind: PendingMissing, Video: video, ID: 105, Held: comment.Comment{UserID: 5}}, Step{Action: TouchComment, Video: video, ID: 105}},
		{"pending view holds an approved one", Mismatch{Kind: PendingStale, Video: video, ID: 103, Held: comment.Comment{UserID: 5}}, Step{Action: TouchComment, Video: video, ID: 103}},
		{"pending view holds one MySQL lacks", Mismatch{Kind: PendingStale, Video: video, ID: 300, Ghost: true, Held: comment.Comment{UserID: 5}},
			Step{Action: DropPending, Video: video, ID: 300, Held: comment.Comment{UserID: 5}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.Kinds = []Kind{tc.m.Kind}
			got := Plan([]Mismatch{tc.m}, nil)
			if len(got) != 1 || !equalStep(got[0], tc.want) {
				t.Fatalf("plan %+v, want %+v", got, tc.want)
			}
		})
	}
	t.Run("a video whose repair did not take loses its pages", func(t *testing.T) {
		got := Plan([]Mismatch{{Kind: CacheBody, Video: video, ID: 101}, {Kind: CassMissing, Video: video, ID: 101}}, map[int64]bool{video: true})
		want := []Step{{Action: TouchComment, Video: video, ID: 101, Kinds: []Kind{CassMissing}}, {Action: DropPages, Video: video, Kinds: []Kind{CacheBody}}}
		if !slices.EqualFunc(got, want, equalStep) {
			t.Fatalf("plan %+v, want %+v", got, want)
		}
	})
	t.Run("one step per target, in action order, a ghost past its newest version", func(t *testing.T) {
		older := ghostRow
		older.Version--
		got := Plan([]Mismatch{
			{Kind: CacheTotal, Video: video}, {Kind: HotTotal, Video: video},
			{Kind: CassMissing, Video: video, ID: 101}, {Kind: CacheBody, Video: video, ID: 101},
			{Kind: CassNotApproved, Video: video, ID: 300, Ghost: true, Held: older},
			{Kind: CassNotApproved, Video: video, ID: 300, Ghost: true, Held: ghostRow},
		}, nil)
		want := []Step{
			{Action: EraseGhost, Video: video, ID: 300, Held: ghostRow, Kinds: []Kind{CassNotApproved}},
			{Action: TouchComment, Video: video, ID: 101, Kinds: []Kind{CassMissing, CacheBody}},
			{Action: DropPages, Video: video, Kinds: []Kind{CacheTotal, HotTotal}},
		}
		if !slices.EqualFunc(got, want, equalStep) {
			t.Fatalf("plan %+v, want %+v", got, want)
		}
	})
}

func equalStep(a, b Step) bool {
	return a.Action == b.Action && a.Video == b.Video && a.ID == b.ID && a.Held == b.Held && slices.Equal(a.Kinds, b.Kinds)
}
