package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/internal/comment"
)

// A table of malformed and hostile requests, each with its exact status
// and error code. None may be a 5xx, every error body is JSON, and none
// may write anything: the comments and outbox tables are unchanged after.
func TestMalformedAndHostileRequests(t *testing.T) {
	st, in := startOnStack(t, func(c *Config) { c.MaxCommentRunes = 1000 })
	const author, stranger, video, otherVideo = 1, 2, 100, 200
	root := in.mustPost(t, author, video, "root")
	if r := in.moderate(t, root, "approve", nil); r.code != http.StatusOK {
		t.Fatal(r)
	}
	pending := in.mustPost(t, author, video, "waiting for a moderator")
	r := in.post(t, author, video, map[string]string{"content": "a reply", "parent_id": comment.FormatID(root)})
	if r.code != http.StatusAccepted {
		t.Fatal(r)
	}
	var acc struct{ ID string }
	r.decode(t, &acc)
	reply, _ := comment.ParseID(acc.ID)
	onOther := in.mustPost(t, author, otherVideo, "other video")
	deleted := in.mustPost(t, author, video, "gone")
	if r := in.moderate(t, deleted, "delete", nil); r.code != http.StatusOK {
		t.Fatal(r)
	}
	commentsBefore := st.count(t, `SELECT COUNT(*) FROM comments`)
	outboxBefore := st.count(t, `SELECT COUNT(*) FROM outbox`)

	user, mod := token(t, author, auth.RoleUser), token(t, 9000, auth.RoleModerator)
	posts := fmt.Sprintf("/v1/videos/%d/comments", video)
	id := comment.FormatID
	big := `{"content":"` + strings.Repeat("a", 17<<10) + `"}`
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprint(i + 1)
	}
	manyIDs := `{"action":"approve","ids":["` + strings.Join(many, `","`) + `"]}`
	deep := `{"content":` + strings.Repeat("[", 50) + strings.Repeat("]", 50) + `}`

	type tc struct {
		name   string
		method string
		path   string
		token  string
		ctype  string // "-" sends none
		body   string
		header map[string]string
		chunk  bool // send without Content-Length
		status int
		code   string
	}
	tests := []tc{
		// The video id in the path.
		{name: "video id zero", path: "/v1/videos/0/comments", body: `{"content":"x"}`, status: 400, code: "invalid_video_id"},
		{name: "video id negative", path: "/v1/videos/-5/comments", body: `{"content":"x"}`, status: 400, code: "invalid_video_id"},
		{name: "video id not a number", path: "/v1/videos/abc/comments", body: `{"content":"x"}`, status: 400, code: "invalid_video_id"},
		{name: "video id overflows int64", path: "/v1/videos/9223372036854775808/comments", body: `{"content":"x"}`, status: 400, code: "invalid_video_id"},
		{name: "video id leading zero", path: "/v1/videos/007/comments", body: `{"content":"x"}`, status: 400, code: "invalid_video_id"},
		{name: "video id exponent", path: "/v1/videos/1e3/comments", body: `{"content":"x"}`, status: 400, code: "invalid_video_id"},
		{name: "video id with SQL", path: "/v1/videos/1%20OR%201=1/comments", body: `{"content":"x"}`, status: 400, code: "invalid_video_id"},
		// Content type and size.
		{name: "no content type", path: posts, ctype: "-", body: `{"content":"x"}`, status: 415, code: "unsupported_media_type"},
		{name: "text/plain", path: posts, ctype: "text/plain", body: `{"content":"x"}`, status: 415, code: "unsupported_media_type"},
		{name: "form encoded", path: posts, ctype: "application/x-www-form-urlencoded", body: `content=x`, status: 415, code: "unsupported_media_type"},
		{name: "latin-1 charset", path: posts, ctype: "application/json; charset=latin1", body: `{"content":"x"}`, status: 415, code: "unsupported_media_type"},
		{name: "malformed content type", path: posts, ctype: "application/json; ;;", body: `{"content":"x"}`, status: 415, code: "unsupported_media_type"},
		{name: "body over 16 KiB", path: posts, body: big, status: 413, code: "body_too_large"},
		{name: "body over 16 KiB chunked", path: posts, body: big, chunk: true, status: 413, code: "body_too_large"},
		// JSON shape.
		{name: "empty body", path: posts, body: ``, status: 400, code: "invalid_json"},
		{name: "not JSON", path: posts, body: `content=x`, status: 400, code: "invalid_json"},
		{name: "truncated JSON", path: posts, body: `{"content":"x"`, status: 400, code: "invalid_json"},
		{name: "array", path: posts, body: `[{"content":"x"}]`, status: 400, code: "invalid_json"},
		{name: "string", path: posts, body: `"x"`, status: 400, code: "invalid_json"},
		{name: "null", path: posts, body: `null`, status: 400, code: "invalid_json"},
		{name: "trailing object", path: posts, body: `{"content":"x"}{"content":"y"}`, status: 400, code: "invalid_json"},
		{name: "duplicate field", path: posts, body: `{"content":"x","content":"y"}`, status: 400, code: "invalid_json"},
		{name: "nested too deep", path: posts, body: deep, status: 400, code: "invalid_json"},
		{name: "unknown field", path: posts, body: `{"content":"x","user_id":"1"}`, status: 400, code: "unknown_field"},
		{name: "field in another case", path: posts, body: `{"Content":"x"}`, status: 400, code: "unknown_field"},
		{name: "case-variant smuggled second", path: posts, body: `{"content":"x","CONTENT":"y"}`, status: 400, code: "unknown_field"},
		// Content.
		{name: "no content", path: posts, body: `{}`, status: 400, code: "content_required"},
		{name: "null content", path: posts, body: `{"content":null}`, status: 400, code: "content_required"},
		{name: "content a number", path: posts, body: `{"content":5}`, status: 400, code: "invalid_field"},
		{name: "content an array", path: posts, body: `{"content":["x"]}`, status: 400, code: "invalid_field"},
		{name: "content empty", path: posts, body: `{"content":""}`, status: 400, code: "content_empty"},
		{name: "content only white space", path: posts, body: `{"content":"  \n \u2003 "}`, status: 400, code: "content_empty"},
		{name: "content too long", path: posts, body: `{"content":"` + strings.Repeat("é", 1001) + `"}`, status: 400, code: "content_too_long"},
		{name: "content with NUL", path: posts, body: `{"content":"a\u0000b"}`, status: 400, code: "content_invalid_char"},
		{name: "content with tab", path: posts, body: `{"content":"a\tb"}`, status: 400, code: "content_invalid_char"},
		{name: "content with terminal escape", path: posts, body: `{"content":"\u001b[2Jx"}`, status: 400, code: "content_invalid_char"},
		{name: "content with C1 control", path: posts, body: `{"content":"a\u0085b"}`, status: 400, code: "content_invalid_char"},
		{name: "raw invalid UTF-8", path: posts, body: "{\"content\":\"a\xff\xfeb\"}", status: 400, code: "invalid_utf8"},
		{name: "overlong UTF-8 slash", path: posts, body: "{\"content\":\"a\xc0\xafb\"}", status: 400, code: "invalid_utf8"},
		{name: "lone surrogate escape", path: posts, body: `{"content":"a\ud800b"}`, status: 400, code: "invalid_utf8"},
		// Parent.
		{name: "parent a number", path: posts, body: fmt.Sprintf(`{"content":"x","parent_id":%d}`, root), status: 400, code: "invalid_parent_id"},
		{name: "parent not numeric", path: posts, body: `{"content":"x","parent_id":"abc"}`, status: 400, code: "invalid_parent_id"},
		{name: "parent zero", path: posts, body: `{"content":"x","parent_id":"0"}`, status: 400, code: "invalid_parent_id"},
		{name: "parent empty", path: posts, body: `{"content":"x","parent_id":""}`, status: 400, code: "invalid_parent_id"},
		{name: "parent missing", path: posts, body: `{"content":"x","parent_id":"999999"}`, status: 422, code: "parent_not_found"},
		{name: "parent deleted", path: posts, body: `{"content":"x","parent_id":"` + id(deleted) + `"}`, status: 422, code: "parent_not_found"},
		{name: "parent pending", path: posts, body: `{"content":"x","parent_id":"` + id(pending) + `"}`, status: 422, code: "parent_not_approved"},
		{name: "parent on another video", path: posts, body: `{"content":"x","parent_id":"` + id(onOther) + `"}`, status: 422, code: "parent_other_video"},
		// Idempotency-Key.
		{name: "idempotency key with space", path: posts, body: `{"content":"x"}`, header: map[string]string{"Idempotency-Key": "a b"}, status: 400, code: "invalid_idempotency_key"},
		{name: "idempotency key too long", path: posts, body: `{"content":"x"}`, header: map[string]string{"Idempotency-Key": strings.Repeat("k", 129)}, status: 400, code: "invalid_idempotency_key"},
		// Single moderation actions.
		{name: "moderate bad id", path: "/v1/mod/comments/abc:approve", token: mod, status: 400, code: "invalid_comment_id"},
		{name: "moderate unknown action", path: "/v1/mod/comments/1:frobnicate", token: mod, status: 404, code: "unknown_action"},
		{name: "moderate without action", path: "/v1/mod/comments/1", token: mod, status: 404, code: "not_found"},
		{name: "moderate missing comment", path: "/v1/mod/comments/999999:approve", token: mod, status: 404, code: "comment_not_found"},
		{name: "approve a deleted comment", path: "/v1/mod/comments/" + id(deleted) + ":approve", token: mod, status: 409, code: "invalid_transition"},
		{name: "reject a deleted comment", path: "/v1/mod/comments/" + id(deleted) + ":reject", token: mod, body: `{"reason":"x"}`, status: 409, code: "invalid_transition"},
		{name: "reject without reason", path: "/v1/mod/comments/" + id(root) + ":reject", token: mod, status: 400, code: "reason_required"},
		{name: "reject with blank reason", path: "/v1/mod/comments/" + id(root) + ":reject", token: mod, body: `{"reason":"  "}`, status: 400, code: "reason_required"},
		{name: "reason with newline", path: "/v1/mod/comments/" + id(root) + ":reject", token: mod, body: `{"reason":"a\nb"}`, status: 400, code: "invalid_reason"},
		{name: "reason too long", path: "/v1/mod/comments/" + id(root) + ":reject", token: mod, body: `{"reason":"` + strings.Repeat("r", 513) + `"}`, status: 400, code: "invalid_reason"},
		{name: "approve with unknown field", path: "/v1/mod/comments/" + id(root) + ":approve", token: mod, body: `{"note":"x"}`, status: 400, code: "unknown_field"},
		{name: "approve body as text/plain", path: "/v1/mod/comments/" + id(root) + ":approve", token: mod, ctype: "text/plain", body: `{}`, status: 415, code: "unsupported_media_type"},
		// Batch.
		{name: "batch unknown action", path: "/v1/mod/comments:batch", token: mod, body: `{"action":"explode","ids":["1"]}`, status: 400, code: "invalid_action"},
		{name: "batch no ids", path: "/v1/mod/comments:batch", token: mod, body: `{"action":"approve","ids":[]}`, status: 400, code: "ids_required"},
		{name: "batch 101 ids", path: "/v1/mod/comments:batch", token: mod, body: manyIDs, status: 400, code: "too_many_ids"},
		{name: "batch duplicate ids", path: "/v1/mod/comments:batch", token: mod, body: `{"action":"approve","ids":["5","5"]}`, status: 400, code: "duplicate_ids"},
		{name: "batch reject without reason", path: "/v1/mod/comments:batch", token: mod, body: `{"action":"reject","ids":["5"]}`, status: 400, code: "reason_required"},
		{name: "batch ids not an array", path: "/v1/mod/comments:batch", token: mod, body: `{"action":"approve","ids":"5"}`, status: 400, code: "invalid_field"},
		{name: "batch id not a string", path: "/v1/mod/comments:batch", token: mod, body: `{"action":"approve","ids":["5",6]}`, status: 400, code: "invalid_comment_id"},
		{name: "batch id null", path: "/v1/mod/comments:batch", token: mod, body: `{"action":"approve","ids":[null]}`, status: 400, code: "invalid_comment_id"},
		{name: "batch duplicate ids spelled apart", path: "/v1/mod/comments:batch", token: mod, body: `{"action":"approve","ids":["5","\u0035"]}`, status: 400, code: "duplicate_ids"},
		// Queue.
		{name: "queue limit zero", method: "GET", path: "/v1/mod/queue?limit=0", token: mod, status: 400, code: "invalid_limit"},
		{name: "queue limit too big", method: "GET", path: "/v1/mod/queue?limit=101", token: mod, status: 400, code: "invalid_limit"},
		{name: "queue limit not a number", method: "GET", path: "/v1/mod/queue?limit=ten", token: mod, status: 400, code: "invalid_limit"},
		{name: "queue forged cursor", method: "GET", path: "/v1/mod/queue?cursor=" + base64.RawURLEncoding.EncodeToString([]byte("1 OR 1=1")), token: mod, status: 400, code: "invalid_cursor"},
		{name: "queue garbage cursor", method: "GET", path: "/v1/mod/queue?cursor=!!!", token: mod, status: 400, code: "invalid_cursor"},
		{name: "queue malformed query", method: "GET", path: "/v1/mod/queue?cursor=%%%", token: mod, status: 400, code: "invalid_query"},
		{name: "queue bad video id", method: "GET", path: "/v1/mod/queue?video_id=0", token: mod, status: 400, code: "invalid_video_id"},
		// Bans.
		{name: "ban bad user id", path: "/v1/mod/users/abc:ban", token: mod, status: 400, code: "invalid_user_id"},
		{name: "ban zero duration", path: "/v1/mod/users/5:ban", token: mod, body: `{"duration_seconds":0}`, status: 400, code: "invalid_duration"},
		{name: "ban duration as text", path: "/v1/mod/users/5:ban", token: mod, body: `{"duration_seconds":"1h"}`, status: 400, code: "invalid_field"},
		{name: "user unknown action", path: "/v1/mod/users/5:promote", token: mod, status: 404, code: "unknown_action"},
		{name: "unban with a reason", path: "/v1/mod/users/5:unban", token: mod, body: `{"reason":"x"}`, status: 400, code: "unknown_field"},
		{name: "unban with a null field", path: "/v1/mod/users/5:unban", token: mod, body: `{"duration_seconds":null}`, status: 400, code: "unknown_field"},
		// Deletes.
		{name: "delete bad id", method: "DELETE", path: "/v1/comments/abc", status: 400, code: "invalid_comment_id"},
		{name: "delete missing comment", method: "DELETE", path: "/v1/comments/999999", status: 404, code: "comment_not_found"},
		{name: "delete another user's comment", method: "DELETE", path: "/v1/comments/" + id(root), token: token(t, stranger, auth.RoleUser), status: 403, code: "not_author"},
		// Routing.
		{name: "reads are not served here", method: "GET", path: posts, status: 405, code: "method_not_allowed"},
		{name: "unknown path", path: "/v1/nope", status: 404, code: "not_found"},
		// Likes.
		{name: "like bad id", method: "PUT", path: "/v1/comments/abc/like", status: 400, code: "invalid_comment_id"},
		{name: "like missing comment", method: "PUT", path: "/v1/comments/999999/like", status: 404, code: "comment_not_found"},
		{name: "like a pending comment", method: "PUT", path: "/v1/comments/" + id(pending) + "/like", status: 404, code: "comment_not_found"},
		{name: "unlike a deleted comment", method: "DELETE", path: "/v1/comments/" + id(deleted) + "/like", status: 404, code: "comment_not_found"},
		{name: "like with POST", path: "/v1/comments/" + id(root) + "/like", status: 405, code: "method_not_allowed"},
		// Edits.
		{name: "edit bad id", method: "PATCH", path: "/v1/comments/abc", body: `{"content":"x"}`, status: 400, code: "invalid_comment_id"},
		{name: "edit missing comment", method: "PATCH", path: "/v1/comments/999999", body: `{"content":"x"}`, status: 404, code: "comment_not_found"},
		{name: "edit another user's comment", method: "PATCH", path: "/v1/comments/" + id(root), token: token(t, stranger, auth.RoleUser), body: `{"content":"x"}`, status: 403, code: "not_author"},
		{name: "edit a deleted comment", method: "PATCH", path: "/v1/comments/" + id(deleted), body: `{"content":"x"}`, status: 409, code: "not_editable"},
		{name: "edit to empty content", method: "PATCH", path: "/v1/comments/" + id(root), body: `{"content":" "}`, status: 400, code: "content_empty"},
		{name: "edit with parent_id", method: "PATCH", path: "/v1/comments/" + id(root), body: `{"content":"x","parent_id":"1"}`, status: 400, code: "unknown_field"},
		{name: "edit without body", method: "PATCH", path: "/v1/comments/" + id(root), status: 400, code: "invalid_json"},
		// Pins.
		{name: "pin as a user", method: "PUT", path: fmt.Sprintf("/v1/mod/videos/%d/pin", video), body: `{"comment_id":"` + id(root) + `"}`, status: 403, code: "forbidden"},
		{name: "pin bad video id", method: "PUT", path: "/v1/mod/videos/x/pin", token: mod, body: `{"comment_id":"` + id(root) + `"}`, status: 400, code: "invalid_video_id"},
		{name: "pin comment id as number", method: "PUT", path: fmt.Sprintf("/v1/mod/videos/%d/pin", video), token: mod, body: fmt.Sprintf(`{"comment_id":%d}`, root), status: 400, code: "invalid_comment_id"},
		{name: "pin without comment id", method: "PUT", path: fmt.Sprintf("/v1/mod/videos/%d/pin", video), token: mod, body: `{}`, status: 400, code: "invalid_comment_id"},
		{name: "pin missing comment", method: "PUT", path: fmt.Sprintf("/v1/mod/videos/%d/pin", video), token: mod, body: `{"comment_id":"999999"}`, status: 404, code: "comment_not_found"},
		{name: "pin a reply", method: "PUT", path: fmt.Sprintf("/v1/mod/videos/%d/pin", video), token: mod, body: `{"comment_id":"` + id(reply) + `"}`, status: 422, code: "pin_not_root"},
		{name: "pin a pending comment", method: "PUT", path: fmt.Sprintf("/v1/mod/videos/%d/pin", video), token: mod, body: `{"comment_id":"` + id(pending) + `"}`, status: 422, code: "pin_not_approved"},
		{name: "pin another video's comment", method: "PUT", path: fmt.Sprintf("/v1/mod/videos/%d/pin", otherVideo), token: mod, body: `{"comment_id":"` + id(root) + `"}`, status: 422, code: "comment_other_video"},
	}
	if len(tests) < 30 {
		t.Fatalf("only %d cases", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "POST"
			}
			var body io.Reader
			if tt.body != "" || method == "POST" {
				body = strings.NewReader(tt.body)
				if tt.chunk {
					body = io.MultiReader(bytes.NewReader([]byte(tt.body))) // unknown length: chunked
				}
			}
			rq, err := http.NewRequest(method, in.api+tt.path, body)
			if err != nil {
				t.Fatal(err)
			}
			switch tt.ctype {
			case "":
				rq.Header.Set("Content-Type", "application/json")
			case "-":
			default:
				rq.Header.Set("Content-Type", tt.ctype)
			}
			if tt.body == "" && method == "POST" && tt.path != posts {
				rq.Header.Del("Content-Type") // an action without a body
			}
			tok := tt.token
			if tok == "" {
				tok = user
			}
			rq.Header.Set("Authorization", "Bearer "+tok)
			for k, v := range tt.header {
				rq.Header.Set(k, v)
			}
			resp, err := in.client.Do(rq)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got := response{code: resp.StatusCode, header: resp.Header, body: b}
			if got.code >= 500 {
				t.Fatalf("5xx for bad input: %s", got)
			}
			if got.code != tt.status || got.errorCode() != tt.code {
				t.Errorf("got %s, want %d %s", got, tt.status, tt.code)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("content type %q", ct)
			}
		})
	}
	if n := st.count(t, `SELECT COUNT(*) FROM comments`); n != commentsBefore {
		t.Errorf("bad requests wrote comments: %d before, %d after", commentsBefore, n)
	}
	if n := st.count(t, `SELECT COUNT(*) FROM outbox`); n != outboxBefore {
		t.Errorf("bad requests wrote outbox rows: %d before, %d after", outboxBefore, n)
	}
}

// Every refused credential on every authenticated endpoint: 401 with
// WWW-Authenticate (or 403 for a valid token lacking the role), and nothing
// written.
func TestAuthIsRefused(t *testing.T) {
	st, in := startOnStack(t)
	own := in.mustPost(t, 5, 300, "mine")
	before := st.count(t, `SELECT COUNT(*) FROM outbox`)

	now := time.Now()
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "5", "role": "moderator", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		mod(c)
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	hs := func(mod func(jwt.MapClaims)) string {
		return "Bearer " + sign(jwt.SigningMethodHS256, []byte(testSecret), claims(mod))
	}
	keep := func(jwt.MapClaims) {}
	enc := base64.RawURLEncoding.EncodeToString
	none := "Bearer " + enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc([]byte(`{"sub":"5","role":"moderator","exp":9999999999}`)) + "."
	swapped := strings.Split(hs(keep), ".")
	swapped[1] = enc([]byte(`{"sub":"1","role":"moderator","exp":9999999999}`))

	endpoints := []req{
		{method: "POST", path: "/v1/videos/300/comments", body: map[string]string{"content": "x"}},
		{method: "DELETE", path: "/v1/comments/" + comment.FormatID(own)},
		{method: "GET", path: "/v1/mod/queue"},
		{method: "POST", path: "/v1/mod/comments/" + comment.FormatID(own) + ":approve"},
		{method: "POST", path: "/v1/mod/comments:batch", body: map[string]any{"action": "approve", "ids": []string{comment.FormatID(own)}}},
		{method: "POST", path: "/v1/mod/users/77:ban"},
	}
	tests := []struct {
		name, auth string
		headers    int // Authorization headers sent (0 or 1 use auth; 2 sends it twice)
		code       string
	}{
		{"missing", "", 0, "missing_token"},
		{"basic auth", "Basic dXNlcjpwYXNz", 1, "invalid_token"},
		{"bearer without token", "Bearer ", 1, "invalid_token"},
		{"malformed", "Bearer not.a.jwt", 1, "invalid_token"},
		{"two headers", hs(keep), 2, "invalid_token"},
		{"alg none", none, 1, "invalid_token"},
		{"alg none from the library", "Bearer " + sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(keep)), 1, "invalid_token"},
		{"wrong key", "Bearer " + sign(jwt.SigningMethodHS256, []byte(strings.Repeat("w", 40)), claims(keep)), 1, "invalid_token"},
		{"HS512", "Bearer " + sign(jwt.SigningMethodHS512, []byte(testSecret), claims(keep)), 1, "invalid_token"},
		{"payload swapped", strings.Join(swapped, "."), 1, "invalid_token"},
		{"expired", hs(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }), 1, "token_expired"},
		{"not yet valid", hs(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() }), 1, "token_not_yet_valid"},
		{"issued in the future", hs(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Hour).Unix() }), 1, "token_not_yet_valid"},
		{"no expiry", hs(func(c jwt.MapClaims) { delete(c, "exp") }), 1, "invalid_token"},
		{"unknown role", hs(func(c jwt.MapClaims) { c["role"] = "admin" }), 1, "invalid_token"},
		{"subject not an id", hs(func(c jwt.MapClaims) { c["sub"] = "alice" }), 1, "invalid_token"},
	}
	for _, tt := range tests {
		for _, ep := range endpoints {
			t.Run(tt.name+"/"+ep.method+" "+ep.path, func(t *testing.T) {
				rq := ep
				rq.header = map[string]string{}
				r := doAuth(t, in, rq, tt.auth, tt.headers)
				if r.code != http.StatusUnauthorized || r.errorCode() != tt.code {
					t.Errorf("got %s, want 401 %s", r, tt.code)
				}
				if r.header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
			})
		}
	}
	// A valid user token on the moderator endpoints: 403.
	user := "Bearer " + token(t, 6, auth.RoleUser)
	for _, ep := range endpoints[2:] {
		t.Run("user role/"+ep.method+" "+ep.path, func(t *testing.T) {
			if r := doAuth(t, in, ep, user, 1); r.code != http.StatusForbidden || r.errorCode() != "forbidden" {
				t.Errorf("got %s, want 403 forbidden", r)
			}
		})
	}
	if n := st.count(t, `SELECT COUNT(*) FROM outbox`); n != before {
		t.Errorf("refused requests wrote %d outbox rows", n-before)
	}
	// The control: the same requests with a good token pass.
	if r := doAuth(t, in, endpoints[2], hs(keep), 1); r.code != http.StatusOK {
		t.Errorf("moderator queue: %s", r)
	}
}

// doAuth sends rq with the Authorization value a, n times.
func doAuth(t *testing.T, in *instance, rq req, a string, n int) response {
	t.Helper()
	var body io.Reader
	if rq.body != nil {
		body = strings.NewReader(fmt.Sprint(mustJSON(t, rq.body)))
	}
	r, err := http.NewRequest(rq.method, in.api+rq.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	for range n {
		r.Header.Add("Authorization", a)
	}
	resp, err := in.client.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{code: resp.StatusCode, header: resp.Header, body: b}
}
