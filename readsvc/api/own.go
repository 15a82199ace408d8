package api

import (
	"bytes"
	"net/http"
	"strconv"

	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/readsvc/pages"
)

var privateNoStore = []string{"private, no-store"}

// user returns the user id of the request's Bearer token (0: no token),
// or a 401 for a token that does not verify.
func (h *handler) user(r *http.Request) (int64, *apiError) {
	vals := r.Header["Authorization"] // canonical already: no Header.Get on the hot path
	if len(vals) == 0 || vals[0] == "" {
		return 0, nil
	}
	hdr := vals[0]
	token, ok := auth.BearerToken(hdr)
	if !ok || h.tokens == nil {
		return 0, &apiError{http.StatusUnauthorized, "unauthorized", "Authorization must be a valid Bearer token"}
	}
	p, err := h.tokens.Verify(token)
	if err != nil {
		return 0, &apiError{http.StatusUnauthorized, "unauthorized", "Authorization must be a valid Bearer token"}
	}
	return p.UserID, nil
}

// writeOwnPage writes page one as user sees it: their pending comments of
// the video first, then the shared page. The response is private: it
// never enters a shared cache, here or on the way.
func (h *handler) writeOwnPage(w http.ResponseWriter, r *http.Request, p *pages.Page, video, user int64) int {
	own, err := h.src.Pending(r.Context(), video, user)
	if err != nil {
		h.logger.Warn("own pending comments unavailable; page served without them", "err", err)
	}
	body := p.Body()
	const head = `{"comments":[`
	out := make([]byte, 0, len(body)+256*len(own))
	if len(own) > 0 && bytes.HasPrefix(body, []byte(head)) {
		out = append(out, head...)
		for i, e := range own {
			if i > 0 {
				out = append(out, ',')
			}
			out = appendPending(out, e.Body)
		}
		rest := body[len(head):]
		if len(rest) > 0 && rest[0] != ']' {
			out = append(out, ',')
		}
		out = append(out, rest...)
	} else {
		out = append(out, body...)
	}
	hdr := w.Header()
	hdr["Cache-Control"] = privateNoStore
	if p.Stale {
		hdr["X-Cache-Stale"] = staleValue
	}
	hdr["Content-Type"] = jsonType
	hdr["X-Content-Type-Options"] = nosniff
	hdr["Content-Length"] = []string{strconv.Itoa(len(out))}
	hdr["Vary"] = []string{"Authorization"}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
	return http.StatusOK
}

// appendPending appends a comment body with "status":"pending" added.
func appendPending(dst, body []byte) []byte {
	body = bytes.TrimSpace(body)
	if len(body) < 2 || body[len(body)-1] != '}' {
		return append(dst, body...)
	}
	dst = append(dst, body[:len(body)-1]...)
	return append(dst, `,"status":"pending"}`...)
}
