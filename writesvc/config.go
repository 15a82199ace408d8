package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/config"
	"github.com/vidcomments/vidcomments/writesvc/api"
	"github.com/vidcomments/vidcomments/writesvc/nodelease"
	"github.com/vidcomments/vidcomments/writesvc/outbox"
	"github.com/vidcomments/vidcomments/writesvc/safety"
	"github.com/vidcomments/vidcomments/writesvc/webhook"
)

// Defaults of writesvc's own settings.
const (
	DefaultModeration        = "pre"
	DefaultMaxCommentRunes   = 1000
	DefaultRateLimit         = 10 // posts per user per minute
	DefaultRateLimitBurst    = 10
	DefaultRateLimitFailOpen = true
	DefaultRateLimitPrefix   = "vidcomments:writesvc:posts:"
	DefaultSafetyFail        = "closed" // a classifier outage holds posts for review

	// MaxCommentRunesLimit caps -max-comment-runes: 4 bytes a rune must
	// fit the 16 KiB body and the TEXT column.
	MaxCommentRunesLimit = 4000
)

// Config is writesvc's configuration.
type Config struct {
	config.Process
	Addr  string // public API and moderation listener
	MySQL config.MySQL
	Redis config.Redis
	Kafka config.Kafka

	JWTSecret         string
	Moderation        string // pre | post
	MaxCommentRunes   int
	RateLimit         int // posts per user per minute; 0 turns the limit off
	RateLimitBurst    int
	RateLimitFailOpen bool
	RateLimitPrefix   string
	NodeLeaseTTL      time.Duration
	OutboxPoll        time.Duration
	OutboxBatch       int
	OutboxMaxBackoff  time.Duration
	OutboxRetention   time.Duration
	RequestTimeout    time.Duration
	EditWindow        time.Duration // how long after posting an author may edit

	// Content safety (writesvc/safety): the rules, and the classifier
	// when SafetyClassifierURL is set.
	SafetyBlockedWords      []string
	SafetyPatterns          []string
	SafetyMaxLinks          int // 0: no limit
	SafetyMaxRepeat         int // 0: no limit
	SafetyDuplicateWindow   time.Duration
	SafetyClassifierURL     string // "": no classifier
	SafetyClassifierTimeout time.Duration
	SafetyClassifierFail    string // open | closed
	// Webhook deliveries (writesvc/webhook): one attempt's bound, the lease
	// after which a dead sender's delivery is due again, and the attempts
	// before one is given up.
	WebhookTimeout     time.Duration
	WebhookLease       time.Duration
	WebhookMaxAttempts int
	WebhookMinBackoff  time.Duration // after the first failure, doubling per attempt up to 10m
}

// RegisterFlags registers every writesvc flag with its VC_… environment name.
func (c *Config) RegisterFlags(f *config.Flags) {
	c.Process.RegisterFlags(f, "VC_WRITESVC_", config.DefaultWriteAdminAddr)
	f.String(&c.Addr, "addr", "VC_WRITESVC_ADDR", config.DefaultWriteAddr, "public API listen address")
	c.MySQL.RegisterFlags(f)
	c.Redis.RegisterFlags(f)
	c.Kafka.RegisterFlags(f)
	registerSecret(f, &c.JWTSecret)
	f.String(&c.Moderation, "moderation", "VC_MODERATION", DefaultModeration, "pre: new comments wait for a moderator; post: they are approved at once")
	f.Int(&c.MaxCommentRunes, "max-comment-runes", "VC_MAX_COMMENT_RUNES", DefaultMaxCommentRunes, "longest comment in characters (runes, after NFC)")
	f.Int(&c.RateLimit, "rate-limit", "VC_RATE_LIMIT", DefaultRateLimit, "posts per user per minute, across all instances (0: no limit)")
	f.Int(&c.RateLimitBurst, "rate-limit-burst", "VC_RATE_LIMIT_BURST", DefaultRateLimitBurst, "posts a user may make at once (0: same as -rate-limit)")
	f.Bool(&c.RateLimitFailOpen, "rate-limit-fail-open", "VC_RATE_LIMIT_FAIL_OPEN", DefaultRateLimitFailOpen, "when Redis fails: true accepts posts unlimited, false answers 503")
	f.String(&c.RateLimitPrefix, "rate-limit-prefix", "VC_RATE_LIMIT_PREFIX", DefaultRateLimitPrefix, "Redis key prefix of the per-user allowances")
	f.Duration(&c.NodeLeaseTTL, "node-lease-ttl", "VC_NODE_LEASE_TTL", nodelease.DefaultTTL, "lease on the comment-id node number; renewed every third of it")
	f.Duration(&c.OutboxPoll, "outbox-poll", "VC_OUTBOX_POLL", outbox.DefaultPoll, "how often the relay leader looks for rows other instances or plain SQL committed")
	f.Int(&c.OutboxBatch, "outbox-batch", "VC_OUTBOX_BATCH", outbox.DefaultBatch, "outbox rows per Kafka batch")
	f.Duration(&c.OutboxMaxBackoff, "outbox-max-backoff", "VC_OUTBOX_MAX_BACKOFF", outbox.DefaultMaxBackoff, "longest pause between relay retries while Kafka fails")
	f.Duration(&c.OutboxRetention, "outbox-retention", "VC_OUTBOX_RETENTION", outbox.DefaultRetention, "sent outbox rows are deleted after this long (0: kept)")
	f.Duration(&c.RequestTimeout, "request-timeout", "VC_WRITESVC_REQUEST_TIMEOUT", api.DefaultRequestTimeout, "bound on the work behind one API request")
	f.Duration(&c.EditWindow, "edit-window", "VC_EDIT_WINDOW", api.DefaultEditWindow, "how long after posting an author may edit a comment")
	f.List(&c.SafetyBlockedWords, "safety-blocked-words", "VC_SAFETY_BLOCKED_WORDS", nil, "words or phrases that refuse a post, matched case-insensitively on word boundaries")
	f.List(&c.SafetyPatterns, "safety-patterns", "VC_SAFETY_PATTERNS", nil, `RE2 patterns that refuse a post ((?i) for any case; write a comma as \x2c)`)
	f.Int(&c.SafetyMaxLinks, "safety-max-links", "VC_SAFETY_MAX_LINKS", safety.DefaultMaxLinks, "a post with more links than this is held for review (0: no limit)")
	f.Int(&c.SafetyMaxRepeat, "safety-max-repeat", "VC_SAFETY_MAX_REPEAT", safety.DefaultMaxRepeat, "a post repeating one character more often in a row is held for review (0: no limit)")
	f.Duration(&c.SafetyDuplicateWindow, "safety-duplicate-window", "VC_SAFETY_DUPLICATE_WINDOW", safety.DefaultDuplicateWindow, "the same content by the same user on the same video within this long is refused (0: off)")
	f.String(&c.SafetyClassifierURL, "safety-classifier-url", "VC_SAFETY_CLASSIFIER_URL", "", `HTTP classifier posts are sent to as {"content","user_id","video_id"} ("": none)`)
	f.Duration(&c.SafetyClassifierTimeout, "safety-classifier-timeout", "VC_SAFETY_CLASSIFIER_TIMEOUT", safety.DefaultClassifierTimeout, "how long a post waits for the classifier")
	f.String(&c.SafetyClassifierFail, "safety-classifier-fail", "VC_SAFETY_CLASSIFIER_FAIL", DefaultSafetyFail, "when the classifier times out or fails: open allows the post, closed holds it for review")
	f.Duration(&c.WebhookTimeout, "webhook-timeout", "VC_WEBHOOK_TIMEOUT", webhook.DefaultTimeout, "bound on one webhook delivery attempt")
	f.Duration(&c.WebhookLease, "webhook-lease", "VC_WEBHOOK_LEASE", webhook.DefaultLease, "a delivery claimed by an instance that died is sent again after this (more than -webhook-timeout)")
	f.Int(&c.WebhookMaxAttempts, "webhook-max-attempts", "VC_WEBHOOK_MAX_ATTEMPTS", webhook.DefaultMaxAttempts, "attempts before a webhook delivery is given up")
	f.Duration(&c.WebhookMinBackoff, "webhook-min-backoff", "VC_WEBHOOK_MIN_BACKOFF", webhook.DefaultMinBackoff, "wait after a failed webhook attempt, doubling per attempt up to 10m")
}

func registerSecret(f *config.Flags, p *string) {
	f.String(p, "jwt-secret", "VC_JWT_SECRET", "", "HS256 secret of bearer tokens, at least 32 bytes (prefer the environment: flags show in ps)")
}

// Validate reports every setting writesvc cannot start with.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if err := c.MySQL.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := auth.CheckSecret(c.JWTSecret); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.initialStatus(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxCommentRunes < 1 || c.MaxCommentRunes > MaxCommentRunesLimit {
		add("max-comment-runes %d: want 1..%d", c.MaxCommentRunes, MaxCommentRunesLimit)
	}
	if c.RateLimit < 0 || c.RateLimitBurst < 0 {
		add("rate-limit %d, rate-limit-burst %d: want non-negative numbers", c.RateLimit, c.RateLimitBurst)
	}
	if c.NodeLeaseTTL < time.Second {
		add("node-lease-ttl %v: want at least 1s", c.NodeLeaseTTL)
	}
	if c.OutboxPoll <= 0 || c.OutboxMaxBackoff <= 0 || c.OutboxRetention < 0 || c.RequestTimeout <= 0 {
		add("outbox-poll, outbox-max-backoff and request-timeout must be positive, outbox-retention not negative")
	}
	if c.EditWindow <= 0 {
		add("edit-window %v: want a positive duration", c.EditWindow)
	}
	if c.WebhookTimeout <= 0 || c.WebhookLease <= c.WebhookTimeout || c.WebhookMaxAttempts < 1 || c.WebhookMinBackoff <= 0 {
		add("webhook-timeout %v, webhook-lease %v, webhook-max-attempts %d, webhook-min-backoff %v: want a positive timeout, a longer lease, at least one attempt and a positive backoff",
			c.WebhookTimeout, c.WebhookLease, c.WebhookMaxAttempts, c.WebhookMinBackoff)
	}
	if c.OutboxBatch < 1 || c.OutboxBatch > 5000 {
		add("outbox-batch %d: want 1..5000", c.OutboxBatch)
	}
	if len(c.Kafka.Brokers) == 0 || c.Kafka.Topic == "" {
		add("kafka-brokers and kafka-topic must be set")
	}
	if len(c.Redis.Addrs) == 0 {
		add("redis-addr must be set")
	}
	if _, err := c.safetyChecker(noRecent{}, nil); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// safetyChecker builds the content check of posts: the rules, then the
// classifier when one is configured. recent answers the duplicate rule.
func (c Config) safetyChecker(recent safety.Recent, logger *slog.Logger) (safety.Chain, error) {
	rules, err := safety.NewRules(safety.RulesConfig{
		BlockedWords: c.SafetyBlockedWords, Patterns: c.SafetyPatterns,
		MaxLinks: c.SafetyMaxLinks, MaxRepeat: c.SafetyMaxRepeat, DuplicateWindow: c.SafetyDuplicateWindow,
	}, recent, nil)
	if err != nil {
		return nil, err
	}
	chain := safety.Chain{rules}
	if c.SafetyClassifierFail != "open" && c.SafetyClassifierFail != "closed" {
		return nil, fmt.Errorf("safety-classifier-fail %q: want open or closed", c.SafetyClassifierFail)
	}
	if c.SafetyClassifierURL == "" {
		return chain, nil
	}
	if c.SafetyClassifierTimeout <= 0 {
		return nil, fmt.Errorf("safety-classifier-timeout %v: want a positive duration", c.SafetyClassifierTimeout)
	}
	cl, err := safety.NewClassifier(safety.ClassifierConfig{
		URL: c.SafetyClassifierURL, Timeout: c.SafetyClassifierTimeout, FailOpen: c.SafetyClassifierFail == "open",
	}, logger)
	if err != nil {
		return nil, err
	}
	return append(chain, cl), nil
}

// noRecent stands in for the store while the configuration is checked.
type noRecent struct{}

func (noRecent) PostedSince(context.Context, int64, int64, int64, string, time.Time) (bool, error) {
	return false, nil
}

// initialStatus is the status of a new comment under -moderation.
func (c Config) initialStatus() (comment.Status, error) {
	switch c.Moderation {
	case "pre":
		return comment.Pending, nil
	case "post":
		return comment.Approved, nil
	}
	return "", fmt.Errorf("moderation %q: want pre or post", c.Moderation)
}
