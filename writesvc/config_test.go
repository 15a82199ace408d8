package main

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/internal/config/configtest"
)

func TestConfigDefaults(t *testing.T) {
	configtest.Defaults(t, Config{
		Process: configtest.Process("127.0.0.1:9081"),
		Addr:    "127.0.0.1:8081",
		MySQL:   configtest.MySQL,
		Redis:   configtest.Redis,
		Kafka:   configtest.Kafka,

		JWTSecret:         "",
		Moderation:        "pre",
		MaxCommentRunes:   1000,
		RateLimit:         10,
		RateLimitBurst:    10,
		RateLimitFailOpen: true,
		RateLimitPrefix:   "vidcomments:writesvc:posts:",
		NodeLeaseTTL:      15 * time.Second,
		OutboxPoll:        20 * time.Millisecond,
		OutboxBatch:       500,
		OutboxMaxBackoff:  30 * time.Second,
		OutboxRetention:   24 * time.Hour,
		RequestTimeout:    10 * time.Second,
		EditWindow:        5 * time.Minute,

		SafetyMaxLinks:          5,
		SafetyMaxRepeat:         40,
		SafetyDuplicateWindow:   10 * time.Minute,
		SafetyClassifierURL:     "",
		SafetyClassifierTimeout: 500 * time.Millisecond,
		SafetyClassifierFail:    "closed",
		// Webhook deliveries: 5 s an attempt, sent again 30 s after a dead
		// sender's claim, given up after 12 attempts.
		WebhookTimeout:     5 * time.Second,
		WebhookLease:       30 * time.Second,
		WebhookMaxAttempts: 12,
		WebhookMinBackoff:  time.Second,
	}, false)
}

func TestConfigSafetyFromEnv(t *testing.T) {
	var got Config
	configtest.Parse(t, &got, map[string]string{
		"VC_SAFETY_BLOCKED_WORDS": "spam, buy now", "VC_SAFETY_PATTERNS": `(?i)free\s+v-?bucks,\d{3}-\d{4}`,
		"VC_SAFETY_MAX_LINKS": "2", "VC_SAFETY_MAX_REPEAT": "9", "VC_SAFETY_DUPLICATE_WINDOW": "1m",
		"VC_SAFETY_CLASSIFIER_URL": "http://127.0.0.1:7000/classify", "VC_SAFETY_CLASSIFIER_TIMEOUT": "150ms",
		"VC_SAFETY_CLASSIFIER_FAIL": "open",
	})
	want := []any{[]string{"spam", "buy now"}, []string{`(?i)free\s+v-?bucks`, `\d{3}-\d{4}`}, 2, 9, time.Minute,
		"http://127.0.0.1:7000/classify", 150 * time.Millisecond, "open"}
	have := []any{got.SafetyBlockedWords, got.SafetyPatterns, got.SafetyMaxLinks, got.SafetyMaxRepeat, got.SafetyDuplicateWindow,
		got.SafetyClassifierURL, got.SafetyClassifierTimeout, got.SafetyClassifierFail}
	if !reflect.DeepEqual(have, want) {
		t.Errorf("safety settings %v, want %v", have, want)
	}
	got.JWTSecret = testSecret
	chain, err := got.safetyChecker(noRecent{}, nil)
	if err != nil || len(chain) != 2 {
		t.Errorf("rules and classifier: %d checkers, %v", len(chain), err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	var got Config
	configtest.Parse(t, &got, map[string]string{
		"VC_WRITESVC_ADDR": "0.0.0.0:18081", "VC_MYSQL_FLAVOR": "mysql", "VC_KAFKA_BROKERS": "k1:9092,k2:9092",
		"VC_JWT_SECRET": "s", "VC_MODERATION": "post", "VC_MAX_COMMENT_RUNES": "500", "VC_RATE_LIMIT": "3",
		"VC_RATE_LIMIT_BURST": "7", "VC_RATE_LIMIT_FAIL_OPEN": "false", "VC_RATE_LIMIT_PREFIX": "p:",
		"VC_NODE_LEASE_TTL": "20s", "VC_OUTBOX_POLL": "50ms", "VC_OUTBOX_BATCH": "100", "VC_OUTBOX_MAX_BACKOFF": "5s",
		"VC_OUTBOX_RETENTION": "1h", "VC_WRITESVC_REQUEST_TIMEOUT": "3s", "VC_EDIT_WINDOW": "90s",
		"VC_WEBHOOK_TIMEOUT": "2s", "VC_WEBHOOK_LEASE": "10s", "VC_WEBHOOK_MAX_ATTEMPTS": "3", "VC_WEBHOOK_MIN_BACKOFF": "100ms",
	})
	if got.WebhookTimeout != 2*time.Second || got.WebhookLease != 10*time.Second || got.WebhookMaxAttempts != 3 || got.WebhookMinBackoff != 100*time.Millisecond {
		t.Errorf("webhook env not applied: %+v", got)
	}
	if got.Addr != "0.0.0.0:18081" || got.MySQL.Flavor != "mysql" || !reflect.DeepEqual(got.Kafka.Brokers, []string{"k1:9092", "k2:9092"}) ||
		got.JWTSecret != "s" || got.Moderation != "post" || got.MaxCommentRunes != 500 || got.RateLimit != 3 || got.RateLimitBurst != 7 ||
		got.RateLimitFailOpen || got.RateLimitPrefix != "p:" || got.NodeLeaseTTL != 20*time.Second || got.OutboxPoll != 50*time.Millisecond ||
		got.OutboxBatch != 100 || got.OutboxMaxBackoff != 5*time.Second || got.OutboxRetention != time.Hour || got.RequestTimeout != 3*time.Second ||
		got.EditWindow != 90*time.Second {
		t.Errorf("env not applied: %+v", got)
	}
}

func TestConfigValidate(t *testing.T) {
	good := func() Config {
		var c Config
		configtest.Parse(t, &c, map[string]string{"VC_JWT_SECRET": testSecret})
		return c
	}
	if err := good().Validate(); err != nil {
		t.Fatalf("defaults with a secret: %v", err)
	}
	tests := []struct {
		name   string
		mod    func(*Config)
		errHas string
	}{
		{"empty secret", func(c *Config) { c.JWTSecret = "" }, "VC_JWT_SECRET"},
		{"short secret", func(c *Config) { c.JWTSecret = "too-short" }, "at least 32"},
		{"moderation", func(c *Config) { c.Moderation = "none" }, "pre or post"},
		{"zero runes", func(c *Config) { c.MaxCommentRunes = 0 }, "max-comment-runes"},
		{"too many runes", func(c *Config) { c.MaxCommentRunes = MaxCommentRunesLimit + 1 }, "max-comment-runes"},
		{"negative rate", func(c *Config) { c.RateLimit = -1 }, "rate-limit"},
		{"short lease", func(c *Config) { c.NodeLeaseTTL = time.Millisecond }, "node-lease-ttl"},
		{"zero poll", func(c *Config) { c.OutboxPoll = 0 }, "outbox-poll"},
		{"huge batch", func(c *Config) { c.OutboxBatch = 100000 }, "outbox-batch"},
		{"no brokers", func(c *Config) { c.Kafka.Brokers = nil }, "kafka-brokers"},
		{"bad flavor", func(c *Config) { c.MySQL.Flavor = "oracle" }, "mysql-flavor"},
		{"bad safety pattern", func(c *Config) { c.SafetyPatterns = []string{"(open"} }, "safety pattern"},
		{"negative links", func(c *Config) { c.SafetyMaxLinks = -1 }, "max links"},
		{"negative repeat", func(c *Config) { c.SafetyMaxRepeat = -1 }, "max repeat"},
		{"negative window", func(c *Config) { c.SafetyDuplicateWindow = -time.Second }, "duplicate window"},
		{"classifier fail", func(c *Config) { c.SafetyClassifierFail = "maybe" }, "safety-classifier-fail"},
		{"classifier url", func(c *Config) { c.SafetyClassifierURL = "localhost:7000" }, "classifier url"},
		{"classifier timeout", func(c *Config) {
			c.SafetyClassifierURL, c.SafetyClassifierTimeout = "http://127.0.0.1:7000", 0
		}, "safety-classifier-timeout"},
		{"webhook lease within its timeout", func(c *Config) { c.WebhookLease = c.WebhookTimeout }, "webhook-lease"},
		{"no webhook attempts", func(c *Config) { c.WebhookMaxAttempts = 0 }, "webhook-max-attempts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good()
			tt.mod(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("Validate = %v, want an error naming %q", err, tt.errHas)
			}
		})
	}
}

// Without a secret writesvc refuses to start, saying what to set.
func TestStartRefusedWithoutSecret(t *testing.T) {
	var c Config
	configtest.Parse(t, &c, nil)
	_, err := build(t.Context(), c, testLogger(t), overrides{})
	if err == nil || !strings.Contains(err.Error(), "VC_JWT_SECRET") {
		t.Fatalf("build without a secret: %v", err)
	}
}

func TestTokenCommand(t *testing.T) {
	t.Setenv("VC_JWT_SECRET", testSecret)
	var out, errOut bytes.Buffer
	if code := tokenMain([]string{"-sub", "42", "-role", "moderator", "-ttl", "10m"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	v, err := auth.NewVerifier(testSecret, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(strings.TrimSpace(out.String()))
	if err != nil || p != (auth.Principal{UserID: 42, Role: auth.RoleModerator}) {
		t.Fatalf("token says %+v, %v", p, err)
	}
	late, _ := auth.NewVerifier(testSecret, func() time.Time { return time.Now().Add(11 * time.Minute) })
	if _, err := late.Verify(strings.TrimSpace(out.String())); err == nil {
		t.Error("a 10m token is valid 11m later")
	}

	for _, bad := range [][]string{
		{"-sub", "42", "-role", "admin"},
		{"-role", "user"}, // no -sub
		{"-sub", "-3"},
		{"-sub", "42", "-ttl", "0s"},
		{"-sub", "42", "extra"},
	} {
		out.Reset()
		if code := tokenMain(bad, &out, &errOut); code == 0 || out.Len() != 0 {
			t.Errorf("token %v: exit %d, printed %q", bad, code, out.String())
		}
	}
	t.Setenv("VC_JWT_SECRET", "")
	errOut.Reset()
	if code := tokenMain([]string{"-sub", "1"}, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), "VC_JWT_SECRET") {
		t.Errorf("token without a secret: exit %d, %q", code, errOut.String())
	}
}
