package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/httpapi"
	"github.com/vidcomments/vidcomments/writesvc/store"
	"github.com/vidcomments/vidcomments/writesvc/validate"
)

const fuzzMaxRunes = 1000

// fuzzConfig is the Config of the fuzzed API.
var fuzzConfig = Config{Moderation: comment.Pending, MaxRunes: fuzzMaxRunes, RequestTimeout: time.Minute}

func newFuzzAPI(f *testing.F) (*API, *fuzzStore) {
	st := &fuzzStore{}
	return newTestAPI(f, fuzzConfig, st), st
}

// serveFuzz sends one request and checks what every answer of this API
// must be: no 5xx (the store never fails), a JSON body, and for an error
// the shared {"error":{"code","message"}} with a non-empty code.
func serveFuzz(t *testing.T, h http.Handler, method, path, token, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://writesvc"+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil // not a request a client could send
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	out, _ := io.ReadAll(rec.Body)
	if rec.Code >= 500 {
		t.Fatalf("%s %q (%q) with %q: %d %s", method, path, contentType, body, rec.Code, out)
	}
	if rec.Code >= 400 {
		var e httpapi.ErrorBody
		d := json.NewDecoder(bytes.NewReader(out))
		d.DisallowUnknownFields()
		if err := d.Decode(&e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
			t.Fatalf("%s %q with %q: %d, not the JSON error body: %s", method, path, body, rec.Code, out)
		}
	} else if !json.Valid(out) {
		t.Fatalf("%s %q with %q: %d, not JSON: %s", method, path, body, rec.Code, out)
	}
	return rec.Code, out
}

// FuzzPostComment: any body, content type and Idempotency-Key sent to POST
// /v1/videos/{id}/comments is refused with a 4xx JSON error, or accepted
// (202) with exactly the content encoding/json reads from the body,
// normalised by validate.Content — the decoder never invents, drops or
// half-reads a field.
func FuzzPostComment(f *testing.F) {
	for _, s := range []struct{ body, ct, key string }{
		{`{"content":"hello"}`, "application/json", ""},
		{`{"content":"hi","parent_id":"12"}`, "application/json; charset=utf-8", "k-1"},
		{`{"content":"<script>alert(1)</script> \u202e \ud83d\ude00"}`, "application/json", ""},
		{`{"content":"a","content":"b"}`, "application/json", ""},
		{`{"Content":"a"}`, "application/json", ""},
		{`{"content":null}`, "application/json", ""},
		{`{"content":"x","parent_id":12}`, "application/json", ""},
		{`{"content":"\ud800"}`, "application/json", ""},
		{`{"content":"x"} {}`, "application/json", ""},
		{`{"content":"x","parent_id":"0"}`, "text/plain", ""},
		{`{"content":"` + strings.Repeat("é", 1001) + `"}`, "application/json", ""},
		{`{"content":"x"}`, "application/json", strings.Repeat("k", 300)},
		{"\xff", "application/json", ""},
	} {
		f.Add([]byte(s.body), s.ct, s.key)
	}
	a, st := newFuzzAPI(f)
	h := a.Handler()
	f.Fuzz(func(t *testing.T, body []byte, contentType, key string) {
		st.reset()
		req, err := http.NewRequest(http.MethodPost, "http://writesvc/v1/videos/5/comments", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer user")
		req.Header.Set("Content-Type", contentType)
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusAccepted, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		default:
			t.Fatalf("%q (%q, key %q): %d %s", body, contentType, key, rec.Code, rec.Body)
		}
		if rec.Code != http.StatusAccepted {
			var e httpapi.ErrorBody
			if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error.Code == "" {
				t.Fatalf("%q: %d, not the JSON error body: %s", body, rec.Code, rec.Body)
			}
			if len(st.posts) != 0 {
				t.Fatalf("%q: refused with %d but stored", body, rec.Code)
			}
			return
		}
		if len(st.posts) != 1 {
			t.Fatalf("%q: 202 with %d posts stored", body, len(st.posts))
		}
		p := st.posts[0]
		var parsed struct {
			Content  *string `json:"content"`
			ParentID *string `json:"parent_id"`
		}
		if err := json.Unmarshal(body, &parsed); err != nil || parsed.Content == nil {
			t.Fatalf("accepted %q, which encoding/json reads as %+v (%v)", body, parsed, err)
		}
		want, err := validate.Content(*parsed.Content, fuzzMaxRunes)
		if err != nil || p.Content != want || p.VideoID != 5 || p.UserID != 42 || p.Status != comment.Pending || p.IdempotencyKey != key {
			t.Fatalf("accepted %q as %+v; want content %q (%v)", body, p, want, err)
		}
		wantParent := int64(0)
		if parsed.ParentID != nil {
			if wantParent, err = comment.ParseID(*parsed.ParentID); err != nil {
				t.Fatalf("accepted %q with parent_id %q: %v", body, *parsed.ParentID, err)
			}
		}
		if p.ParentID != wantParent {
			t.Fatalf("accepted %q with parent %d, want %d", body, p.ParentID, wantParent)
		}
		if key != "" && validate.IdempotencyKey(key) != nil {
			t.Fatalf("accepted the Idempotency-Key %q", key)
		}
	})
}

// FuzzModerationRequest: the moderation routes that take a body or a query
// (approve/reject/delete with {"reason"}, the batch, ban/unban, the queue)
// answer any input with a 4xx JSON error or a 2xx, and what reaches the
// store is always within the documented bounds.
func FuzzModerationRequest(f *testing.F) {
	for _, s := range []struct {
		route      uint8
		seg, query string
		body       string
	}{
		{0, "12:approve", "", ``},
		{0, "12:reject", "", `{"reason":"spam"}`},
		{0, "12%3Areject", "", `{"reason":""}`},
		{0, "12:delete", "", `{"reason":"x","reason":"y"}`},
		{0, "0:approve", "", ``},
		{0, "12:frobnicate", "", ``},
		{1, "", "", `{"action":"approve","ids":["1","2"]}`},
		{1, "", "", `{"action":"reject","ids":["1",2,"1"],"reason":"r"}`},
		{1, "", "", `{"action":"delete","ids":[]}`},
		{2, "9:ban", "", `{"reason":"troll","duration_seconds":3600}`},
		{2, "9:ban", "", `{"duration_seconds":-1}`},
		{2, "9:unban", "", `{"reason":"x"}`},
		{3, "", "video_id=5&limit=10", ``},
		{3, "", "cursor=cTE6MTI&limit=0", ``},
		{3, "", "video_id=%zz", ``},
	} {
		f.Add(s.route, s.seg, s.query, []byte(s.body))
	}
	a, st := newFuzzAPI(f)
	h := a.Handler()
	f.Fuzz(func(t *testing.T, route uint8, seg, query string, body []byte) {
		st.reset()
		var method, path string
		switch route % 4 {
		case 0:
			method, path = http.MethodPost, "/v1/mod/comments/"+seg
		case 1:
			method, path = http.MethodPost, "/v1/mod/comments:batch"
		case 2:
			method, path = http.MethodPost, "/v1/mod/users/"+seg
		case 3:
			method, path = http.MethodGet, "/v1/mod/queue"
		}
		if strings.ContainsAny(seg, "/?#") {
			return // another route, not this one's input
		}
		if query != "" {
			path += "?" + query
		}
		code, _ := serveFuzz(t, h, method, path, "mod", "application/json", body)
		if code == 0 {
			return
		}
		for _, ch := range st.changes {
			if ch.CommentID <= 0 || ch.ActorID != 7 {
				t.Fatalf("%s %q: change %+v", method, path, ch)
			}
			if ch.Action != store.Approve && ch.Action != store.Reject && ch.Action != store.Delete {
				t.Fatalf("%s %q: action %q", method, path, ch.Action)
			}
			if ch.Action == store.Reject && ch.Reason == "" {
				t.Fatalf("%s %q with %q: a reject without a reason reached the store", method, path, body)
			}
			if ch.Reason != "" {
				if again, err := validate.Reason(ch.Reason); err != nil || again != ch.Reason {
					t.Fatalf("%s %q: reason %q is not a validated one", method, path, ch.Reason)
				}
			}
		}
		if len(st.changes) > MaxBatchIDs {
			t.Fatalf("%d changes from one request", len(st.changes))
		}
		for _, b := range st.bans {
			if b.UserID <= 0 || b.BannedBy != 7 {
				t.Fatalf("ban %+v", b)
			}
			if b.ExpiresAt != nil && time.Until(*b.ExpiresAt) > MaxBanSeconds*time.Second {
				t.Fatalf("ban beyond the maximum: %+v", b)
			}
		}
		for _, q := range st.queries {
			if q.Limit < 1 || q.Limit > MaxQueueLimit || q.VideoID < 0 || q.AfterID < 0 {
				t.Fatalf("queue %q: query %+v", query, q)
			}
		}
		if code/100 == 2 && route%4 == 0 && len(st.changes) != 1 {
			t.Fatalf("%q: %d with %d changes", path, code, len(st.changes))
		}
	})
}

// FuzzQueueCursor: decodeCursor accepts exactly what encodeCursor makes
// (of a positive id) and nothing that would page from a negative id.
func FuzzQueueCursor(f *testing.F) {
	for _, s := range []string{encodeCursor(1), encodeCursor(1 << 62), "", "cTE6", "cTE6LTE", "q1:5", "%%%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := decodeCursor(s)
		if !ok {
			return
		}
		if id <= 0 {
			t.Fatalf("decodeCursor(%q) = %d", s, id)
		}
		if back, ok := decodeCursor(encodeCursor(id)); !ok || back != id {
			t.Fatalf("round trip of %d: %d %v", id, back, ok)
		}
	})
}
