package pagecache

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// scanPatterns find every video the cache knows: one with pages cached
// (meta) or whose version was ever bumped (ver).
var scanPatterns = []string{"vc:{*}:meta", "vc:{*}:ver"}

// ScanVideos calls fn once for every video with cached pages or a cache
// version, on every master of a Redis Cluster. It only reads; cdc's
// reset-position uses it to invalidate every cached video. fn is never
// called concurrently, even though a cluster's masters are scanned at once.
func (c *Cache) ScanVideos(ctx context.Context, fn func(video int64) error) error {
	var mu sync.Mutex // ForEachMaster runs its callback on every master concurrently
	seen := map[int64]bool{}
	visit := func(v int64) error {
		mu.Lock()
		defer mu.Unlock()
		if seen[v] {
			return nil
		}
		seen[v] = true
		return fn(v)
	}
	scan := func(ctx context.Context, rdb redis.Cmdable) error {
		for _, pattern := range scanPatterns {
			iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
			for iter.Next(ctx) {
				v, ok := videoOfKey(iter.Val())
				if !ok {
					continue
				}
				if err := visit(v); err != nil {
					return err
				}
			}
			if err := iter.Err(); err != nil {
				return fmt.Errorf("pagecache scan %s: %w", pattern, err)
			}
		}
		return nil
	}
	if cc, ok := c.rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return scan(ctx, m) })
	}
	return scan(ctx, c.rdb)
}

// videoOfKey parses the video id out of "vc:{V}:…".
func videoOfKey(key string) (int64, bool) {
	rest, ok := strings.CutPrefix(key, "vc:{")
	if !ok {
		return 0, false
	}
	id, _, ok := strings.Cut(rest, "}:")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(id, 10, 64)
	return v, err == nil
}

// DropVideos deletes every key of the videos [first, first+n) — pages,
// overlay, markers, views, pin — with one SCAN (one per master on a Redis
// Cluster, since SCAN only sees the node it runs on): a benchmark's clean
// slate, never the serving path (which drops pages with Invalidate).
func DropVideos(ctx context.Context, rdb redis.UniversalClient, first int64, n int) error {
	drop := func(ctx context.Context, rdb redis.Cmdable) error {
		iter := rdb.Scan(ctx, 0, "vc:{*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			if v, ok := videoOfKey(iter.Val()); ok && v >= first && v < first+int64(n) {
				keys = append(keys, iter.Val())
			}
		}
		if err := iter.Err(); err != nil {
			return fmt.Errorf("pagecache drop videos: %w", err)
		}
		for _, k := range keys { // keys of different videos may live in different slots
			if err := rdb.Del(ctx, k).Err(); err != nil {
				return fmt.Errorf("pagecache drop videos: %w", err)
			}
		}
		return nil
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return drop(ctx, m) })
	}
	return drop(ctx, rdb)
}
