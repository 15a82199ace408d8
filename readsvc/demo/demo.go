// Package demo serves a small read-only page at /demo/ that shows one
// video's comments through readsvc's public API, newest first, with
// paging (/demo/?video=1). Its files are embedded in the binary (no CDN, no
// build step); comment content is only ever put into the page as text, and
// a strict Content Security Policy forbids inline script.
package demo

import (
	"embed"
	"net/http"
	"strings"

	"github.com/vidcomments/vidcomments/internal/staticpage"
)

//go:embed assets
var assets embed.FS

// Prefix is where the demo page is mounted.
const Prefix = "/demo/"

// CSP is the Content-Security-Policy of every demo response: scripts,
// styles and fetches from this origin only, nothing inline, no framing.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the demo's files under Prefix.
func Handler() http.Handler { return staticpage.Handler(Prefix, assets, "assets", CSP) }

// Mount serves the demo at Prefix (and /demo redirected there) beside api,
// which gets every other path. A clean /v1/ path goes to api at once: the
// mux's matching and path cleaning were 3.6% of readsvc's CPU under wrk on
// the hot page, for a route it only passes on. Anything else (a path the
// mux would clean and redirect, the demo) goes through the mux as before.
func Mount(api http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(Prefix, Handler())
	mux.Handle("GET /demo", http.RedirectHandler(Prefix, http.StatusMovedPermanently))
	mux.Handle("/", api)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; strings.HasPrefix(p, "/v1/") && !strings.Contains(p, "//") && !strings.Contains(p, "/.") {
			api.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}
