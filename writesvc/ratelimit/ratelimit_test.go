package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/vidcomments/vidcomments/internal/config"
	"github.com/vidcomments/vidcomments/internal/stacktest"
	"github.com/vidcomments/vidcomments/internal/stores/redisstore"
)

func newLimiter(t *testing.T, rdb redis.UniversalClient, cfg Config) *Limiter {
	t.Helper()
	l, err := New(rdb, cfg, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Two limiters (as two instances would hold) share one allowance per user.
func TestAllowanceIsSharedAndPerUser(t *testing.T) {
	rdb := stacktest.Redis(t)
	prefix := stacktest.Name("vct") + ":"
	t.Cleanup(func() { rdb.Del(context.Background(), "rate:"+prefix+"{1}", "rate:"+prefix+"{2}") })
	cfg := Config{PerMinute: 3, Burst: 3, Prefix: prefix}
	a, b := newLimiter(t, rdb, cfg), newLimiter(t, rdb, cfg)
	ctx := context.Background()
	var allowed int
	var last Decision
	for i := range 8 {
		l := a
		if i%2 == 1 {
			l = b
		}
		d, err := l.Allow(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed {
			allowed++
		} else {
			last = d
		}
	}
	if allowed != 3 {
		t.Errorf("%d allowed of a shared burst of 3", allowed)
	}
	if last.RetryAfter <= 0 || last.RetryAfter > 20*time.Second {
		t.Errorf("RetryAfter %v, want about 60s/3", last.RetryAfter)
	}
	if d, _ := b.Allow(ctx, 2); !d.Allowed {
		t.Error("user 2 is limited by user 1's posts")
	}
}

func TestRedisDown(t *testing.T) {
	stacktest.Integration(t)
	dead := redisstore.New(config.Redis{Addrs: []string{"127.0.0.1:1"}})
	defer dead.Close()
	open := newLimiter(t, dead, Config{PerMinute: 1, FailOpen: true})
	if d, err := open.Allow(context.Background(), 1); err != nil || !d.Allowed || !d.Degraded {
		t.Errorf("fail open: %+v, %v", d, err)
	}
	closed := newLimiter(t, dead, Config{PerMinute: 1, FailOpen: false})
	if _, err := closed.Allow(context.Background(), 1); !errors.Is(err, ErrUnavailable) {
		t.Errorf("fail closed: %v, want ErrUnavailable", err)
	}
}

func TestDisabledNeedsNoRedis(t *testing.T) {
	dead := redisstore.New(config.Redis{Addrs: []string{"127.0.0.1:1"}})
	defer dead.Close()
	l := newLimiter(t, dead, Config{PerMinute: 0})
	for range 100 {
		if d, err := l.Allow(context.Background(), 1); err != nil || !d.Allowed {
			t.Fatalf("disabled limiter refused: %+v %v", d, err)
		}
	}
	if _, err := New(dead, Config{PerMinute: -1}, prometheus.NewRegistry()); err == nil {
		t.Error("negative rate accepted")
	}
}
