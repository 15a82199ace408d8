package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vidcomments/vidcomments/internal/httpapi"
)

func newRouteAPI(t *testing.T) http.Handler {
	t.Helper()
	return newTestAPI(t, fuzzConfig, &fuzzStore{}).Handler()
}

// A method a route does not serve is 405 with the route's methods in
// Allow and the JSON error body, before authentication (no token sent).
func TestWrongMethodNamesTheAllowedOnes(t *testing.T) {
	h := newRouteAPI(t)
	tests := []struct{ method, path, allow string }{
		{"GET", "/v1/videos/1/comments", "POST"},
		{"TRACE", "/v1/comments/1", "PATCH, DELETE"},
		{"POST", "/v1/comments/1/like", "PUT, DELETE"},
		{"QUERY", "/v1/mod/queue", "GET, HEAD"},
		{"OPTIONS", "/v1/mod/comments/1:approve", "POST"},
		{"GET", "/v1/mod/comments:batch", "POST"},
		{"PATCH", "/v1/mod/users/1:ban", "POST"},
		{"POST", "/v1/mod/videos/1/pin", "PUT, DELETE"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			var body httpapi.ErrorBody
			if rec.Code != http.StatusMethodNotAllowed || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Error.Code != "method_not_allowed" {
				t.Fatalf("%d %s, want 405 method_not_allowed", rec.Code, rec.Body)
			}
			if got := rec.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
		})
	}
}

// HEAD on the queue is its GET without the body: the same status and
// headers, for a good request and a bad one.
func TestHeadIsGetWithoutBody(t *testing.T) {
	h := newRouteAPI(t)
	for _, path := range []string{"/v1/mod/queue?limit=5", "/v1/mod/queue?limit=0"} {
		serve := func(method string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(method, path, nil)
			req.Header.Set("Authorization", "Bearer mod")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec
		}
		get, head := serve(http.MethodGet), serve(http.MethodHead)
		if get.Code != head.Code || get.Header().Get("Content-Type") != head.Header().Get("Content-Type") {
			t.Errorf("%s: GET %d %q, HEAD %d %q", path, get.Code, get.Header().Get("Content-Type"), head.Code, head.Header().Get("Content-Type"))
		}
		if get.Body.Len() == 0 {
			t.Errorf("%s: GET has no body", path)
		}
	}
}
