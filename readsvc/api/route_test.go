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
