package main

// Content safety at write time (issue #18, writesvc/safety) through the
// whole post path against the real servers: a refused post is a 422 with
// its reason and leaves no row; a held one is stored pending, also under
// post-moderation, and the queue shows why; an allowed one is as before;
// an edit is checked too but never held. A classifier that hangs costs a
// post its timeout, then the configured fallback.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/httpapi"
	"github.com/vidcomments/vidcomments/writesvc/api"
	"github.com/vidcomments/vidcomments/writesvc/safety"
)

// queueOf returns video's moderation queue.
func (in *instance) queueOf(t *testing.T, video int64) map[int64]api.QueuedComment {
	t.Helper()
	r := in.do(t, req{method: "GET", path: fmt.Sprintf("/v1/mod/queue?video_id=%d", video), token: token(t, 9000, "moderator")})
	if r.code != http.StatusOK {
		t.Fatalf("queue: %s", r)
	}
	var page struct{ Comments []api.QueuedComment }
	r.decode(t, &page)
	out := map[int64]api.QueuedComment{}
	for _, c := range page.Comments {
		id, _ := comment.ParseID(c.ID)
		out[id] = c
	}
	return out
}

func acceptedStatus(t *testing.T, r response) (int64, comment.Status) {
	t.Helper()
	if r.code != http.StatusAccepted {
		t.Fatalf("post: %s, want 202", r)
	}
	var a api.Accepted
	r.decode(t, &a)
	id, err := comment.ParseID(a.ID)
	if err != nil {
		t.Fatal(err)
	}
	return id, a.Status
}

func TestContentSafety(t *testing.T) {
	st, in := startOnStack(t, func(c *Config) {
		c.Moderation = "post" // so that a hold (pending) differs from an allow (approved)
		c.SafetyBlockedWords = []string{"forbidden", "buy now"}
		c.SafetyPatterns = []string{`(?i)free\s+v-?bucks`}
		c.SafetyMaxLinks = 2
	})
	waitReady(t, in)
	const video, user = 41, 501
	content := func(s string) map[string]string { return map[string]string{"content": s} }

	refusals := []struct{ content, reason string }{
		{"this is FORBIDDEN here", "blocked_word"},
		{"Buy Now!", "blocked_word"},
		{"get free vbucks", "blocked_pattern"},
	}
	for _, tc := range refusals {
		r := in.post(t, user, video, content(tc.content))
		var e httpapi.ErrorBody
		r.decode(t, &e)
		if r.code != http.StatusUnprocessableEntity || e.Error.Code != "refused" || e.Error.Reason != tc.reason || e.Error.Message == "" {
			t.Errorf("post %q: %s, want 422 refused with reason %s", tc.content, r, tc.reason)
		}
		if n := st.count(t, `SELECT COUNT(*) FROM comments WHERE content = ?`, tc.content); n != 0 {
			t.Errorf("refused %q: %d rows stored", tc.content, n)
		}
	}
	if n := st.count(t, `SELECT COUNT(*) FROM outbox`); n != 0 {
		t.Errorf("refused posts left %d outbox rows", n)
	}

	// Allowed: approved at once, as before; the verdict is stored as allow.
	okID, status := acceptedStatus(t, in.post(t, user, video, content("forbiddenly good video")))
	if status != comment.Approved {
		t.Errorf("allowed post: %s, want approved", status)
	}
	// Held: pending although moderation is post, in the queue with its reason.
	linksID, status := acceptedStatus(t, in.post(t, user, video, content("see https://a.example https://b.example www.c.example")))
	if status != comment.Pending {
		t.Errorf("held post: %s, want pending", status)
	}
	repeatID, _ := acceptedStatus(t, in.post(t, user, video, content("no"+strings.Repeat("o", 60))))
	q := in.queueOf(t, video)
	if len(q) != 2 {
		t.Fatalf("queue %+v: want the two held comments", q)
	}
	for id, want := range map[int64]string{linksID: "too_many_links", repeatID: "repeated_chars"} {
		if s := q[id].Safety; s.Verdict != "hold" || s.Reason != want || s.Detail == "" {
			t.Errorf("comment %d in the queue: safety %+v, want hold/%s with a detail", id, s, want)
		}
	}
	if n := st.count(t, `SELECT COUNT(*) FROM comments WHERE id = ? AND safety_verdict = 'allow' AND safety_reason = ''`, okID); n != 1 {
		t.Errorf("the allowed comment's row does not say allow")
	}

	// The same content again by the same user on the same video: refused;
	// by another user, or on another video: allowed.
	r := in.post(t, user, video, content("forbiddenly good video"))
	if r.code != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), `"reason":"duplicate"`) {
		t.Errorf("duplicate: %s, want 422 refused/duplicate", r)
	}
	acceptedStatus(t, in.post(t, user+1, video, content("forbiddenly good video")))
	acceptedStatus(t, in.post(t, user, video+1, content("forbiddenly good video")))

	// An edit is checked too, but never held: content the rules would hold
	// or refuse is a 422 and the row keeps its content.
	edit := func(content string) response {
		return in.do(t, req{method: "PATCH", path: fmt.Sprintf("/v1/comments/%d", okID), token: token(t, user, "user"),
			body: map[string]string{"content": content}})
	}
	for content, reason := range map[string]string{"now forbidden": "blocked_word", "www.a.example www.b.example www.c.example": "too_many_links"} {
		if r := edit(content); r.code != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), `"reason":"`+reason+`"`) {
			t.Errorf("edit to %q: %s, want 422 refused/%s", content, r, reason)
		}
	}
	if c, _ := st.row(t, okID); c.Content != "forbiddenly good video" || c.Status != comment.Approved {
		t.Errorf("after refused edits the row is %+v", c)
	}
	if r := edit("a better comment"); r.code != http.StatusOK {
		t.Errorf("an allowed edit: %s", r)
	}

	// Approving a held comment works as for any pending one.
	if r := in.moderate(t, linksID, "approve", nil); r.code != http.StatusOK {
		t.Errorf("approve a held comment: %s", r)
	}

	for labels, want := range map[string]float64{
		`{reason="blocked_word",verdict="refuse"}`:    3,
		`{reason="blocked_pattern",verdict="refuse"}`: 1,
		`{reason="duplicate",verdict="refuse"}`:       1,
		`{reason="too_many_links",verdict="hold"}`:    2,
		`{reason="repeated_chars",verdict="hold"}`:    1,
		`{reason="none",verdict="allow"}`:             4,
	} {
		if got, _ := in.metric(t, "writesvc_safety_verdicts_total"+labels); got != want {
			t.Errorf("writesvc_safety_verdicts_total%s = %v, want %v", labels, got, want)
		}
	}
}

// hangingClassifier answers nothing until the caller gives up.
func hangingClassifier(t *testing.T) string {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	return srv.URL
}

func TestSafetyClassifierHangs(t *testing.T) {
	const timeout = 300 * time.Millisecond
	const slack = 400 * time.Millisecond // the post's own work around the wait
	for _, tc := range []struct {
		fail    string
		verdict string
		status  comment.Status
	}{
		{"open", "allow", comment.Approved},
		{"closed", "hold", comment.Pending},
	} {
		t.Run("fail "+tc.fail, func(t *testing.T) {
			url := hangingClassifier(t)
			st, in := startOnStack(t, func(c *Config) {
				c.Moderation = "post"
				c.SafetyClassifierURL = url + "/classify"
				c.SafetyClassifierTimeout = timeout
				c.SafetyClassifierFail = tc.fail
			})
			waitReady(t, in)
			start := time.Now()
			r := in.post(t, 601, 61, map[string]string{"content": "is anyone there?"})
			elapsed := time.Since(start)
			id, status := acceptedStatus(t, r)
			if status != tc.status {
				t.Errorf("status %s, want %s", status, tc.status)
			}
			if elapsed < timeout || elapsed > timeout+slack {
				t.Errorf("the post took %v, want the classifier's %v and at most %v more", elapsed, timeout, slack)
			}
			var verdict, reason string
			if err := st.my.DB.QueryRow(`SELECT safety_verdict, safety_reason FROM comments WHERE id = ?`, id).Scan(&verdict, &reason); err != nil {
				t.Fatal(err)
			}
			if verdict != tc.verdict || reason != "classifier_unavailable" {
				t.Errorf("stored %s/%s, want %s/classifier_unavailable", verdict, reason, tc.verdict)
			}
			if tc.verdict == "hold" {
				if s := in.queueOf(t, 61)[id].Safety; s.Reason != "classifier_unavailable" {
					t.Errorf("queue safety %+v", s)
				}
			}
			labels := fmt.Sprintf(`{reason="classifier_unavailable",verdict="%s"}`, tc.verdict)
			if got, _ := in.metric(t, "writesvc_safety_verdicts_total"+labels); got != 1 {
				t.Errorf("writesvc_safety_verdicts_total%s = %v, want 1", labels, got)
			}
		})
	}
}

// A classifier that answers: its refusal is a 422 with reason classifier,
// its hold is stored pending with its own words as the detail, its allow
// lets the post through as moderation says.
func TestSafetyClassifierVerdicts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in safety.ClassifierRequest
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.UserID != "701" || in.VideoID != "71" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.Contains(in.Content, "toxic"):
			_, _ = io.WriteString(w, `{"verdict":"refuse","reason":"toxicity 0.98"}`)
		case strings.Contains(in.Content, "unsure"):
			_, _ = io.WriteString(w, `{"verdict":"hold","reason":"borderline 0.61"}`)
		default:
			_, _ = io.WriteString(w, `{"verdict":"allow"}`)
		}
	}))
	t.Cleanup(srv.Close)
	st, in := startOnStack(t, func(c *Config) {
		c.Moderation = "post"
		c.SafetyClassifierURL = srv.URL
	})
	waitReady(t, in)
	post := func(s string) response { return in.post(t, 701, 71, map[string]string{"content": s}) }

	if r := post("something toxic"); r.code != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), `"reason":"classifier"`) {
		t.Errorf("classifier refusal: %s", r)
	}
	held, status := acceptedStatus(t, post("I am unsure about this"))
	if status != comment.Pending {
		t.Errorf("classifier hold: %s, want pending", status)
	}
	if s := in.queueOf(t, 71)[held].Safety; s != (api.SafetyView{Verdict: "hold", Reason: "classifier", Detail: "borderline 0.61"}) {
		t.Errorf("queue safety %+v", s)
	}
	if _, status := acceptedStatus(t, post("a kind word")); status != comment.Approved {
		t.Errorf("classifier allow: %s, want approved", status)
	}
	if n := st.count(t, `SELECT COUNT(*) FROM comments WHERE content = 'something toxic'`); n != 0 {
		t.Errorf("the refused post was stored (%d rows)", n)
	}
}
