package httpapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRouterErrorsAreJSON(t *testing.T) {
	r := NewRouter(slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.Get("/boom", func(http.ResponseWriter, *http.Request) { panic("bad") })
	r.Get("/ok", func(w http.ResponseWriter, _ *http.Request) { WriteJSON(w, 200, map[string]int{"n": 1}) })
	tests := []struct {
		method, path string
		code         int
		errCode      string
	}{
		{"GET", "/nope", 404, "not_found"},
		{"POST", "/ok", 405, "method_not_allowed"},
		{"GET", "/boom", 500, "internal"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.code {
				t.Errorf("code %d, want %d", rec.Code, tt.code)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("content type %q", ct)
			}
			var body ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code != tt.errCode || body.Error.Message == "" {
				t.Errorf("body %s (%v), want code %s", rec.Body, err, tt.errCode)
			}
		})
	}
}
