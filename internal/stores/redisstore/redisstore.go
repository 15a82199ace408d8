// Package redisstore opens Redis clients — a single node or a Redis Cluster
// behind one UniversalClient — with the settings every service shares.
package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vidcomments/vidcomments/internal/config"
)

// New returns a UniversalClient: a single-node client for one address,
// a cluster client for several. It does not dial; use Ping.
func New(cfg config.Redis) redis.UniversalClient {
	return redis.NewUniversalClient(Options(cfg))
}

// Options are the settings New uses, for a caller that changes one (a
// test's dialer) before making the client itself.
func Options(cfg config.Redis) *redis.UniversalOptions {
	return &redis.UniversalOptions{
		Addrs:        cfg.Addrs,
		DialTimeout:  2 * time.Second,
		ReadTimeout:  time.Second,
		WriteTimeout: time.Second,
		PoolSize:     128,
		// A down Redis must fail fast (DESIGN.md failure table), not queue.
		PoolTimeout: 500 * time.Millisecond,
		MaxRetries:  1,
		// go-redis tries a failed dial 5 times, 100 ms apart, by default;
		// a cluster client then retries the command on another attempt
		// (up to MaxRedirects): seconds before a down Redis is noticed.
		// One dial per attempt keeps a refused connection a fast error.
		DialerRetries: 1,
	}
}

// Ping checks Redis answers.
func Ping(ctx context.Context, c redis.UniversalClient) error {
	if err := c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis ping: %w", err)
	}
	return nil
}
