package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/stacktest"
)

// seqIDs hands out ids from a list, then counts up from 1_000_000.
type seqIDs struct {
	mu    sync.Mutex
	first []int64
	next  atomic.Int64
}

func (s *seqIDs) NextID() (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.first) > 0 {
		id := s.first[0]
		s.first = s.first[1:]
		return id, nil
	}
	return 1_000_000 + s.next.Add(1), nil
}

func TestNext(t *testing.T) {
	const no = "409"
	want := map[comment.Status]map[Action]string{
		comment.Pending:  {Approve: "approved", Reject: "rejected", Delete: "deleted"},
		comment.Approved: {Approve: "=", Reject: "rejected", Delete: "deleted"},
		comment.Rejected: {Approve: "approved", Reject: "=", Delete: "deleted"},
		comment.Deleted:  {Approve: no, Reject: no, Delete: "="},
	}
	for from, row := range want {
		for a, w := range row {
			to, changed, err := Next(from, a)
			var got string
			switch {
			case errors.Is(err, ErrInvalidTransition):
				got = no
			case err != nil:
				got = err.Error()
			case !changed:
				got = "="
				if to != from {
					got = "no-op to " + string(to)
				}
			default:
				got = string(to)
			}
			if got != w {
				t.Errorf("%s on %s = %s, want %s", a, from, got, w)
			}
		}
	}
}

func eventsOf(t *testing.T, my *stacktest.MySQL, id int64) []comment.Event {
	t.Helper()
	return eventsWhere(t, my, `comment_id = ?`, id)
}

// eventsWhere decodes the outbox rows matching where, in outbox order.
func eventsWhere(t *testing.T, my *stacktest.MySQL, where string, args ...any) []comment.Event {
	t.Helper()
	rows, err := my.DB.Query(`SELECT payload FROM outbox WHERE `+where+` ORDER BY id`, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []comment.Event
	for rows.Next() {
		var p []byte
		if err := rows.Scan(&p); err != nil {
			t.Fatal(err)
		}
		e, err := comment.DecodeEvent(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// Concurrent moderation of many replies to one parent: every change is
// serialised on its row, the parent's reply_count ends exact, and each
// comment's events in outbox order have strictly increasing versions, the
// last equal to the row's.
func TestConcurrentChangesKeepCountsAndVersionOrder(t *testing.T) {
	my := stacktest.NewMySQL(t)
	s := New(my.DB, &seqIDs{})
	ctx := context.Background()
	parent, err := s.Create(ctx, Post{VideoID: 1, UserID: 1, Content: "parent", Status: comment.Approved})
	if err != nil {
		t.Fatal(err)
	}
	var replies []int64
	for i := range 20 {
		c, err := s.Create(ctx, Post{VideoID: 1, UserID: int64(2 + i), ParentID: parent.Comment.ID, Content: "reply", Status: comment.Pending})
		if err != nil {
			t.Fatal(err)
		}
		replies = append(replies, c.Comment.ID)
	}
	run := func(ids []int64, a Action) {
		var wg sync.WaitGroup
		for _, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.Transition(ctx, Change{CommentID: id, Action: a, ActorID: 99, ActorRole: "moderator", Reason: "r"}); err != nil {
					t.Errorf("%s %d: %v", a, id, err)
				}
			}()
		}
		wg.Wait()
	}
	run(replies, Approve)
	run(replies[:8], Reject)
	run(replies[8:10], Delete)
	run(replies[8:10], Delete) // no-ops

	p, err := s.Get(ctx, parent.Comment.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.ReplyCount != 10 {
		t.Errorf("parent reply_count %d, want 10", p.ReplyCount)
	}
	for _, id := range append([]int64{parent.Comment.ID}, replies...) {
		events := eventsOf(t, my, id)
		row, _ := s.Get(ctx, id)
		for i := 1; i < len(events); i++ {
			if events[i].Version <= events[i-1].Version {
				t.Errorf("comment %d: version %d after %d in outbox order", id, events[i].Version, events[i-1].Version)
			}
		}
		if last := events[len(events)-1]; last.Version != row.Version || last.Comment.Status != row.Status || last.Comment.ReplyCount != row.ReplyCount {
			t.Errorf("comment %d: last event %+v, row %+v", id, last.Comment, row)
		}
	}
	// The parent's edited events walk its count one step at a time.
	var counts []int64
	for _, e := range eventsOf(t, my, parent.Comment.ID)[1:] {
		counts = append(counts, e.Comment.ReplyCount)
	}
	if len(counts) != 30 || counts[19] != 20 || counts[29] != 10 {
		t.Errorf("parent reply counts over its events: %v", counts)
	}
}

// A transaction that fails half-way leaves nothing: no comment, no outbox
// row, no idempotency record.
func TestFailedCreateWritesNothing(t *testing.T) {
	my := stacktest.NewMySQL(t)
	s := New(my.DB, &seqIDs{})
	tooBig := func(comment.Comment) (int, []byte) { return 202, bytes.Repeat([]byte("x"), 5000) } // body column is VARBINARY(1024)
	_, err := s.Create(context.Background(), Post{VideoID: 1, UserID: 1, Content: "x", Status: comment.Pending,
		IdempotencyKey: "k", Response: tooBig})
	if err == nil {
		t.Fatal("a response too big for its column was stored")
	}
	for _, table := range []string{"comments", "outbox", "idempotency_responses"} {
		var n int
		if err := my.DB.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s holds %d rows after a failed transaction", table, n)
		}
	}
}

// An id that already exists (a node reused across skewed clocks) is
// retried with a fresh one, not reported.
func TestCreateRetriesACollidingID(t *testing.T) {
	my := stacktest.NewMySQL(t)
	ids := &seqIDs{first: []int64{42, 42}}
	s := New(my.DB, ids)
	ctx := context.Background()
	a, err := s.Create(ctx, Post{VideoID: 1, UserID: 1, Content: "first", Status: comment.Pending})
	if err != nil || a.Comment.ID != 42 {
		t.Fatalf("first: %+v %v", a, err)
	}
	b, err := s.Create(ctx, Post{VideoID: 1, UserID: 1, Content: "second", Status: comment.Pending})
	if err != nil || b.Comment.ID == 42 {
		t.Fatalf("second: %+v %v", b, err)
	}
}

// Idempotent creates: the stored response comes back for the same
// request, another request under the key is refused.
func TestCreateIdempotency(t *testing.T) {
	my := stacktest.NewMySQL(t)
	s := New(my.DB, &seqIDs{})
	ctx := context.Background()
	render := func(c comment.Comment) (int, []byte) {
		b, _ := json.Marshal(map[string]any{"id": fmt.Sprint(c.ID), "status": c.Status})
		return 202, b
	}
	p := Post{VideoID: 1, UserID: 1, Content: "x", Status: comment.Pending, IdempotencyKey: "k", RequestHash: [32]byte{1}, Response: render}
	first, err := s.Create(ctx, p)
	if err != nil || first.Replayed {
		t.Fatalf("first: %+v %v", first, err)
	}
	again, err := s.Create(ctx, p) // skips the API's pre-check: the unique key catches it
	if err != nil || !again.Replayed || !bytes.Equal(again.Body, first.Body) || again.Code != 202 {
		t.Fatalf("again: %+v %v", again, err)
	}
	p.RequestHash = [32]byte{2}
	if _, err := s.Create(ctx, p); !errors.Is(err, ErrIdempotencyConflict) {
		t.Fatalf("other request: %v", err)
	}
}
