// Package httpapi holds what the public JSON APIs of readsvc and writesvc
// share: the error body {"error":{"code","message"}}, JSON responses, and a
// chi router whose 404, 405 and panics answer in that shape. A 405 carries
// the Allow header RFC 9110 requires: the methods the router serves on that
// path.
package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/go-chi/chi/v5"
)

// ErrorBody is the JSON shape of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail carries a stable machine-readable code and a human message.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Reason  string `json:"reason,omitempty"` // only where a code has reasons of its own (writesvc's 422 refused)
}

// WriteJSON writes v as the JSON response body with status code.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError writes the standard error body.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	WriteJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: message}})
}

// NewRouter returns a chi router that answers unknown routes, wrong methods
// and handler panics with the standard JSON error body. A wrong method is
// 405 with Allow listing the path's methods; a method chi does not know
// (QUERY, FOO) on a path the router does not serve is 404, as for any
// method.
func NewRouter(logger *slog.Logger) chi.Router {
	r := chi.NewRouter()
	r.Use(recoverer(logger))
	notFound := func(w http.ResponseWriter, _ *http.Request) {
		WriteError(w, http.StatusNotFound, "not_found", "no such resource")
	}
	r.NotFound(notFound)
	r.MethodNotAllowed(func(w http.ResponseWriter, req *http.Request) {
		allow := AllowedMethods(r, req)
		if allow == "" {
			notFound(w, req)
			return
		}
		w.Header().Set("Allow", allow)
		WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this resource")
	})
	return r
}

// allowCandidates are the methods an Allow header may list, in its order.
var allowCandidates = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}

// AllowedMethods returns the methods routes serves on req's path, as an
// Allow header value ("GET, HEAD"), or "" when no route matches the path.
// It routes the path once per method, as chi itself would route it.
func AllowedMethods(routes chi.Routes, req *http.Request) string {
	path := req.URL.RawPath
	if path == "" {
		path = req.URL.Path
	}
	if path == "" {
		path = "/"
	}
	var allowed []string
	for _, m := range allowCandidates {
		if routes.Match(chi.NewRouteContext(), m, path) {
			allowed = append(allowed, m)
		}
	}
	return strings.Join(allowed, ", ")
}

// Recoverer is the router's panic middleware, for a handler served beside
// the router.
func Recoverer(logger *slog.Logger) func(http.Handler) http.Handler { return recoverer(logger) }

// recoverer turns a handler panic into a logged 500 with a JSON body, so one
// bad request cannot take the process down.
func recoverer(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					logger.Error("handler panic", "panic", v, "path", r.URL.Path, "stack", string(debug.Stack()))
					WriteError(w, http.StatusInternalServerError, "internal", "internal error")
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}
