package api_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/vidcomments/vidcomments/internal/httpapi"
	"github.com/vidcomments/vidcomments/readsvc/cursor"
	"github.com/vidcomments/vidcomments/readsvc/internal/readtest"
)

// Every malformed request gets its exact JSON error, never a 5xx.
func TestMalformedRequests(t *testing.T) {
	_, r, video, _ := readtest.Seeded(t, 3, readtest.Config{})
	v := "/v1/videos/" + itoa(video) + "/comments"
	good := r.Cursors.Encode(video, cursor.Cursor{Sort: cursor.ByTime, LastID: 12345})
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	raw[4] ^= 0x10
	tampered := base64.RawURLEncoding.EncodeToString(raw)
	otherVideo := r.Cursors.Encode(video+1, cursor.Cursor{Sort: cursor.ByTime, LastID: 12345})
	otherKey := cursor.NewCodec([]byte("not ours")).Encode(video, cursor.Cursor{Sort: cursor.ByTime, LastID: 12345})

	const (
		badVideo   = "video_id must be a positive decimal integer"
		badLimit   = "limit must be an integer from 1 to 50"
		badSort    = "sort must be time or hot"
		badCursor  = "cursor is malformed, tampered with, or belongs to another video or sort"
		badComment = "comment id must be a positive decimal integer"
	)
	tests := []struct {
		name, method, path string
		status             int
		code, message      string
	}{
		{"video id not a number", "GET", "/v1/videos/abc/comments", 400, "bad_video_id", badVideo},
		{"video id zero", "GET", "/v1/videos/0/comments", 400, "bad_video_id", badVideo},
		{"video id negative", "GET", "/v1/videos/-5/comments", 400, "bad_video_id", badVideo},
		{"video id leading zero", "GET", "/v1/videos/007/comments", 400, "bad_video_id", badVideo},
		{"video id beyond int64", "GET", "/v1/videos/9223372036854775808/comments", 400, "bad_video_id", badVideo},
		{"video id fractional", "GET", "/v1/videos/1.5/comments", 400, "bad_video_id", badVideo},
		{"video id a space", "GET", "/v1/videos/%20/comments", 400, "bad_video_id", badVideo},
		{"limit zero", "GET", v + "?limit=0", 400, "bad_limit", badLimit},
		{"limit above 50", "GET", v + "?limit=51", 400, "bad_limit", badLimit},
		{"limit negative", "GET", v + "?limit=-1", 400, "bad_limit", badLimit},
		{"limit not a number", "GET", v + "?limit=ten", 400, "bad_limit", badLimit},
		{"limit empty", "GET", v + "?limit=", 400, "bad_limit", badLimit},
		{"limit in exponent form", "GET", v + "?limit=1e1", 400, "bad_limit", badLimit},
		{"limit with a plus sign", "GET", v + "?limit=%2B5", 400, "bad_limit", badLimit},
		{"limit huge", "GET", v + "?limit=99999999999999999999", 400, "bad_limit", badLimit},
		{"limit given twice", "GET", v + "?limit=1&limit=2", 400, "bad_query", "parameter limit given more than once"},
		{"sort unknown", "GET", v + "?sort=new", 400, "bad_sort", badSort},
		{"sort empty", "GET", v + "?sort=", 400, "bad_sort", badSort},
		{"time cursor for sort=hot", "GET", v + "?sort=hot&cursor=" + good, 400, "bad_cursor", badCursor},
		{"bad token", "GET", v, 401, "unauthorized", "Authorization must be a valid Bearer token"},
		{"replies of an unknown comment", "GET", "/v1/comments/" + itoa(readtest.Video()) + "/replies", 404, "not_found", "comment not found"},
		{"replies limit zero", "GET", "/v1/comments/5/replies?limit=0", 400, "bad_limit", badLimit},
		{"replies sorted hot", "GET", "/v1/comments/5/replies?sort=hot", 400, "bad_sort", "replies are listed newest first only"},
		{"cursor garbage", "GET", v + "?cursor=garbage", 400, "bad_cursor", badCursor},
		{"cursor tampered", "GET", v + "?cursor=" + tampered, 400, "bad_cursor", badCursor},
		{"cursor of another video", "GET", v + "?cursor=" + otherVideo, 400, "bad_cursor", badCursor},
		{"cursor signed with another key", "GET", v + "?cursor=" + otherKey, 400, "bad_cursor", badCursor},
		{"cursor truncated", "GET", v + "?cursor=" + good[:len(good)-4], 400, "bad_cursor", badCursor},
		{"cursor far too long", "GET", v + "?cursor=" + strings.Repeat("A", 4000), 400, "bad_cursor", badCursor},
		{"cursor bad percent-encoding", "GET", v + "?cursor=%zz", 400, "bad_query", "the query string is not valid URL encoding"},
		{"comment id not a number", "GET", "/v1/comments/abc", 400, "bad_comment_id", badComment},
		{"comment id zero", "GET", "/v1/comments/0", 400, "bad_comment_id", badComment},
		{"unknown comment", "GET", "/v1/comments/" + itoa(readtest.Video()), 404, "not_found", "comment not found"},
		{"unknown route below a video", "GET", v + "/extra", 404, "not_found", "no such resource"},
		{"unknown route", "GET", "/v1/nothing", 404, "not_found", "no such resource"},
		{"wrong method", "POST", v, 405, "method_not_allowed", "method not allowed on this resource"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, r.Server.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.status == 401 {
				req.Header.Set("Authorization", "Bearer not.a.token")
			}
			resp, err := r.Server.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got strings.Builder
			_, _ = io.Copy(&got, resp.Body)
			want, _ := json.Marshal(httpapi.ErrorBody{Error: httpapi.ErrorDetail{Code: tt.code, Message: tt.message}})
			if resp.StatusCode != tt.status || got.String() != string(want)+"\n" {
				t.Errorf("%s %s\n got %d %s\nwant %d %s", tt.method, tt.path, resp.StatusCode, got.String(), tt.status, want)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	if len(tests) < 20 {
		t.Errorf("only %d malformed requests", len(tests))
	}
	// An empty cursor is page one, as if absent.
	for _, path := range []string{v + "?cursor=", v + "?limit=2&cursor=", "/v1/comments/5/replies?cursor="} {
		if resp := r.Get(t, path); resp.Code == 400 {
			t.Errorf("%s: %d %s, want it served as without a cursor", path, resp.Code, resp.Raw)
		}
	}
	if resp := r.Get(t, v+"?limit=2&cursor="); resp.Code != 200 || len(resp.IDs()) != 2 {
		t.Errorf("empty cursor: %d %s, want page one of 2", resp.Code, resp.Raw)
	}
	// Parameters it does not know are ignored, escaped ones understood.
	if resp := r.Get(t, readtest.PagePath(video, "utm=x&%6Cimit=2&sort=time")); resp.Code != 200 || len(resp.IDs()) != 2 {
		t.Errorf("tolerated query: %d %s", resp.Code, resp.Raw)
	}

}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
