package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vidcomments/vidcomments/internal/config"
	"github.com/vidcomments/vidcomments/internal/stacktest/tcpproxy"
	"github.com/vidcomments/vidcomments/internal/stores/redisstore"
)

// redisVia is a Redis client whose connections all go through px: on a
// Redis Cluster (several addresses) it dials every node through the
// proxy's switch, so cutting px cuts the whole cluster.
func redisVia(t *testing.T, addrs []string, px *tcpproxy.Proxy) redis.UniversalClient {
	opts := redisstore.Options(config.Redis{Addrs: []string{px.Addr()}})
	if len(addrs) > 1 {
		opts.Addrs = addrs
		opts.Dialer = px.Dial
	}
	c := redis.NewUniversalClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// Redis goes away under a running writesvc (DESIGN.md: "Redis down —
// writes: rate limits fail closed or open by config; posts still
// accepted"). Failing open, posts keep being accepted and stored, unlimited;
// failing closed, posts get 503 with nothing written. Either way moderation
// never needs Redis, and the limit holds again once Redis is back.
func TestOutageRedisWrites(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	for _, tt := range []struct {
		name     string
		failOpen bool
	}{{"fail open", true}, {"fail closed", false}} {
		t.Run(tt.name, func(t *testing.T) {
			px := tcpproxy.Start(t, st.redisAddrs[0])
			in := start(t, st.config(t, func(c *Config) {
				c.RateLimitFailOpen = tt.failOpen
				c.RateLimit, c.RateLimitBurst = 3, 3
			}), overrides{redis: redisVia(t, st.redisAddrs, px)})
			waitReady(t, in)
			user := int64(70)
			if tt.failOpen {
				user = 71
			}
			for i := range 3 {
				in.mustPost(t, user, 950, fmt.Sprintf("before the outage %d", i))
			}
			if r := in.post(t, user, 950, map[string]string{"content": "over the limit"}); r.code != http.StatusTooManyRequests {
				t.Fatalf("fourth post with Redis up: %s, want 429", r)
			}
			pending := in.mustPost(t, user+100, 950, "to be moderated during the outage")

			px.Cut()
			before := st.count(t, `SELECT COUNT(*) FROM comments WHERE user_id = ?`, user)
			for i := range 3 {
				r := in.post(t, user, 950, map[string]string{"content": fmt.Sprintf("during the outage %d", i)})
				switch {
				case tt.failOpen && r.code != http.StatusAccepted:
					t.Errorf("fail open, post %d with Redis down: %s, want 202 (unlimited)", i, r)
				case !tt.failOpen && (r.code != http.StatusServiceUnavailable || r.errorCode() != "unavailable" || r.header.Get("Retry-After") == ""):
					t.Errorf("fail closed, post %d with Redis down: %s, want 503 unavailable with Retry-After", i, r)
				}
			}
			want := before
			if tt.failOpen {
				want += 3
			}
			if n := st.count(t, `SELECT COUNT(*) FROM comments WHERE user_id = ?`, user); n != want {
				t.Errorf("%d comments stored during the outage, want %d", n-before, want-before)
			}
			if r := in.moderate(t, pending, "approve", nil); r.code != http.StatusOK {
				t.Errorf("moderation with Redis down: %s", r)
			}
			if c, _ := st.row(t, pending); c.Status != "approved" {
				t.Errorf("comment %d is %q after an approve with Redis down", pending, c.Status)
			}
			result := "failed_closed"
			if tt.failOpen {
				result = "failed_open"
			}
			if v, _ := in.metric(t, `writesvc_rate_limit_decisions_total{result="`+result+`"}`); v != 3 {
				t.Errorf("%s counted %v times, want 3", result, v)
			}

			px.Restore()
			waitFor(t, 20*time.Second, "the limiter to answer again", func() bool {
				return in.post(t, user, 950, map[string]string{"content": "after the outage"}).code == http.StatusTooManyRequests
			})
			if r := in.post(t, user+200, 950, map[string]string{"content": "another user after the outage"}); r.code != http.StatusAccepted {
				t.Errorf("a fresh user after the outage: %s", r)
			}
		})
	}
}
