package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

func TestRouterErrorsAreJSON(t *testing.T) {
	r := NewRouter(slog.New(slog.DiscardHandler))
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
			rec, body := serveError(t, r, tt.method, tt.path, tt.code)
			if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("content type %q", ct)
			}
			if body.Error.Code != tt.errCode || body.Error.Message == "" {
				t.Errorf("body %s, want code %s", rec.Body, tt.errCode)
			}
		})
	}
}

// Every 405 names the path's methods in Allow (RFC 9110 15.5.6), whatever
// the method — one chi knows (TRACE) or not (QUERY) — and a method on a
// path no route serves is 404 without Allow.
func TestMethodNotAllowedCarriesAllow(t *testing.T) {
	r := NewRouter(slog.New(slog.DiscardHandler))
	ok := func(http.ResponseWriter, *http.Request) {}
	r.Get("/items/{id}", ok)
	r.Head("/items/{id}", ok)
	r.Delete("/items/{id}", ok)
	r.Group(func(g chi.Router) { // routes registered in a group count too
		g.Post("/items/{id}/like", ok)
		g.Put("/items/{id}/like", ok)
	})
	tests := []struct {
		method, path string
		code         int
		allow        string
	}{
		{"POST", "/items/1", 405, "GET, HEAD, DELETE"},
		{"TRACE", "/items/1", 405, "GET, HEAD, DELETE"},
		{"QUERY", "/items/1", 405, "GET, HEAD, DELETE"},
		{"OPTIONS", "/items/1", 405, "GET, HEAD, DELETE"},
		{"GET", "/items/1/like", 405, "POST, PUT"},
		{"QUERY", "/nothing", 404, ""},
		{"TRACE", "/nothing", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rec, body := serveError(t, r, tt.method, tt.path, tt.code)
			if got := rec.Header().Values("Allow"); strings.Join(got, ",") != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
			if body.Error.Code == "" {
				t.Errorf("body %s has no error code", rec.Body)
			}
		})
	}
}

// serveError serves method path on r, checks the status code and returns
// the response with its body decoded as the JSON error.
func serveError(t *testing.T, r http.Handler, method, path string, code int) (*httptest.ResponseRecorder, ErrorBody) {
	t.Helper()
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	if rec.Code != code {
		t.Errorf("code %d, want %d", rec.Code, code)
	}
	var body ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Errorf("body %s is not the JSON error: %v", rec.Body, err)
	}
	return rec, body
}
