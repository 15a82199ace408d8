// Package ratelimit limits how often each user may post, across every
// writesvc instance: the state lives in Redis and is updated by one Lua
// script per request implementing GCRA (go-redis/redis_rate), so all
// instances draw on the same allowance. When Redis fails, the limiter fails
// open (the post goes through, counted) or closed (the post is refused with
// a 503), by configuration.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Config sets the allowance.
type Config struct {
	PerMinute int           // sustained posts per user per minute; 0 disables the limiter
	Burst     int           // posts a user may make at once; 0 means PerMinute
	FailOpen  bool          // on a Redis error: true lets the post through, false refuses it
	Prefix    string        // Redis key prefix; a user's key is Prefix + "{" + user id + "}"
	Timeout   time.Duration // bound on the Redis call; default DefaultTimeout
}

// DefaultTimeout bounds one Redis round trip: a slow Redis must not hold up
// posting when the limiter fails open.
const DefaultTimeout = 250 * time.Millisecond

// ErrUnavailable is returned by Allow when Redis failed and the limiter
// fails closed.
var ErrUnavailable = errors.New("rate limiter unavailable")

// Decision is the outcome for one request.
type Decision struct {
	Allowed    bool
	RetryAfter time.Duration // when not allowed: how long until one post is allowed
	Degraded   bool          // Redis failed and the limiter failed open
}

// Limiter is a per-user post limiter. Safe for concurrent use.
type Limiter struct {
	cfg       Config
	limit     redis_rate.Limit
	rl        *redis_rate.Limiter
	decisions *prometheus.CounterVec
}

// New returns a Limiter on rdb with its metrics registered on reg.
func New(rdb redis.UniversalClient, cfg Config, reg prometheus.Registerer) (*Limiter, error) {
	if cfg.PerMinute < 0 || cfg.Burst < 0 {
		return nil, fmt.Errorf("rate limit %d/min burst %d: want non-negative numbers", cfg.PerMinute, cfg.Burst)
	}
	if cfg.Burst == 0 {
		cfg.Burst = cfg.PerMinute
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	l := &Limiter{
		cfg:   cfg,
		limit: redis_rate.Limit{Rate: cfg.PerMinute, Burst: cfg.Burst, Period: time.Minute},
		rl:    redis_rate.NewLimiter(rdb),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "writesvc_rate_limit_decisions_total",
			Help: "Post rate-limit decisions: allowed, limited, failed_open (Redis error, let through), failed_closed (Redis error, refused).",
		}, []string{"result"}),
	}
	for _, r := range []string{"allowed", "limited", "failed_open", "failed_closed"} {
		l.decisions.WithLabelValues(r)
	}
	if err := reg.Register(l.decisions); err != nil {
		return nil, fmt.Errorf("rate limit metrics: %w", err)
	}
	return l, nil
}

// Key returns the Redis key of a user's allowance (redis_rate adds its own
// "rate:" prefix). The braces make it a Redis Cluster hash tag.
func (l *Limiter) Key(userID int64) string {
	return l.cfg.Prefix + "{" + strconv.FormatInt(userID, 10) + "}"
}

// Allow takes one post from userID's allowance. It returns an error (wrapping
// ErrUnavailable) only when Redis failed and the limiter fails closed.
func (l *Limiter) Allow(ctx context.Context, userID int64) (Decision, error) {
	if l.cfg.PerMinute == 0 {
		return Decision{Allowed: true}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	res, err := l.rl.Allow(ctx, l.Key(userID), l.limit)
	if err != nil {
		if l.cfg.FailOpen {
			l.decisions.WithLabelValues("failed_open").Inc()
			return Decision{Allowed: true, Degraded: true}, nil
		}
		l.decisions.WithLabelValues("failed_closed").Inc()
		return Decision{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if res.Allowed == 0 {
		l.decisions.WithLabelValues("limited").Inc()
		return Decision{RetryAfter: res.RetryAfter}, nil
	}
	l.decisions.WithLabelValues("allowed").Inc()
	return Decision{Allowed: true}, nil
}
