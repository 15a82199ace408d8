package main

// Issue #10 on the write path, against the real stack: likes (storms,
// idempotency), replies (flattening, reply_count), pins and edits.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/writesvc/api"
)

// approvedRoot posts a root comment and approves it.
func (in *instance) approvedRoot(t testing.TB, user, video int64, content string) int64 {
	t.Helper()
	id := in.mustPost(t, user, video, content)
	if r := in.moderate(t, id, "approve", nil); r.code != http.StatusOK {
		t.Fatalf("approve %d: %s", id, r)
	}
	return id
}

func (in *instance) like(t testing.TB, method string, user, id int64) response {
	t.Helper()
	return in.do(t, req{method: method, path: fmt.Sprintf("/v1/comments/%d/like", id), token: token(t, user, auth.RoleUser)})
}

// likeEvents sums the like events of comment id in the outbox: how many,
// and their deltas.
func (st *testStack) likeEvents(t testing.TB, id int64) (n int, sum int64) {
	t.Helper()
	rows, err := st.my.DB.Query(`SELECT payload FROM outbox WHERE event_type = 'like' AND comment_id = ?`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		e, err := comment.DecodeEvent(b)
		if err != nil || e.Type != comment.EventLike || e.Like.CommentID != id {
			t.Fatalf("like event %s: %v", b, err)
		}
		n++
		sum += e.Like.Delta
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return n, sum
}

// TestLikeStorm: 1,000 users like one comment at once through the HTTP API
// (clients retry 503 overloaded, as the in-flight limit asks them to):
// exactly 1,000 comment_likes rows and 1,000 +1 events, every one relayed
// to Kafka, and the comments row untouched (no hot row lock, no version
// bump). Then everyone likes again (nothing changes), and 1,000 unlike at
// once: no rows left, 1,000 −1 events.
func TestLikeStorm(t *testing.T) {
	st, in := startOnStack(t)
	topic := readTopic(t, st.kafka)
	const video, users = 10001, 1000
	target := in.approvedRoot(t, 1, video, "like me")
	before, _ := st.row(t, target)

	storm := func(method string) map[int]int {
		var mu sync.Mutex
		codes := map[int]int{}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for u := range users {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				r := in.like(t, method, int64(100000+u), target)
				// A client retries 503 overloaded (the API's in-flight
				// limit): PUT and DELETE are idempotent, so a retry is safe.
				for attempt := 1; r.code == http.StatusServiceUnavailable && r.errorCode() == "overloaded" && attempt < 50; attempt++ {
					time.Sleep(time.Duration(attempt) * 10 * time.Millisecond)
					r = in.like(t, method, int64(100000+u), target)
				}
				var res api.LikeResult
				if r.code == http.StatusOK {
					r.decode(t, &res)
					if res.CommentID != comment.FormatID(target) || res.Liked != (method == http.MethodPut) {
						t.Errorf("%s like: %s", method, r)
					}
				}
				mu.Lock()
				codes[r.code]++
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		return codes
	}
	tests := []struct {
		name       string
		method     string
		wantRows   int
		wantEvents int
		wantSum    int64
	}{
		{"1000 concurrent likes", http.MethodPut, users, users, users},
		{"the same likes again change nothing", http.MethodPut, users, users, users},
		{"1000 concurrent unlikes", http.MethodDelete, 0, 2 * users, 0},
		{"the same unlikes again change nothing", http.MethodDelete, 0, 2 * users, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if codes := storm(tt.method); codes[http.StatusOK] != users {
				t.Fatalf("status codes %v, want %d × 200", codes, users)
			}
			if n := st.count(t, `SELECT COUNT(*) FROM comment_likes WHERE comment_id = ?`, target); n != tt.wantRows {
				t.Errorf("%d comment_likes rows, want %d", n, tt.wantRows)
			}
			if n, sum := st.likeEvents(t, target); n != tt.wantEvents || sum != tt.wantSum {
				t.Errorf("%d like events summing to %d, want %d summing to %d", n, sum, tt.wantEvents, tt.wantSum)
			}
		})
	}
	if after, _ := st.row(t, target); after.Version != before.Version {
		t.Errorf("likes changed the comment row: version %d -> %d", before.Version, after.Version)
	}
	waitFor(t, 60*time.Second, "every like event on Kafka", func() bool {
		msgs, _ := topic.snapshot()
		n := 0
		for _, m := range msgs {
			if m.event.Type == comment.EventLike && m.event.Like.CommentID == target {
				if m.key != fmt.Sprint(video) {
					t.Fatalf("like event keyed %q, want the video %d", m.key, video)
				}
				n++
			}
		}
		return n == 2*users
	})
	if _, errs := topic.snapshot(); len(errs) > 0 {
		t.Errorf("undecodable messages: %v", errs)
	}
}

// TestLikeRules: one like per user, only approved comments, banned users
// cannot like but can unlike, and a like survives its comment being
// rejected and approved again (the count is the rows', not the row's).
func TestLikeRules(t *testing.T) {
	st, in := startOnStack(t)
	const video, alice, bob = 10101, 21, 22
	target := in.approvedRoot(t, alice, video, "target")
	pending := in.mustPost(t, alice, video, "pending")
	mod := token(t, 9000, auth.RoleModerator)

	steps := []struct {
		name       string
		method     string
		user, id   int64
		code       int
		wantRows   int
		wantEvents int
	}{
		{"alice likes", http.MethodPut, alice, target, 200, 1, 1},
		{"alice likes again", http.MethodPut, alice, target, 200, 1, 1},
		{"bob likes", http.MethodPut, bob, target, 200, 2, 2},
		{"bob unlikes", http.MethodDelete, bob, target, 200, 1, 3},
		{"bob unlikes again", http.MethodDelete, bob, target, 200, 1, 3},
		{"a pending comment cannot be liked", http.MethodPut, bob, pending, 404, 1, 3},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if r := in.like(t, s.method, s.user, s.id); r.code != s.code {
				t.Fatalf("%s", r)
			}
			if n := st.count(t, `SELECT COUNT(*) FROM comment_likes WHERE comment_id = ?`, target); n != s.wantRows {
				t.Errorf("%d rows, want %d", n, s.wantRows)
			}
			if n, _ := st.likeEvents(t, target); n != s.wantEvents {
				t.Errorf("%d events, want %d", n, s.wantEvents)
			}
		})
	}
	t.Run("banned users cannot like but can unlike", func(t *testing.T) {
		if r := in.do(t, req{method: "POST", path: fmt.Sprintf("/v1/mod/users/%d:ban", alice), token: mod}); r.code != 200 {
			t.Fatal(r)
		}
		if r := in.like(t, http.MethodPut, alice, target); r.code != http.StatusForbidden || r.errorCode() != "banned" {
			t.Errorf("banned like: %s", r)
		}
		if r := in.like(t, http.MethodDelete, alice, target); r.code != 200 {
			t.Errorf("banned unlike: %s", r)
		}
		if n := st.count(t, `SELECT COUNT(*) FROM comment_likes WHERE comment_id = ?`, target); n != 0 {
			t.Errorf("%d rows after the unlike", n)
		}
	})
	t.Run("a rejected comment cannot be liked", func(t *testing.T) {
		if r := in.moderate(t, target, "reject", map[string]string{"reason": "x"}); r.code != 200 {
			t.Fatal(r)
		}
		if r := in.like(t, http.MethodPut, bob, target); r.code != http.StatusNotFound {
			t.Errorf("like of a rejected comment: %s", r)
		}
	})
}

// TestReplies: a reply to a reply is stored under the root; the root's
// reply_count follows its replies' visibility through approve, reject,
// approve again and delete, each change with an "edited" event of the root;
// replies to pending, other-video or missing parents are refused.
func TestReplies(t *testing.T) {
	st, in := startOnStack(t)
	post := start(t, st.config(t, func(c *Config) { c.Moderation = "post" }), overrides{})
	const video, other = 10201, 10202
	root := in.approvedRoot(t, 31, video, "root")
	reply := func(in *instance, parent int64, video int64) response {
		return in.post(t, 32, video, map[string]string{"content": "re", "parent_id": comment.FormatID(parent)})
	}
	mustReply := func(in *instance, parent int64) int64 {
		t.Helper()
		r := reply(in, parent, video)
		if r.code != http.StatusAccepted {
			t.Fatalf("reply to %d: %s", parent, r)
		}
		var acc api.Accepted
		r.decode(t, &acc)
		id, _ := comment.ParseID(acc.ID)
		return id
	}
	first := mustReply(in, root)
	if r := reply(in, first, video); r.code != http.StatusUnprocessableEntity || r.errorCode() != "parent_not_approved" {
		t.Errorf("reply to a pending reply: %s", r)
	}
	if r := reply(in, root, other); r.code != http.StatusUnprocessableEntity || r.errorCode() != "parent_other_video" {
		t.Errorf("reply across videos: %s", r)
	}
	edits := func() int {
		return st.count(t, `SELECT COUNT(*) FROM outbox WHERE event_type = 'edited' AND comment_id = ?`, root)
	}
	var nested int64
	steps := []struct {
		name       string
		do         func(t *testing.T)
		wantCount  int64
		wantEdited int
	}{
		{"a pending reply does not count", func(t *testing.T) {}, 0, 0},
		{"approve it", func(t *testing.T) { in.moderate(t, first, "approve", nil) }, 1, 1},
		{"a reply to the reply hangs under the root", func(t *testing.T) {
			nested = mustReply(in, first)
			if c, _ := st.row(t, nested); c.ParentID != root {
				t.Errorf("nested reply's parent %d, want the root %d", c.ParentID, root)
			}
		}, 1, 1},
		{"approve the nested reply", func(t *testing.T) { in.moderate(t, nested, "approve", nil) }, 2, 2},
		{"reject the first", func(t *testing.T) { in.moderate(t, first, "reject", map[string]string{"reason": "no"}) }, 1, 3},
		{"reject it again: no change", func(t *testing.T) { in.moderate(t, first, "reject", map[string]string{"reason": "no"}) }, 1, 3},
		{"approve it again", func(t *testing.T) { in.moderate(t, first, "approve", nil) }, 2, 4},
		{"the author deletes the nested reply", func(t *testing.T) {
			if r := in.do(t, req{method: "DELETE", path: fmt.Sprintf("/v1/comments/%d", nested), token: token(t, 32, auth.RoleUser)}); r.code != 200 {
				t.Fatal(r)
			}
		}, 1, 5},
		{"post-moderation: a reply counts at once", func(t *testing.T) { mustReply(post, first) }, 2, 6},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.do(t)
			if c, _ := st.row(t, root); c.ReplyCount != s.wantCount {
				t.Errorf("reply_count %d, want %d", c.ReplyCount, s.wantCount)
			}
			if n := edits(); n != s.wantEdited {
				t.Errorf("%d edited events of the root, want %d", n, s.wantEdited)
			}
		})
	}
}

// TestPins: one pin per video, replaced by the next, unpinned; each change
// one "pinned" event with a growing version; repeating is a no-op.
func TestPins(t *testing.T) {
	st, in := startOnStack(t)
	const video = 10301
	a := in.approvedRoot(t, 41, video, "a")
	b := in.approvedRoot(t, 42, video, "b")
	mod := token(t, 9000, auth.RoleModerator)
	path := fmt.Sprintf("/v1/mod/videos/%d/pin", video)
	var lastVersion int64
	steps := []struct {
		name        string
		method      string
		id          int64 // 0: unpin
		wantChanged bool
		wantPinned  int64
		wantEvents  int
	}{
		{"pin a", http.MethodPut, a, true, a, 1},
		{"pin a again", http.MethodPut, a, false, a, 1},
		{"pin b replaces a", http.MethodPut, b, true, b, 2},
		{"unpin", http.MethodDelete, 0, true, 0, 3},
		{"unpin again", http.MethodDelete, 0, false, 0, 3},
		{"pin a once more", http.MethodPut, a, true, a, 4},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			rq := req{method: s.method, path: path, token: mod}
			if s.id != 0 {
				rq.body = map[string]string{"comment_id": comment.FormatID(s.id)}
			}
			r := in.do(t, rq)
			var res api.PinResult
			r.decode(t, &res)
			if r.code != 200 || res.Changed != s.wantChanged {
				t.Fatalf("%s", r)
			}
			if (s.wantPinned == 0) != (res.CommentID == nil) || (res.CommentID != nil && *res.CommentID != comment.FormatID(s.wantPinned)) {
				t.Errorf("response pins %v, want %d", res.CommentID, s.wantPinned)
			}
			var pinned, version int64
			if err := st.my.DB.QueryRow(`SELECT comment_id, version FROM video_pins WHERE video_id = ?`, video).Scan(&pinned, &version); err != nil {
				t.Fatal(err)
			}
			if pinned != s.wantPinned || fmt.Sprint(version) != res.Version {
				t.Errorf("video_pins (%d, %d), response version %s, want comment %d", pinned, version, res.Version, s.wantPinned)
			}
			if s.wantChanged && version <= lastVersion {
				t.Errorf("version %d did not grow past %d", version, lastVersion)
			}
			lastVersion = version
			var payload []byte
			n := st.count(t, `SELECT COUNT(*) FROM outbox WHERE event_type = 'pinned' AND video_id = ?`, video)
			if n != s.wantEvents {
				t.Fatalf("%d pinned events, want %d", n, s.wantEvents)
			}
			if err := st.my.DB.QueryRow(`SELECT payload FROM outbox WHERE event_type = 'pinned' AND video_id = ? ORDER BY id DESC LIMIT 1`, video).Scan(&payload); err != nil {
				t.Fatal(err)
			}
			e, err := comment.DecodeEvent(payload)
			if err != nil || e.Pin != (comment.Pin{VideoID: video, CommentID: s.wantPinned, Version: version}) {
				t.Errorf("last pinned event %+v (%v), want comment %d version %d", e.Pin, err, s.wantPinned, version)
			}
		})
	}
}

// TestEdits: the author edits within the window: content replaced, version
// bumped, edited_at set, status unchanged, an "edited" event with the row;
// the same content again is a no-op; after the window 409.
func TestEdits(t *testing.T) {
	st, in := startOnStack(t)
	const video, author = 10401, 51
	approved := in.approvedRoot(t, author, video, "typo")
	pending := in.mustPost(t, author, video, "pending typo")
	edit := func(id int64, content string) response {
		return in.do(t, req{method: "PATCH", path: fmt.Sprintf("/v1/comments/%d", id), token: token(t, author, auth.RoleUser),
			body: map[string]string{"content": content}})
	}
	tests := []struct {
		name    string
		id      int64
		content string
		status  comment.Status
	}{
		{"approved", approved, "fixed  e\u0301", comment.Approved},
		{"pending", pending, "pending fixed", comment.Pending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := st.row(t, tt.id)
			r := edit(tt.id, tt.content)
			var res api.EditResult
			r.decode(t, &res)
			if r.code != 200 || !res.Changed || res.Status != tt.status || res.EditedAt == "" {
				t.Fatalf("edit: %s", r)
			}
			after, _ := st.row(t, tt.id)
			want := tt.content
			if tt.id == approved {
				want = "fixed  \u00e9" // normalised like a post
			}
			if after.Content != want || after.Status != tt.status || after.Version <= before.Version {
				t.Errorf("row after edit %+v (version was %d)", after, before.Version)
			}
			var payload []byte
			if err := st.my.DB.QueryRow(`SELECT payload FROM outbox WHERE event_type = 'edited' AND comment_id = ? AND version = ?`, tt.id, after.Version).Scan(&payload); err != nil {
				t.Fatalf("edited event of version %d: %v", after.Version, err)
			}
			e, err := comment.DecodeEvent(payload)
			if err != nil || e.Comment.Content != want || e.Comment.EditedAt.IsZero() || comment.FormatTime(e.Comment.EditedAt) != res.EditedAt {
				t.Errorf("edited event %+v: %v", e.Comment, err)
			}
			pub, _ := json.Marshal(e.Comment.Public())
			if want := `"edited_at":"` + res.EditedAt + `"`; !json.Valid(pub) || !strings.Contains(string(pub), want) {
				t.Errorf("public view %s lacks %s", pub, want)
			}
			// The same content again: nothing changes.
			r = edit(tt.id, tt.content)
			res = api.EditResult{}
			r.decode(t, &res)
			if again, _ := st.row(t, tt.id); r.code != 200 || res.Changed || again.Version != after.Version {
				t.Errorf("repeated edit: %s, version %d -> %d", r, after.Version, again.Version)
			}
		})
	}
	t.Run("after the window", func(t *testing.T) {
		if _, err := st.my.DB.Exec(`UPDATE comments SET created_at = created_at - INTERVAL 6 MINUTE WHERE id = ?`, approved); err != nil {
			t.Fatal(err)
		}
		before, _ := st.row(t, approved)
		if r := edit(approved, "too late"); r.code != http.StatusConflict || r.errorCode() != "edit_window_closed" {
			t.Errorf("late edit: %s", r)
		}
		if after, _ := st.row(t, approved); after.Content != before.Content || after.Version != before.Version {
			t.Errorf("a refused edit changed the row")
		}
	})
}
