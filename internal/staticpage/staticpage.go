// Package staticpage serves the small embedded web pages of the services
// (readsvc's demo, writesvc's moderation console) with the headers such a
// page needs: its own Content Security Policy, nosniff, no referrer, and a
// revalidation on every load (the files change only with the binary).
package staticpage

import (
	"io/fs"
	"net/http"
)

// Handler serves the files below dir of files under prefix, every response
// with the Content-Security-Policy csp.
func Handler(prefix string, files fs.FS, dir, csp string) http.Handler {
	sub, err := fs.Sub(files, dir)
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	serve := http.StripPrefix(prefix, http.FileServer(http.FS(sub)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		serve.ServeHTTP(w, r)
	})
}
