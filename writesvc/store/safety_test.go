package store

import (
	"context"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/stacktest"
)

// The verdict is stored with the comment and read back with the queue; a
// post without one is an allow with nothing to say (the column defaults).
func TestSafetyStoredAndQueued(t *testing.T) {
	my := stacktest.NewMySQL(t)
	s := New(my.DB, &seqIDs{})
	ctx := context.Background()
	held := Safety{Verdict: "hold", Reason: "too_many_links", Detail: "more than 5 links"}
	a, err := s.Create(ctx, Post{VideoID: 1, UserID: 1, Content: "links", Status: comment.Pending, Safety: held})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Create(ctx, Post{VideoID: 1, UserID: 2, Content: "plain", Status: comment.Pending})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := my.DB.Exec(`INSERT INTO comments (id, video_id, user_id, parent_id, content, status, created_at, updated_at)
		VALUES (999999, 1, 3, 0, 'by hand', 'pending', NOW(6), NOW(6))`); err != nil {
		t.Fatal(err)
	}
	q, err := s.Queue(ctx, QueueQuery{VideoID: 1, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]Safety{a.Comment.ID: held, b.Comment.ID: {Verdict: "allow"}, 999999: {Verdict: "allow"}}
	if len(q) != len(want) {
		t.Fatalf("queue %+v, want %d rows", q, len(want))
	}
	for _, c := range q {
		if c.Safety != want[c.ID] {
			t.Errorf("comment %d: safety %+v, want %+v", c.ID, c.Safety, want[c.ID])
		}
	}
	// The post's event is the comment's own: the triggers know nothing of the verdict.
	for _, e := range eventsOf(t, my, a.Comment.ID) {
		if e.Comment.Content != "links" {
			t.Errorf("event %+v", e)
		}
	}
}

func TestPostedSince(t *testing.T) {
	my := stacktest.NewMySQL(t)
	clock := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	s := New(my.DB, &seqIDs{})
	s.now = func() time.Time { return clock }
	ctx := context.Background()
	c, err := s.Create(ctx, Post{VideoID: 5, UserID: 7, Content: "Same thing", Status: comment.Approved})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name                string
		user, video, parent int64
		content             string
		since               time.Time
		want                bool
	}{
		{"same", 7, 5, 0, "Same thing", clock.Add(-time.Minute), true},
		{"since exactly then", 7, 5, 0, "Same thing", clock, true},
		{"before the window", 7, 5, 0, "Same thing", clock.Add(time.Microsecond), false},
		{"other user", 8, 5, 0, "Same thing", clock.Add(-time.Minute), false},
		{"other video", 7, 6, 0, "Same thing", clock.Add(-time.Minute), false},
		{"as a reply", 7, 5, c.Comment.ID, "Same thing", clock.Add(-time.Minute), false},
		{"other case is other content", 7, 5, 0, "same thing", clock.Add(-time.Minute), false},
		{"other accent is other content", 7, 5, 0, "Samé thing", clock.Add(-time.Minute), false},
	}
	for _, tc := range cases {
		got, err := s.PostedSince(ctx, tc.user, tc.video, tc.parent, tc.content, tc.since)
		if err != nil || got != tc.want {
			t.Errorf("%s: PostedSince = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if _, err := s.Transition(ctx, Change{CommentID: c.Comment.ID, Action: Delete, ActorID: 7, ActorRole: "user", AuthorOnly: true}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.PostedSince(ctx, 7, 5, 0, "Same thing", clock.Add(-time.Minute)); err != nil || got {
		t.Errorf("after the author deleted it: PostedSince = %v, %v; want false", got, err)
	}
}
