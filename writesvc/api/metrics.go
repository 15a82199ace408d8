package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/metric"
)

type metrics struct {
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	accepted   *prometheus.CounterVec
	replays    prometheus.Counter
	moderation *prometheus.CounterVec
	bans       *prometheus.CounterVec
	likes      *prometheus.CounterVec
	edits      prometheus.Counter
	safety     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	f := metric.With(reg)
	m := &metrics{
		requests: f.CounterVec("writesvc_http_requests_total", "API requests by route pattern, method and status code.", "route", "method", "code"),
		latency: f.HistogramVec("writesvc_http_request_duration_seconds", "API request latency by route pattern.",
			[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}, "route", "method"),
		accepted: f.CounterVec("writesvc_comments_accepted_total", "Comments committed, by their initial status (pending or approved).", "status"),
		replays:  f.Counter("writesvc_idempotent_replays_total", "Posts answered from a stored Idempotency-Key response."),
		moderation: f.CounterVec("writesvc_moderation_actions_total", "Moderation actions (including authors deleting, pins and unpins) by action and result: changed, unchanged, invalid_transition.",
			"action", "result"),
		bans: f.CounterVec("writesvc_bans_total", "Ban and unban requests applied.", "action"),
		likes: f.CounterVec("writesvc_likes_total", "Like (PUT) and unlike (DELETE) requests by action and result: changed (a like event written) or unchanged.",
			"action", "result"),
		edits: f.Counter("writesvc_edits_total", "Comment edits committed (each with an edited event)."),
		safety: f.CounterVec("writesvc_safety_verdicts_total", "Content-safety verdicts of posts and edits by verdict (allow, hold, refuse) and reason code (none when no rule objected).",
			"verdict", "reason"),
	}
	if err := f.Err(); err != nil {
		return nil, fmt.Errorf("api metrics: %w", err)
	}
	return m, nil
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// instrument counts requests by chi's route pattern, never by raw path, so
// label values stay bounded.
func (a *API) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		if rec.code == 0 {
			rec.code = http.StatusOK
		}
		method := methodLabel(r.Method)
		a.m.requests.WithLabelValues(route, method, strconv.Itoa(rec.code)).Inc()
		a.m.latency.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
	})
}

// methodLabel keeps the method label bounded: clients may send any token.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}
