// Package demo serves a small read-only page at /demo/ that shows one
// video's comments through readsvc's public API, newest first, with
// paging (/demo/?video=1). Its files are embedded in the binary (no CDN, no
// build step); comment content is only ever put into the page as text, and
// a strict Content Security Policy forbids inline script.
package demo

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed assets
var assets embed.FS

// Prefix is where the demo page is mounted.
const Prefix = "/demo/"

// CSP is the Content-Security-Policy of every demo response: scripts,
// styles and fetches from this origin only, nothing inline, no framing.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the demo's files under Prefix.
func Handler() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.StripPrefix(Prefix, http.FileServer(http.FS(sub)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// Mount serves the demo at Prefix (and /demo redirected there) beside api,
// which gets every other path.
func Mount(api http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(Prefix, Handler())
	mux.Handle("GET /demo", http.RedirectHandler(Prefix, http.StatusMovedPermanently))
	mux.Handle("/", api)
	return mux
}
