// Package console serves the moderation web console at /mod/: a static page
// embedded in the writesvc binary (no CDN, no build step) that signs in with
// a moderator's token and drives the moderation API. Comment content is only
// ever put into the page as text, never as markup, and a strict Content
// Security Policy forbids inline script.
package console

import (
	"embed"
	"net/http"

	"github.com/vidcomments/vidcomments/internal/staticpage"
)

//go:embed assets
var assets embed.FS

// Prefix is where the console is mounted.
const Prefix = "/mod/"

// CSP is the Content-Security-Policy of every console response: scripts,
// styles and fetches from this origin only, nothing inline, no forms, no
// framing.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the console's files under Prefix.
func Handler() http.Handler { return staticpage.Handler(Prefix, assets, "assets", CSP) }
