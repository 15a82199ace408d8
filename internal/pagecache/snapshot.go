package pagecache

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
)

// WindowSnapshot is a video's cached time window exactly as Redis holds it,
// read in one MULTI/EXEC so it is a consistent picture: what the cache
// inspector (internal/inspect) compares with the system of record.
type WindowSnapshot struct {
	Cached   bool  // vc:{V}:meta exists
	Version  int64 // vc:{V}:ver (0: never bumped)
	Total    int64 // meta total
	Complete bool  // meta complete
	// IDs are the members of vc:{V}:time, newest first.
	IDs []int64
	// Bodies holds the body of every member that has one in vc:{V}:body.
	Bodies map[int64][]byte
}

// Snapshot reads a video's whole cached time window (at most Window ids plus
// what a corrupted key may hold) without changing anything.
func (c *Cache) Snapshot(ctx context.Context, video int64) (WindowSnapshot, error) {
	var (
		ver   *redis.StringCmd
		meta  *redis.SliceCmd
		ids   *redis.StringSliceCmd
		exist *redis.IntCmd
		all   *redis.MapStringStringCmd
	)
	_, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		ver = p.Get(ctx, verKey(video))
		exist = p.Exists(ctx, metaKey(video))
		meta = p.HMGet(ctx, metaKey(video), "total", "complete")
		ids = p.ZRevRangeByLex(ctx, timeKey(video), &redis.ZRangeBy{Min: "-", Max: "+"})
		all = p.HGetAll(ctx, bodyKey(video))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return WindowSnapshot{}, fmt.Errorf("pagecache snapshot video %d: %w", video, err)
	}
	var s WindowSnapshot
	if v, err := ver.Int64(); err == nil {
		s.Version = v
	}
	s.Cached = exist.Val() == 1
	if m := meta.Val(); len(m) == 2 {
		if t, ok := m[0].(string); ok {
			if s.Total, err = toInt(t); err != nil {
				return WindowSnapshot{}, fmt.Errorf("pagecache snapshot video %d total: %w", video, err)
			}
		}
		s.Complete = m[1] == "1"
	}
	members := ids.Val()
	s.IDs = make([]int64, 0, len(members))
	s.Bodies = make(map[int64][]byte, len(members))
	bodies := all.Val()
	for _, m := range members {
		id, err := parseMember(m)
		if err != nil {
			return WindowSnapshot{}, fmt.Errorf("pagecache snapshot video %d: bad member %q: %w", video, m, err)
		}
		s.IDs = append(s.IDs, id)
		if b, ok := bodies[m]; ok {
			s.Bodies[id] = []byte(b)
		}
	}
	return s, nil
}

// ScanCachedVideos returns about n videos with cached pages (a vc:{V}:meta
// key), continuing a SCAN from cursor; the returned cursor is 0 once the
// keyspace was walked. It never drops part of a SCAN batch (the cursor moves
// past it), so it may return somewhat more than n; successive calls walk
// every cached video. On a Redis Cluster the cursor is ignored and the
// first n videos found on the masters are returned (with cursor 0).
func (c *Cache) ScanCachedVideos(ctx context.Context, cursor uint64, n int) ([]int64, uint64, error) {
	var out []int64
	seen := map[int64]bool{}
	add := func(keys []string, limit int) {
		for _, k := range keys {
			if v, ok := videoOfKey(k); ok && !seen[v] && len(out) < limit {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	if cc, ok := c.rdb.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		err := cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			iter := m.Scan(ctx, 0, "vc:{*}:meta", 1000).Iterator()
			for iter.Next(ctx) {
				mu.Lock()
				add([]string{iter.Val()}, n)
				full := len(out) >= n
				mu.Unlock()
				if full {
					break
				}
			}
			return iter.Err()
		})
		if err != nil {
			return nil, 0, fmt.Errorf("pagecache scan cached videos: %w", err)
		}
		return out, 0, nil
	}
	for {
		keys, next, err := c.rdb.Scan(ctx, cursor, "vc:{*}:meta", int64(max(n, 10))).Result()
		if err != nil {
			return nil, 0, fmt.Errorf("pagecache scan cached videos: %w", err)
		}
		add(keys, len(keys)+len(out))
		cursor = next
		if cursor == 0 || len(out) >= n {
			return out, cursor, nil
		}
	}
}
