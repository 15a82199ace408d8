package main

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/stacktest"
	"github.com/vidcomments/vidcomments/writesvc/api"
)

// Every endpoint's happy path under pre-moderation, against the real
// stack, down to the events on Kafka: each change's version is in the
// topic, keyed by video, equal to the row's version in MySQL, in order.
func TestHappyPathsPreModeration(t *testing.T) {
	st, in := startOnStack(t)
	topic := readTopic(t, st.kafka)
	mod := token(t, 9000, auth.RoleModerator)
	const video, otherVideo, alice, bob = 7001, 7002, 11, 12

	// Post: 202 pending, row in MySQL, "created" on Kafka.
	r := in.post(t, alice, video, map[string]string{"content": "  first! e\u0301  "})
	if r.code != http.StatusAccepted {
		t.Fatalf("post: %s", r)
	}
	var acc api.Accepted
	r.decode(t, &acc)
	root, _ := comment.ParseID(acc.ID)
	if acc.Status != comment.Pending {
		t.Errorf("status %q, want pending", acc.Status)
	}
	row, _ := st.row(t, root)
	if row.Content != "first! \u00e9" || row.Status != comment.Pending || row.UserID != alice || row.VideoID != video {
		t.Errorf("row %+v", row)
	}
	if comment.IDTime(root).Before(time.Now().Add(-time.Minute)) || comment.IDTime(root).After(time.Now().Add(time.Second)) {
		t.Errorf("id %d is not time-ordered from now: %v", root, comment.IDTime(root))
	}

	// Approve the root (replies need an approved parent).
	before, _ := st.row(t, root)
	var res api.ActionResult
	r = in.moderate(t, root, "approve", nil)
	r.decode(t, &res)
	if r.code != http.StatusOK || !res.Changed || res.Comment.Status != comment.Approved {
		t.Fatalf("approve: %s", r)
	}
	if approved, _ := st.row(t, root); approved.Version <= before.Version || res.Comment.Version != fmt.Sprint(approved.Version) {
		t.Errorf("version %d -> %d (response says %s)", before.Version, approved.Version, res.Comment.Version)
	}

	// Bob's own root comment, his reply to Alice's, a comment on another video.
	bobs := in.mustPost(t, bob, video, "bob's own")
	r = in.post(t, bob, video, map[string]string{"content": "reply", "parent_id": acc.ID})
	if r.code != http.StatusAccepted {
		t.Fatalf("reply: %s", r)
	}
	r.decode(t, &acc)
	reply, _ := comment.ParseID(acc.ID)
	other := in.mustPost(t, alice, otherVideo, "elsewhere")

	// Queue: oldest first, paged, and by video.
	var page api.QueuePage
	var seen []string
	cursor := ""
	for {
		r = in.do(t, req{method: "GET", path: "/v1/mod/queue?limit=2&cursor=" + cursor, token: mod})
		if r.code != http.StatusOK {
			t.Fatalf("queue: %s", r)
		}
		page = api.QueuePage{}
		r.decode(t, &page)
		for _, c := range page.Comments {
			seen = append(seen, c.ID)
			if c.Status != comment.Pending || c.Version == "" {
				t.Errorf("queue entry %+v", c)
			}
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	want := []string{comment.FormatID(bobs), comment.FormatID(reply), comment.FormatID(other)}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("queue pages %v, want %v (oldest first)", seen, want)
	}
	r = in.do(t, req{method: "GET", path: fmt.Sprintf("/v1/mod/queue?video_id=%d", otherVideo), token: mod})
	page = api.QueuePage{}
	r.decode(t, &page)
	if len(page.Comments) != 1 || page.Comments[0].ID != comment.FormatID(other) || page.NextCursor != "" {
		t.Errorf("queue of video %d: %s", otherVideo, r)
	}

	// Approve the reply: the parent's reply_count moves, with its own
	// version and "edited" event.
	after, _ := st.row(t, root)
	if r = in.moderate(t, reply, "approve", nil); r.code != http.StatusOK {
		t.Fatalf("approve reply: %s", r)
	}
	if p, _ := st.row(t, root); p.ReplyCount != 1 || p.Version <= after.Version {
		t.Errorf("parent after an approved reply: reply_count %d version %d (was %d)", p.ReplyCount, p.Version, after.Version)
	}
	// Approving again is a no-op: 200, unchanged, no new version.
	again, _ := st.row(t, root)
	r = in.moderate(t, root, "approve", map[string]string{})
	res = api.ActionResult{}
	r.decode(t, &res)
	if r.code != http.StatusOK || res.Changed {
		t.Errorf("second approve: %s", r)
	}
	if now, _ := st.row(t, root); now.Version != again.Version {
		t.Errorf("a no-op moved the version %d -> %d", again.Version, now.Version)
	}

	// Reject with a reason; the reply leaves the parent's count.
	r = in.moderate(t, reply, "reject", map[string]string{"reason": "  off topic "})
	if r.code != http.StatusOK {
		t.Fatalf("reject: %s", r)
	}
	rej, reason := st.row(t, reply)
	if rej.Status != comment.Rejected || reason == nil || *reason != "off topic" {
		t.Errorf("rejected row %+v reason %v", rej, reason)
	}
	if p, _ := st.row(t, root); p.ReplyCount != 0 {
		t.Errorf("parent reply_count %d after its reply was rejected", p.ReplyCount)
	}

	// Moderator delete, author delete, and a deleted comment stays deleted.
	if r = in.moderate(t, other, "delete", nil); r.code != http.StatusOK {
		t.Fatalf("moderator delete: %s", r)
	}
	r = in.do(t, req{method: "DELETE", path: fmt.Sprintf("/v1/comments/%d", bobs), token: token(t, bob, auth.RoleUser)})
	if r.code != http.StatusOK {
		t.Fatalf("author delete: %s", r)
	}
	r.decode(t, &acc)
	if acc.Status != comment.Deleted {
		t.Errorf("author delete answered %s", r)
	}
	if r = in.moderate(t, bobs, "approve", nil); r.code != http.StatusConflict || r.errorCode() != "invalid_transition" {
		t.Errorf("approve a deleted comment: %s, want 409 invalid_transition", r)
	}
	var logged int
	if logged = st.count(t, `SELECT COUNT(*) FROM moderation_log`); logged != 5 {
		t.Errorf("moderation_log holds %d entries, want 5", logged)
	}

	// Batch: per-id results, the request itself 200.
	b1, b2 := in.mustPost(t, alice, video, "batch one"), in.mustPost(t, alice, video, "batch two")
	r = in.do(t, req{method: "POST", path: "/v1/mod/comments:batch", token: mod, body: map[string]any{
		"action": "approve", "ids": []any{comment.FormatID(b1), comment.FormatID(b2), "999999", "x1", comment.FormatID(bobs)},
	}})
	var br api.BatchResult
	r.decode(t, &br)
	if r.code != http.StatusOK || br.Succeeded != 2 || br.Failed != 3 || len(br.Results) != 5 {
		t.Fatalf("batch: %s", r)
	}
	for i, wantCode := range []string{"", "", "comment_not_found", "invalid_comment_id", "invalid_transition"} {
		got := br.Results[i]
		if (wantCode == "") != got.OK || (got.Error != nil && got.Error.Code != wantCode) {
			t.Errorf("batch item %d: %+v, want %q", i, got, wantCode)
		}
	}
	for _, id := range []int64{b1, b2} {
		if c, _ := st.row(t, id); c.Status != comment.Approved {
			t.Errorf("batch left %d %s", id, c.Status)
		}
	}

	// Ban and unban.
	r = in.do(t, req{method: "POST", path: fmt.Sprintf("/v1/mod/users/%d:ban", alice), token: mod, body: map[string]any{"reason": "spam", "duration_seconds": 3600}})
	var ban api.BanStatus
	r.decode(t, &ban)
	if r.code != http.StatusOK || !ban.Banned || ban.ExpiresAt == nil || ban.Reason != "spam" {
		t.Fatalf("ban: %s", r)
	}
	if r = in.post(t, alice, video, map[string]string{"content": "still here?"}); r.code != http.StatusForbidden || r.errorCode() != "banned" {
		t.Errorf("banned user's post: %s, want 403 banned", r)
	}
	r = in.do(t, req{method: "POST", path: fmt.Sprintf("/v1/mod/users/%d:unban", alice), token: mod})
	if r.code != http.StatusOK {
		t.Fatalf("unban: %s", r)
	}
	in.mustPost(t, alice, video, "back again")

	// Kafka: every version in the outbox is on the topic, with equal payload
	// version and row version for the last change of each comment.
	want = nil
	versions := st.outboxVersions(t)
	msgs := topic.waitVersions(t, versions, 30*time.Second)
	t.Logf("%d versions in the outbox, %d messages on the topic", len(versions), len(msgs))
	// 7 posts; 7 status changes (approve ×2, reject, delete ×2, batch
	// approve ×2); 2 reply_count edits of the root.
	if len(versions) != 16 {
		t.Errorf("%d versions in the outbox, want 16", len(versions))
	}
	types := map[comment.EventType]int{}
	for _, m := range msgs {
		types[m.event.Type]++
	}
	for _, typ := range []comment.EventType{comment.EventCreated, comment.EventApproved, comment.EventRejected, comment.EventDeleted, comment.EventEdited} {
		if types[typ] == 0 {
			t.Errorf("no %s event on the topic (saw %v)", typ, types)
		}
	}
	latest := map[int64]comment.Event{}
	for _, m := range msgs {
		if m.event.Version > latest[m.event.Comment.ID].Version {
			latest[m.event.Comment.ID] = m.event
		}
	}
	for id, e := range latest {
		row, _ := st.row(t, id)
		if e.Version != row.Version || e.Comment.Status != row.Status || e.Comment.ReplyCount != row.ReplyCount {
			t.Errorf("comment %d: last event v%d %s replies %d, row v%d %s replies %d", id, e.Version, e.Comment.Status, e.Comment.ReplyCount, row.Version, row.Status, row.ReplyCount)
		}
	}
	// The relay marks a row sent after Kafka acknowledged it: the topic can
	// show a message a moment before its row is marked.
	stacktest.Eventually(t, 10*time.Second, "every outbox row marked sent", func() bool {
		return st.count(t, `SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL`) == 0
	})
}

// Post-moderation approves at once, and an approved reply counts on its
// parent in the same transaction.
func TestPostModerationApprovesAtOnce(t *testing.T) {
	st, in := startOnStack(t, func(c *Config) { c.Moderation = "post" })
	r := in.post(t, 21, 8001, map[string]string{"content": "hello"})
	var acc api.Accepted
	r.decode(t, &acc)
	if r.code != http.StatusAccepted || acc.Status != comment.Approved {
		t.Fatalf("post: %s", r)
	}
	r = in.post(t, 22, 8001, map[string]string{"content": "hi back", "parent_id": acc.ID})
	if r.code != http.StatusAccepted {
		t.Fatalf("reply: %s", r)
	}
	id, _ := comment.ParseID(acc.ID)
	if row, _ := st.row(t, id); row.ReplyCount != 1 {
		t.Errorf("parent reply_count %d, want 1", row.ReplyCount)
	}
	if n := st.count(t, `SELECT COUNT(*) FROM outbox WHERE event_type = 'edited' AND comment_id = ?`, id); n != 1 {
		t.Errorf("%d edited events for the parent, want 1", n)
	}
}

// Idempotency-Key: the same key and request replays the first response
// byte for byte — also after the comment was approved, and under a race;
// the same key with another request is a 409; keys are per user.
func TestIdempotencyKey(t *testing.T) {
	st, in := startOnStack(t)
	const user, video = 31, 9001
	post := func(key string, user int64, body any) response {
		return in.do(t, req{method: "POST", path: fmt.Sprintf("/v1/videos/%d/comments", video), token: token(t, user, auth.RoleUser),
			body: body, header: map[string]string{"Idempotency-Key": key}})
	}
	first := post("k-1", user, map[string]string{"content": "once"})
	if first.code != http.StatusAccepted || first.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: %s", first)
	}
	var acc api.Accepted
	first.decode(t, &acc)
	id, _ := comment.ParseID(acc.ID)
	if r := in.moderate(t, id, "approve", nil); r.code != http.StatusOK {
		t.Fatal(r)
	}
	// Same request spelled differently (white space, NFD): the same request.
	again := post("k-1", user, `{"content":" once\n"}`)
	if again.code != http.StatusAccepted || string(again.body) != string(first.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: %s (first %s)", again, first)
	}
	if r := post("k-1", user, map[string]string{"content": "twice"}); r.code != http.StatusConflict || r.errorCode() != "idempotency_key_reused" {
		t.Errorf("same key, other body: %s", r)
	}
	if r := in.do(t, req{method: "POST", path: fmt.Sprintf("/v1/videos/%d/comments", video+1), token: token(t, user, auth.RoleUser),
		body: map[string]string{"content": "once"}, header: map[string]string{"Idempotency-Key": "k-1"}}); r.code != http.StatusConflict {
		t.Errorf("same key, other video: %s", r)
	}
	if r := post("k-1", user+1, map[string]string{"content": "once"}); r.code != http.StatusAccepted || string(r.body) == string(first.body) {
		t.Errorf("another user's k-1 is their own: %s", r)
	}

	// 16 concurrent requests with one new key: one comment, one answer.
	var wg sync.WaitGroup
	bodies := make([]response, 16)
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bodies[i] = post("race", user, map[string]string{"content": "racing"})
		}()
	}
	wg.Wait()
	for _, b := range bodies {
		if b.code != http.StatusAccepted || string(b.body) != string(bodies[0].body) {
			t.Errorf("racing request answered %s, another %s", b, bodies[0])
		}
	}
	if n := st.count(t, `SELECT COUNT(*) FROM comments WHERE user_id = ? AND idempotency_key = 'race'`, user); n != 1 {
		t.Errorf("%d comments for one key", n)
	}
	if n := st.count(t, `SELECT COUNT(*) FROM comments WHERE user_id = ?`, user); n != 2 {
		t.Errorf("user has %d comments, want 2", n)
	}
}
