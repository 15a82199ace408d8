package store

import (
	"context"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/stacktest"
)

// The change log of schema/mysql/050: hand-written SQL — an INSERT without
// a version, UPDATEs of status and content, a multi-row UPDATE, a hard
// DELETE, like rows and a pin row — each leaves exactly one event per row
// change in the outbox, in the same transaction, that comment.DecodeEvent
// accepts and that says what the row now says.
func TestTriggerEventsDecode(t *testing.T) {
	my := stacktest.NewMySQL(t)
	ctx := context.Background()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := my.DB.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	row := func(id int64) comment.Comment {
		t.Helper()
		c, err := New(my.DB, &seqIDs{}).Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	last := func(id int64) comment.Event {
		t.Helper()
		es := eventsOf(t, my, id)
		if len(es) == 0 {
			t.Fatalf("comment %d: no event in the outbox", id)
		}
		return es[len(es)-1]
	}
	same := func(what string, e comment.Event, want comment.Comment, typ comment.EventType) {
		t.Helper()
		got := e.Comment
		got.CreatedAt, want.CreatedAt = got.CreatedAt.UTC(), want.CreatedAt.UTC()
		got.EditedAt, want.EditedAt = got.EditedAt.UTC(), want.EditedAt.UTC()
		if e.Type != typ || e.Version != want.Version || got != want {
			t.Errorf("%s: event %s v%d %+v, want %s %+v", what, e.Type, e.Version, got, typ, want)
		}
	}

	// A hand-written INSERT that leaves out version, content with quotes,
	// a backslash, a newline and non-ASCII text.
	const content = "a \"quoted\" \\ word\nнет 😀"
	created := time.Date(2026, 12, 5, 10, 11, 12, 123456000, time.UTC)
	exec(`INSERT INTO comments (id, video_id, user_id, parent_id, content, status, created_at, updated_at)
		VALUES (101, 7, 3, 0, ?, 'approved', ?, ?), (102, 8, 3, 0, 'other video', 'approved', ?, ?)`,
		content, created, created, created, created)
	c := row(101)
	if c.Version <= 0 {
		t.Fatalf("version %d after an INSERT without one", c.Version)
	}
	same("insert", last(101), c, comment.EventCreated)

	exec(`UPDATE comments SET status = 'rejected' WHERE id = 101`)
	same("reject", last(101), row(101), comment.EventRejected)
	exec(`UPDATE comments SET status = 'approved', content = 'better', edited_at = ? WHERE id = 101`, created.Add(time.Minute))
	same("approve and edit", last(101), row(101), comment.EventApproved)
	exec(`UPDATE comments SET content = 'best' WHERE id = 101`)
	same("edit", last(101), row(101), comment.EventEdited)

	// One statement, two videos: one event per row.
	before101, before102 := len(eventsOf(t, my, 101)), len(eventsOf(t, my, 102))
	exec(`UPDATE comments SET status = 'rejected' WHERE id IN (101, 102)`)
	if n, m := len(eventsOf(t, my, 101)), len(eventsOf(t, my, 102)); n != before101+1 || m != before102+1 {
		t.Errorf("multi-row update: %d and %d new events, want 1 each", n-before101, m-before102)
	}
	same("multi-row 101", last(101), row(101), comment.EventRejected)
	same("multi-row 102", last(102), row(102), comment.EventRejected)

	// A hard DELETE: "deleted" at version + 1, no content kept.
	gone := row(102)
	exec(`DELETE FROM comments WHERE id = 102`)
	want := gone
	want.Status, want.Content, want.Version = comment.Deleted, "", gone.Version+1
	same("hard delete", last(102), want, comment.EventDeleted)

	// Likes: a row that appears is +1, one that goes is −1; an INSERT IGNORE
	// that inserts nothing is no event.
	exec(`INSERT INTO comment_likes (comment_id, user_id, video_id, created_at) VALUES (101, 9, 7, NOW(6))`)
	exec(`INSERT IGNORE INTO comment_likes (comment_id, user_id, video_id, created_at) VALUES (101, 9, 7, NOW(6))`)
	exec(`DELETE FROM comment_likes WHERE comment_id = 101`)
	var deltas []int64
	for _, e := range eventsOf(t, my, 101) {
		if e.Type == comment.EventLike {
			if e.Like != (comment.Like{CommentID: 101, VideoID: 7, UserID: 9, Delta: e.Like.Delta}) {
				t.Errorf("like event %+v", e.Like)
			}
			deltas = append(deltas, e.Like.Delta)
		}
	}
	if len(deltas) != 2 || deltas[0] != 1 || deltas[1] != -1 {
		t.Errorf("like deltas %v, want [1 -1]", deltas)
	}

	// A pin by hand, moved by hand without a new version, removed by hand.
	exec(`INSERT INTO video_pins (video_id, comment_id, pinned_by, updated_at, version) VALUES (7, 101, 1, NOW(6), 5)`)
	exec(`UPDATE video_pins SET comment_id = 0 WHERE video_id = 7`)
	exec(`DELETE FROM video_pins WHERE video_id = 7`)
	var pins []comment.Pin
	for _, e := range eventsWhere(t, my, `event_type = 'pinned' AND video_id = 7`) {
		pins = append(pins, e.Pin)
	}
	if len(pins) != 3 || pins[0] != (comment.Pin{VideoID: 7, CommentID: 101, Version: 5}) ||
		pins[1].CommentID != 0 || pins[1].Version <= 5 || pins[2] != (comment.Pin{VideoID: 7, Version: pins[1].Version + 1}) {
		t.Errorf("pin events %+v", pins)
	}
}
