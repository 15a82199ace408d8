package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/httpapi"
	"github.com/vidcomments/vidcomments/writesvc/safety"
	"github.com/vidcomments/vidcomments/writesvc/store"
)

// fixedSafety answers every check with v (or err) and remembers what it
// was asked.
type fixedSafety struct {
	v     safety.Verdict
	err   error
	asked []safety.Comment
}

func (f *fixedSafety) Check(_ context.Context, c safety.Comment) (safety.Verdict, error) {
	f.asked = append(f.asked, c)
	return f.v, f.err
}

// laterReplay is a store whose key lookup finds nothing at first and the
// first request's stored response after: a retry that raced its first try.
type laterReplay struct {
	fuzzStore
	lookups int
}

func (s *laterReplay) Idempotent(context.Context, int64, string) (store.Stored, bool, error) {
	s.lookups++
	if s.lookups == 1 {
		return store.Stored{}, false, nil
	}
	h := requestHash(5, 0, "hello")
	return store.Stored{RequestHash: h[:], Code: http.StatusAccepted, Body: []byte(`{"id":"1","status":"approved"}` + "\n")}, true, nil
}

func postHello(t *testing.T, h http.Handler, key string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("POST", "/v1/videos/5/comments", strings.NewReader(`{"content":"hello"}`))
	r.Header.Set("Authorization", "Bearer user")
	r.Header.Set("Content-Type", "application/json")
	if key != "" {
		r.Header.Set("Idempotency-Key", key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// The post path acts on the verdict: refuse answers 422 refused with the
// reason and stores nothing; hold stores the post pending even under
// post-moderation; allow stores it as moderation says; a failing check is
// a 503. The verdict goes into the store.
func TestPostActsOnTheVerdict(t *testing.T) {
	cases := []struct {
		name       string
		v          safety.Verdict
		err        error
		code       int
		wantStatus comment.Status // of the stored post; "" when nothing is stored
	}{
		{"allow", safety.Allowed, nil, http.StatusAccepted, comment.Approved},
		{"allow failing open", safety.Verdict{Action: safety.Allow, Reason: safety.ReasonClassifierUnavailable, Detail: "timeout"}, nil, http.StatusAccepted, comment.Approved},
		{"hold", safety.Verdict{Action: safety.Hold, Reason: safety.ReasonTooManyLinks, Detail: "6 links"}, nil, http.StatusAccepted, comment.Pending},
		{"refuse", safety.Verdict{Action: safety.Refuse, Reason: safety.ReasonBlockedWord, Detail: "spam"}, nil, http.StatusUnprocessableEntity, ""},
		{"refuse by the classifier", safety.Verdict{Action: safety.Refuse, Reason: safety.ReasonClassifier}, nil, http.StatusUnprocessableEntity, ""},
		{"the check fails", safety.Verdict{}, errors.New("mysql down"), http.StatusServiceUnavailable, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := &fuzzStore{}
			check := &fixedSafety{v: tc.v, err: tc.err}
			cfg := fuzzConfig
			cfg.Moderation, cfg.Safety = comment.Approved, check
			rec := postHello(t, newTestAPI(t, cfg, st).Handler(), "")
			if rec.Code != tc.code {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.code)
			}
			if len(check.asked) != 1 || check.asked[0] != (safety.Comment{UserID: 42, VideoID: 5, Content: "hello"}) {
				t.Errorf("the check was asked %+v", check.asked)
			}
			if tc.wantStatus == "" {
				if len(st.posts) != 0 {
					t.Errorf("stored %+v", st.posts)
				}
			} else {
				want := store.Safety{Verdict: string(tc.v.Action), Reason: tc.v.Reason, Detail: tc.v.Detail}
				if len(st.posts) != 1 || st.posts[0].Status != tc.wantStatus || st.posts[0].Safety != want {
					t.Errorf("stored %+v, want status %s and safety %+v", st.posts, tc.wantStatus, want)
				}
			}
			if tc.code == http.StatusUnprocessableEntity {
				var body httpapi.ErrorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code != "refused" ||
					body.Error.Reason != tc.v.Reason || body.Error.Message == "" {
					t.Errorf("refusal body %s", rec.Body)
				}
			}
		})
	}
}

// A retry refused as a duplicate of its own first try, which committed
// while the retry was being checked, is answered as a replay.
func TestRefusedRetryReplays(t *testing.T) {
	st := &laterReplay{}
	cfg := fuzzConfig
	cfg.Safety = &fixedSafety{v: safety.Verdict{Action: safety.Refuse, Reason: safety.ReasonDuplicate}}
	rec := postHello(t, newTestAPI(t, cfg, st).Handler(), "k1")
	if rec.Code != http.StatusAccepted || rec.Header().Get("Idempotent-Replayed") != "true" || len(st.posts) != 0 {
		t.Errorf("%d %s (replayed %q), stored %d; want the stored 202 replayed", rec.Code, rec.Body, rec.Header().Get("Idempotent-Replayed"), len(st.posts))
	}
}

// No checker configured: every post allowed, as before issue #18.
func TestPostWithoutSafety(t *testing.T) {
	st := &fuzzStore{}
	rec := postHello(t, newTestAPI(t, fuzzConfig, st).Handler(), "")
	if rec.Code != http.StatusAccepted || len(st.posts) != 1 || st.posts[0].Status != comment.Pending {
		t.Errorf("%d %s, stored %+v", rec.Code, rec.Body, st.posts)
	}
}

// editStore records edits.
type editStore struct {
	fuzzStore
	edits []store.Edit
}

func (s *editStore) Edit(_ context.Context, e store.Edit) (store.Changed, error) {
	s.edits = append(s.edits, e)
	return store.Changed{Comment: comment.Comment{ID: e.CommentID, Status: comment.Approved}, Changed: true}, nil
}

// An edit is checked like a post but never held: a hold refuses it (422),
// and a classifier outage failing closed is a 503 to retry, not a refusal.
func TestEditActsOnTheVerdict(t *testing.T) {
	cases := []struct {
		name   string
		v      safety.Verdict
		code   int
		reason string
	}{
		{"allow", safety.Allowed, http.StatusOK, ""},
		{"allow failing open", safety.Verdict{Action: safety.Allow, Reason: safety.ReasonClassifierUnavailable}, http.StatusOK, ""},
		{"refuse", safety.Verdict{Action: safety.Refuse, Reason: safety.ReasonBlockedWord}, http.StatusUnprocessableEntity, "blocked_word"},
		{"hold refuses an edit", safety.Verdict{Action: safety.Hold, Reason: safety.ReasonTooManyLinks}, http.StatusUnprocessableEntity, "too_many_links"},
		{"classifier outage failing closed", safety.Verdict{Action: safety.Hold, Reason: safety.ReasonClassifierUnavailable, Detail: "timeout"}, http.StatusServiceUnavailable, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := &editStore{}
			check := &fixedSafety{v: tc.v}
			cfg := fuzzConfig
			cfg.Safety = check
			r := httptest.NewRequest("PATCH", "/v1/comments/9", strings.NewReader(`{"content":"new words"}`))
			r.Header.Set("Authorization", "Bearer user")
			r.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			newTestAPI(t, cfg, st).Handler().ServeHTTP(rec, r)
			if rec.Code != tc.code {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.code)
			}
			if len(check.asked) != 1 || check.asked[0] != (safety.Comment{UserID: 42, CommentID: 9, Content: "new words"}) {
				t.Errorf("the check was asked %+v", check.asked)
			}
			if edited := len(st.edits) == 1; edited != (tc.code == http.StatusOK) {
				t.Errorf("edits stored: %+v", st.edits)
			}
			if tc.reason != "" && !strings.Contains(rec.Body.String(), `"reason":"`+tc.reason+`"`) {
				t.Errorf("body %s, want reason %s", rec.Body, tc.reason)
			}
		})
	}
}
