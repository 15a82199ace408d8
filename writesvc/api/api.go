// Package api is writesvc's HTTP API: posting and deleting comments, and the
// moderation API. It authenticates every request with a bearer token,
// validates every input before anything is written, and answers every error
// as {"error":{"code","message"}} — a 4xx for anything the request got
// wrong, a 503 only when a dependency fails. README.md lists the routes and
// every error code.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/config"
	"github.com/vidcomments/vidcomments/internal/httpapi"
	"github.com/vidcomments/vidcomments/writesvc/ratelimit"
	"github.com/vidcomments/vidcomments/writesvc/store"
)

// Store is what the API needs of MySQL.
type Store interface {
	Create(ctx context.Context, p store.Post) (store.Created, error)
	Idempotent(ctx context.Context, userID int64, key string) (store.Stored, bool, error)
	Transition(ctx context.Context, ch store.Change) (store.Changed, error)
	Queue(ctx context.Context, q store.QueueQuery) ([]store.Queued, error)
	Ban(ctx context.Context, b store.Ban) (store.Ban, error)
	Unban(ctx context.Context, userID int64) (bool, error)
	SetLike(ctx context.Context, l store.Like) (store.Liked, error)
	Edit(ctx context.Context, e store.Edit) (store.Changed, error)
	Pin(ctx context.Context, p store.PinChange) (store.Pinned, error)
}

// Limiter decides whether a user may post now.
type Limiter interface {
	Allow(ctx context.Context, userID int64) (ratelimit.Decision, error)
}

// Notifier is told after every commit that the outbox has new rows.
type Notifier interface{ Notify() }

// Verifier checks bearer tokens.
type Verifier interface {
	Verify(token string) (auth.Principal, error)
}

// Config tunes the API.
type Config struct {
	Moderation     comment.Status // status of new comments: Pending (pre-moderation) or Approved (post)
	MaxRunes       int            // longest comment, in runes after normalisation
	RequestTimeout time.Duration  // bound on the work behind one request
	MaxInflight    int            // requests worked on at once; more get 503 (0: DefaultMaxInflight)
	EditWindow     time.Duration  // how long after posting an author may edit
	Safety         Safety         // the content check of posts; nil: every post allowed
	// Webhooks stores the endpoints of /v1/mod/webhooks (*webhook.Store);
	// nil: those routes answer 404.
	Webhooks WebhookStore
	// Profiles stores what PUT /v1/me/profile sends (*store.Store); nil:
	// that route answers 404.
	Profiles ProfileStore
}

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 16 << 10

// DefaultRequestTimeout is Config.RequestTimeout's default.
const DefaultRequestTimeout = 10 * time.Second

// DefaultEditWindow is Config.EditWindow's default.
const DefaultEditWindow = 5 * time.Minute

// API is the HTTP API. Build it with New and serve Handler.
type API struct {
	cfg      Config
	store    Store
	limiter  Limiter
	outbox   Notifier
	verifier Verifier
	log      *slog.Logger
	m        *metrics
	inflight *inflightLimit
	handler  http.Handler
}

// New wires the API and registers its metrics on reg.
func New(cfg Config, st Store, lim Limiter, ob Notifier, v Verifier, logger *slog.Logger, reg prometheus.Registerer) (*API, error) {
	if cfg.Moderation != comment.Pending && cfg.Moderation != comment.Approved {
		return nil, fmt.Errorf("api: new comments must be pending or approved, not %q", cfg.Moderation)
	}
	if cfg.MaxRunes <= 0 {
		return nil, fmt.Errorf("api: max runes %d", cfg.MaxRunes)
	}
	config.Default(&cfg.RequestTimeout, DefaultRequestTimeout)
	config.Default(&cfg.MaxInflight, DefaultMaxInflight)
	config.Default(&cfg.EditWindow, DefaultEditWindow)
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	inflight, err := newInflightLimit(cfg.MaxInflight, reg)
	if err != nil {
		return nil, err
	}
	a := &API{cfg: cfg, store: st, limiter: lim, outbox: ob, verifier: v, log: logger, m: m, inflight: inflight}
	a.handler = a.routes()
	return a, nil
}

// Handler returns the API's HTTP handler.
func (a *API) Handler() http.Handler { return a.handler }

// Routes. Every GET route also answers HEAD (the GET's status and headers,
// no body); a method a path does not serve is 405 with Allow. chi cannot match a literal ":action" after a parameter inside one
// path segment, so /v1/mod/comments/{id}:{action} is routed as one
// parameter and split on its last ':'.
func (a *API) routes() http.Handler {
	r := httpapi.NewRouter(a.log)
	r.Use(a.instrument, a.limitInflight, a.timeout)
	r.Group(func(r chi.Router) {
		r.Use(a.authenticate)
		r.Post("/v1/videos/{video_id}/comments", a.postComment)
		r.Delete("/v1/comments/{id}", a.deleteComment)
		r.Put("/v1/me/profile", a.putProfile)
		r.Patch("/v1/comments/{id}", a.editComment)
		r.Put("/v1/comments/{id}/like", a.like)
		r.Delete("/v1/comments/{id}/like", a.like)
		r.Group(func(r chi.Router) {
			r.Use(a.requireModerator)
			r.Put("/v1/mod/videos/{video_id}/pin", a.pin)
			r.Delete("/v1/mod/videos/{video_id}/pin", a.pin)
			r.Get("/v1/mod/queue", a.queue)
			r.Head("/v1/mod/queue", a.queue) // GET without the body (net/http drops it)
			r.Post("/v1/mod/comments:batch", a.batch)
			r.Post("/v1/mod/comments/{idAction}", a.moderate)
			r.Post("/v1/mod/users/{idAction}", a.userAction)
			r.Post("/v1/mod/webhooks", a.createWebhook)
			r.Get("/v1/mod/webhooks", a.listWebhooks)
			r.Head("/v1/mod/webhooks", a.listWebhooks)
			r.Delete("/v1/mod/webhooks/{id}", a.deleteWebhook)
			r.Get("/v1/mod/webhooks/{id}/deliveries", a.webhookDeliveries)
			r.Head("/v1/mod/webhooks/{id}/deliveries", a.webhookDeliveries)
		})
	})
	return r
}

type principalKey struct{}

func principal(ctx context.Context) auth.Principal {
	p, _ := ctx.Value(principalKey{}).(auth.Principal)
	return p
}

// authenticate verifies the bearer token and puts its Principal in the
// request context.
func (a *API) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		values := r.Header.Values("Authorization")
		if len(values) == 0 {
			a.unauthorized(w, "missing_token", "this request needs an Authorization: Bearer <token> header")
			return
		}
		tok, ok := auth.BearerToken(values[0])
		if len(values) > 1 || !ok {
			a.unauthorized(w, "invalid_token", "the Authorization header must be a single Bearer <token>")
			return
		}
		p, err := a.verifier.Verify(tok)
		switch {
		case errors.Is(err, auth.ErrExpired):
			a.unauthorized(w, "token_expired", "the token has expired")
			return
		case errors.Is(err, auth.ErrNotYetValid):
			a.unauthorized(w, "token_not_yet_valid", "the token is not valid yet")
			return
		case err != nil:
			a.log.Debug("token refused", "err", err)
			a.unauthorized(w, "invalid_token", "the token is malformed, not signed with HS256 by this service, or carries bad claims")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

func (a *API) unauthorized(w http.ResponseWriter, code, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="vidcomments", error="invalid_token"`)
	httpapi.WriteError(w, http.StatusUnauthorized, code, msg)
}

func (a *API) requireModerator(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if principal(r.Context()).Role != auth.RoleModerator {
			httpapi.WriteError(w, http.StatusForbidden, "forbidden", "this needs the moderator role")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (a *API) timeout(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), a.cfg.RequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// unavailable answers a dependency failure: logged here, once, and a 503
// the client may retry.
func (a *API) unavailable(w http.ResponseWriter, r *http.Request, what string, err error) {
	if r.Context().Err() != nil {
		a.log.Info("request ended before "+what, "path", r.URL.Path, "err", err)
	} else {
		a.log.Error(what+" failed", "path", r.URL.Path, "err", err)
	}
	w.Header().Set("Retry-After", "1")
	httpapi.WriteError(w, http.StatusServiceUnavailable, "unavailable", what+" is unavailable; retry shortly")
}

// pathID parses an id in the path (kind: video, comment or user). When it
// is not one, it answers 400 invalid_<kind>_id and ok is false.
func pathID(w http.ResponseWriter, raw, kind string) (id int64, ok bool) {
	id, err := comment.ParseID(raw)
	if err != nil {
		badRequest("invalid_"+kind+"_id", "the %s id must be a positive decimal integer", kind).write(w)
		return 0, false
	}
	return id, true
}

// allowPost asks the rate limiter whether the user may post (or edit) now.
// When not, it has answered (429 with Retry-After, or 503 when the limiter
// fails) and returns false.
func (a *API) allowPost(w http.ResponseWriter, r *http.Request, userID int64) bool {
	dec, err := a.limiter.Allow(r.Context(), userID)
	if err != nil {
		a.unavailable(w, r, "the rate limiter", err)
		return false
	}
	if !dec.Allowed {
		w.Header().Set("Retry-After", retryAfterSeconds(dec.RetryAfter))
		httpapi.WriteError(w, http.StatusTooManyRequests, "rate_limited", "too many comments; retry after the time in Retry-After")
		return false
	}
	return true
}

func retryAfterSeconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}
