// Package api is readsvc's public HTTP API:
//
//	GET /v1/videos/{video_id}/comments?sort=time|hot&limit=1..50&cursor=…
//	GET /v1/comments/{id}
//	GET /v1/comments/{id}/replies?limit=1..50&cursor=…
//
// Each also answers HEAD: the GET's status and headers without the body.
// Any other method is 405 with Allow; an empty cursor= is page one.
//
// Page one of a video's comments (either sort) shows the pinned comment on
// top of the limit others; no page shows it elsewhere. A request with a
// valid Bearer token (writesvc's secret; sub = user id) also gets, on page
// one, the user's own pending comments of the video first, marked
// "status":"pending", in a private response (Cache-Control: private,
// no-store, no ETag); the shared part is the cached page everyone gets.
// An invalid token is 401.
//
// Responses carry a strong ETag (the video's cache version and a hash of
// the body; If-None-Match answers 304), Cache-Control: public, max-age=…
// (and s-maxage=… for shared caches when Options.SharedMaxAge is set), a
// Surrogate-Key header naming what the response shows (internal/cdn: a
// video's pages carry its video tag, a comment and its reply list the
// comment's tag; cdc purges them by tag), and, when freshness could not be
// confirmed, X-Cache-Stale: 1. Errors are
// the shared JSON body {"error":{"code","message"}}: 400 for a malformed
// request, 404 for an unknown comment or route, 503 with Retry-After when a
// dependency is down or Cassandra is saturated. A page body is written
// straight from the cache, never decoded.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/internal/cdn"
	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/httpapi"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/readsvc/cursor"
	"github.com/vidcomments/vidcomments/readsvc/pages"
)

// PageSource is what the API needs of the read path (*pages.Reader).
type PageSource interface {
	Page(ctx context.Context, req pages.Request) (pages.Page, error)
	Comment(ctx context.Context, id int64) (pages.Page, error)
	Replies(ctx context.Context, req pages.ReplyRequest) (pages.Page, error)
	Pending(ctx context.Context, video, user int64) ([]pagecache.Entry, error)
}

// DefaultLimit is the page size when the request names none.
const DefaultLimit = 20

// Options configure the handler.
type Options struct {
	MaxAge time.Duration // Cache-Control max-age
	// SharedMaxAge is Cache-Control's s-maxage, how long a shared cache
	// (Varnish) may keep a page: cdc purges it on change, so this bounds
	// only what a lost purge leaves stale. 0: no s-maxage.
	SharedMaxAge time.Duration
	Cursors      *cursor.Codec // must be the Codec the read path signs with
	// Tokens verifies Bearer tokens (writesvc's secret). Nil: a request
	// with a token is 401, one without is served as usual.
	Tokens   *auth.Verifier
	Registry prometheus.Registerer
	Logger   *slog.Logger
}

type handler struct {
	src          PageSource
	tokens       *auth.Verifier
	cursors      *cursor.Codec
	logger       *slog.Logger
	cacheControl []string
	m            *httpMetrics
}

// Shared header values: net/http only reads them.
var (
	jsonType   = []string{"application/json; charset=utf-8"}
	nosniff    = []string{"nosniff"}
	staleValue = []string{"1"}
	retryAfter = []string{"1"}
)

// NewHandler returns the API router.
func NewHandler(src PageSource, opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Cursors == nil {
		opts.Cursors = cursor.NewCodec(nil)
	}
	h := &handler{
		src:          src,
		tokens:       opts.Tokens,
		cursors:      opts.Cursors,
		logger:       opts.Logger,
		cacheControl: []string{cacheControl(opts.MaxAge, opts.SharedMaxAge)},
		m:            newHTTPMetrics(opts.Registry),
	}
	r := httpapi.NewRouter(opts.Logger)
	comments, single := h.m.instrument("video_comments", h.videoComments), h.m.instrument("comment", h.comment)
	fast := httpapi.Recoverer(opts.Logger)(h.m.instrument("video_comments", func(w http.ResponseWriter, r *http.Request) int {
		video, _ := commentsRoute(r)
		return h.videoCommentsOf(w, r, video)
	}))
	r.Get("/v1/videos/{video_id}/comments", comments)
	r.Head("/v1/videos/{video_id}/comments", comments) // net/http drops the body
	r.Get("/v1/comments/{id}", single)
	r.Head("/v1/comments/{id}", single)
	replies := h.m.instrument("replies", h.replies)
	r.Get("/v1/comments/{id}/replies", replies)
	r.Head("/v1/comments/{id}/replies", replies)
	return fastRouter{Router: r, fast: fast}
}

// fastRouter is the router (its route table too) with the hottest route
// served beside it.
type fastRouter struct {
	chi.Router
	fast http.Handler
}

func (f fastRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, ok := commentsRoute(r); ok && r.Method == http.MethodGet {
		f.fast.ServeHTTP(w, r)
		return
	}
	f.Router.ServeHTTP(w, r)
}

// commentsRoute matches GET /v1/videos/{video_id}/comments by hand, as the
// router would (one non-empty segment, an unescaped path), so the hottest
// route skips the router's per-request context and path values — the only
// allocations left on a hit. Every other request, and that route's HEAD,
// goes through the router.
func commentsRoute(r *http.Request) (video string, ok bool) {
	if r.URL.RawPath != "" {
		return "", false
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/videos/")
	if !ok {
		return "", false
	}
	video, tail, ok := strings.Cut(rest, "/")
	return video, ok && video != "" && tail == "comments"
}

// apiError is a 4xx/5xx answer.
type apiError struct {
	status        int
	code, message string
}

func (e *apiError) write(w http.ResponseWriter) int {
	if e.status == http.StatusServiceUnavailable {
		w.Header()["Retry-After"] = retryAfter
	}
	httpapi.WriteError(w, e.status, e.code, e.message)
	return e.status
}

func badRequest(code, message string) *apiError {
	return &apiError{http.StatusBadRequest, code, message}
}

func (h *handler) videoComments(w http.ResponseWriter, r *http.Request) int {
	return h.videoCommentsOf(w, r, chi.URLParam(r, "video_id"))
}

func (h *handler) videoCommentsOf(w http.ResponseWriter, r *http.Request, videoID string) int {
	video, err := comment.ParseID(videoID)
	if err != nil {
		return badRequest("bad_video_id", "video_id must be a positive decimal integer").write(w)
	}
	user, aerr := h.user(r)
	if aerr != nil {
		return aerr.write(w)
	}
	req, aerr := h.parsePageQuery(r.URL.RawQuery, video)
	if aerr != nil {
		return aerr.write(w)
	}
	ctx := r.Context()
	if _, shared := r.Header[cdn.FetchHeader]; shared {
		ctx = pages.ConfirmVersion(ctx)
	}
	p, err := h.src.Page(ctx, req)
	if err != nil {
		return h.failure(w, err).write(w)
	}
	if user != 0 && req.Before == 0 && req.Hot.ID == 0 {
		return h.writeOwnPage(w, r, &p, video, user)
	}
	return h.writePage(w, r, &p)
}

func (h *handler) replies(w http.ResponseWriter, r *http.Request) int {
	id, err := comment.ParseID(chi.URLParam(r, "id"))
	if err != nil {
		return badRequest("bad_comment_id", "comment id must be a positive decimal integer").write(w)
	}
	req, aerr := h.parsePageQuery(r.URL.RawQuery, id)
	if aerr != nil {
		return aerr.write(w)
	}
	if req.Sort != cursor.ByTime {
		return badRequest("bad_sort", "replies are listed newest first only").write(w)
	}
	p, err := h.src.Replies(r.Context(), pages.ReplyRequest{Parent: id, Before: req.Before, Limit: req.Limit})
	if err != nil {
		return h.failure(w, err).write(w)
	}
	return h.writePage(w, r, &p)
}

func (h *handler) comment(w http.ResponseWriter, r *http.Request) int {
	id, err := comment.ParseID(chi.URLParam(r, "id"))
	if err != nil {
		return badRequest("bad_comment_id", "comment id must be a positive decimal integer").write(w)
	}
	p, err := h.src.Comment(r.Context(), id)
	if err != nil {
		return h.failure(w, err).write(w)
	}
	if p.NotFound {
		return (&apiError{http.StatusNotFound, "not_found", "comment not found"}).write(w)
	}
	return h.writePage(w, r, &p)
}

// failure maps a read-path error to its answer.
func (h *handler) failure(w http.ResponseWriter, err error) *apiError {
	switch {
	case errors.Is(err, pages.ErrNotFound):
		return &apiError{http.StatusNotFound, "not_found", "comment not found"}
	case errors.Is(err, pages.ErrUnsupportedSort):
		return badRequest("unsupported_sort", "sort=hot is not served yet; use sort=time")
	case errors.Is(err, pages.ErrOverloaded):
		return &apiError{http.StatusServiceUnavailable, "overloaded", "too many reads are waiting for storage; retry shortly"}
	case errors.Is(err, pages.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return &apiError{http.StatusServiceUnavailable, "unavailable", "comments storage is unavailable; retry shortly"}
	}
	h.logger.Error("read failed", "err", err)
	return &apiError{http.StatusInternalServerError, "internal", "internal error"}
}

// writePage writes a page with its caching headers and tags, or 304. The
// tags are those the page was built with (its video or comment and its
// authors, internal/cdn), made once per page value.
func (h *handler) writePage(w http.ResponseWriter, r *http.Request, p *pages.Page) int {
	hdr := w.Header()
	hdr["Cache-Control"] = h.cacheControl
	hdr[cdn.KeyHeader] = p.TagHeader()
	hdr["Etag"] = p.ETagHeader()
	if p.Stale {
		hdr["X-Cache-Stale"] = staleValue
	}
	if inm := r.Header["If-None-Match"]; len(inm) > 0 && etagMatches(inm, p.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return http.StatusNotModified
	}
	hdr["Content-Type"] = jsonType
	hdr["X-Content-Type-Options"] = nosniff
	hdr["Content-Length"] = p.LengthHeader()
	w.WriteHeader(http.StatusOK)
	_, _ = p.WriteTo(w)
	return http.StatusOK
}

// cacheControl is the Cache-Control of every shared page.
func cacheControl(maxAge, shared time.Duration) string {
	cc := "public, max-age=" + strconv.Itoa(int(max(maxAge, time.Second)/time.Second))
	if shared > 0 {
		cc += ", s-maxage=" + strconv.Itoa(int(max(shared, time.Second)/time.Second))
	}
	return cc
}

// etagMatches applies If-None-Match's weak comparison (RFC 9110 13.1.2).
func etagMatches(headers []string, etag string) bool {
	for _, h := range headers {
		if h == etag {
			return true
		}
		for _, t := range strings.Split(h, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || strings.TrimPrefix(t, "W/") == etag {
				return true
			}
		}
	}
	return false
}

// parsePageQuery reads sort, limit and cursor. Other parameters are
// ignored (cache busters); a parameter given twice is an error; an empty
// cursor is no cursor (page one).
func (h *handler) parsePageQuery(raw string, video int64) (pages.Request, *apiError) {
	req := pages.Request{Video: video, Sort: cursor.ByTime, Limit: DefaultLimit}
	var sortS, limitS, cursorS string
	var seenSort, seenLimit, seenCursor bool
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if escaped(k) {
			uk, err := url.QueryUnescape(k)
			if err != nil {
				return req, badRequest("bad_query", "the query string is not valid URL encoding")
			}
			k = uk
		}
		var dst *string
		var seen *bool
		switch k {
		case "sort":
			dst, seen = &sortS, &seenSort
		case "limit":
			dst, seen = &limitS, &seenLimit
		case "cursor":
			dst, seen = &cursorS, &seenCursor
		default:
			continue
		}
		if *seen {
			return req, badRequest("bad_query", "parameter "+k+" given more than once")
		}
		*seen = true
		if escaped(v) {
			uv, err := url.QueryUnescape(v)
			if err != nil {
				return req, badRequest("bad_query", "the query string is not valid URL encoding")
			}
			v = uv
		}
		*dst = v
	}
	if seenSort {
		s, err := cursor.ParseSort(sortS)
		if err != nil || sortS == "" {
			return req, badRequest("bad_sort", "sort must be time or hot")
		}
		req.Sort = s
	}
	if seenLimit {
		n, err := strconv.Atoi(limitS)
		if err != nil || n < 1 || n > pages.MaxLimit || limitS[0] == '+' || (len(limitS) > 1 && limitS[0] == '0') {
			return req, badRequest("bad_limit", "limit must be an integer from 1 to 50")
		}
		req.Limit = n
	}
	if cursorS != "" { // cursor= (empty) is page one, as if absent
		c, err := h.cursors.Decode(video, req.Sort, cursorS)
		if err != nil {
			return req, badRequest("bad_cursor", "cursor is malformed, tampered with, or belongs to another video or sort")
		}
		if req.Sort == cursor.ByHot {
			req.Hot, req.Epoch = pagecache.HotPos{Likes: c.Score, ID: c.LastID}, c.Epoch
		} else {
			req.Before = c.LastID
		}
	}
	return req, nil
}

// escaped reports whether a query key or value needs unescaping (holds
// '%' or '+'): strings.ContainsAny costs a rune search per byte, a tenth
// of a hot-page hit.
func escaped(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' || s[i] == '+' {
			return true
		}
	}
	return false
}

// httpMetrics count requests by route and status and time them.
type httpMetrics struct {
	requests *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "readsvc_http_requests_total", Help: "API requests by route and status code.",
		}, []string{"route", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "readsvc_http_request_seconds", Help: "API request latency by route.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.seconds)
	return m
}

// instrument wraps a handler that returns its status code.
func (m *httpMetrics) instrument(route string, fn func(http.ResponseWriter, *http.Request) int) http.HandlerFunc {
	seconds := m.seconds.WithLabelValues(route)
	codes := map[int]prometheus.Counter{}
	for _, c := range []int{200, 304, 400, 401, 404, 500, 503} {
		codes[c] = m.requests.WithLabelValues(route, strconv.Itoa(c))
	}
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		code := fn(w, r)
		seconds.Observe(time.Since(start).Seconds())
		if c, ok := codes[code]; ok {
			c.Inc()
		} else {
			m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
		}
	}
}
