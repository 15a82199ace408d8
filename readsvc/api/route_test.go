package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vidcomments/vidcomments/readsvc/api"
)

// The hand-matched hot route takes exactly the paths the router's
// /v1/videos/{video_id}/comments would, and nothing else.
func TestCommentsRouteMatchesAsTheRouter(t *testing.T) {
	tests := []struct {
		path  string
		video string
		ok    bool
	}{
		{"/v1/videos/42/comments", "42", true},
		{"/v1/videos/abc/comments", "abc", true}, // the handler answers 400, as via the router
		{"/v1/videos//comments", "", false},
		{"/v1/videos/42/comments/", "", false},
		{"/v1/videos/42/7/comments", "", false},
		{"/v1/videos/42", "", false},
		{"/v1/videos/%34%32/comments", "", false}, // escaped: the router's
		{"/v2/videos/42/comments", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			video, ok := api.CommentsRoute(req)
			if ok != tc.ok || ok && video != tc.video {
				t.Errorf("commentsRoute(%q) = %q, %v; want %q, %v", tc.path, video, ok, tc.video, tc.ok)
			}
		})
	}
}

// A method no route serves is 405 with Allow naming the path's methods;
// the hand-matched hot route does not change that.
func TestWrongMethodNamesTheAllowedOnes(t *testing.T) {
	h := api.NewHandler(nil, api.Options{})
	for _, tc := range []struct{ method, path string }{
		{"POST", "/v1/videos/42/comments"},
		{"TRACE", "/v1/comments/42"},
		{"QUERY", "/v1/comments/42/replies"},
		{"DELETE", "/v1/videos/abc/comments"},
		{"OPTIONS", "/v1/comments/42"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("%d Allow %q %s, want 405 Allow \"GET, HEAD\"", rec.Code, rec.Header().Get("Allow"), rec.Body)
			}
		})
	}
}
