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
	p := c.rdb.TxPipeline()
	ver := p.Get(ctx, verKey(video))
	exist := p.Exists(ctx, metaKey(video))
	meta := p.HMGet(ctx, metaKey(video), "total", "complete")
	ids := p.ZRevRangeByLex(ctx, timeKey(video), &redis.ZRangeBy{Min: "-", Max: "+"})
	all := p.HGetAll(ctx, bodyKey(video))
	_, err := p.Exec(ctx)
	if err != nil && !errors.Is(err, redis.Nil) {
		return WindowSnapshot{}, fmt.Errorf("pagecache snapshot video %d: %w", video, err)
	}
	var s WindowSnapshot
	if v, err := ver.Int64(); err == nil {
		s.Version = v
	}
	s.Cached = exist.Val() == 1
	if s.Total, s.Complete, err = parseListMeta(meta.Val()); err != nil {
		return WindowSnapshot{}, fmt.Errorf("pagecache snapshot video %d: %w", video, err)
	}
	if s.IDs, s.Bodies, err = parseMembers(ids.Val(), all.Val()); err != nil {
		return WindowSnapshot{}, fmt.Errorf("pagecache snapshot video %d: %w", video, err)
	}
	return s, nil
}

// parseMembers reads the members of an id list, in order, and the body
// bodies holds for each one that has one.
func parseMembers(members []string, bodies map[string]string) ([]int64, map[int64][]byte, error) {
	ids := make([]int64, 0, len(members))
	byID := make(map[int64][]byte, len(members))
	for _, m := range members {
		id, err := parseMember(m)
		if err != nil {
			return nil, nil, fmt.Errorf("bad member %q: %w", m, err)
		}
		ids = append(ids, id)
		if b, ok := bodies[m]; ok {
			byID[id] = []byte(b)
		}
	}
	return ids, byID, nil
}

// HotMember is one member of a cached hot window.
type HotMember struct {
	ID, Likes int64 // Likes is the member's score
}

// HotSnapshot is a video's cached hot window exactly as Redis holds it
// (read raw: a member without a body stays without one).
type HotSnapshot struct {
	Cached   bool // vc:{V}:hmeta exists
	Total    int64
	Complete bool
	// Members in Redis order: score (likes) desc, then id desc.
	Members []HotMember
	// Bodies holds the vc:{V}:hbody body of every member that has one.
	Bodies map[int64][]byte
}

// SnapshotHot reads a video's whole hot window in one MULTI/EXEC without
// changing anything (the inspector's read: ReadHot would fall back to the
// overlay for a missing body and hide it).
func (c *Cache) SnapshotHot(ctx context.Context, video int64) (HotSnapshot, error) {
	p := c.rdb.TxPipeline()
	exist := p.Exists(ctx, hotMetaKey(video))
	meta := p.HMGet(ctx, hotMetaKey(video), "total", "complete")
	zs := p.ZRevRangeWithScores(ctx, hotKey(video), 0, -1)
	all := p.HGetAll(ctx, hotBodyKey(video))
	_, err := p.Exec(ctx)
	if err != nil && !errors.Is(err, redis.Nil) {
		return HotSnapshot{}, fmt.Errorf("pagecache snapshot hot video %d: %w", video, err)
	}
	h := HotSnapshot{Cached: exist.Val() == 1}
	if !h.Cached {
		return h, nil
	}
	if h.Total, h.Complete, err = parseListMeta(meta.Val()); err != nil {
		return HotSnapshot{}, fmt.Errorf("pagecache snapshot hot video %d: %w", video, err)
	}
	bodies := all.Val()
	h.Bodies = make(map[int64][]byte, len(bodies))
	for _, z := range zs.Val() {
		m, _ := z.Member.(string)
		id, err := parseMember(m)
		if err != nil {
			return HotSnapshot{}, fmt.Errorf("pagecache snapshot hot video %d: bad member %q: %w", video, m, err)
		}
		h.Members = append(h.Members, HotMember{ID: id, Likes: int64(z.Score)})
		if b, ok := bodies[m]; ok {
			h.Bodies[id] = []byte(b)
		}
	}
	return h, nil
}

// SnapshotReplies reads the cached reply lists of parents raw: a list is
// cached when its meta exists and its gen is the video's vc:{V}:rgen (an
// older generation reads as not cached, as ReadReplies reads it). Lists
// that are not cached are left out.
func (c *Cache) SnapshotReplies(ctx context.Context, video int64, parents []int64) (map[int64]WindowSnapshot, error) {
	out := map[int64]WindowSnapshot{}
	if len(parents) == 0 {
		return out, nil
	}
	var (
		gen   *redis.StringCmd
		metas = make([]*redis.SliceCmd, len(parents))
	)
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		gen = p.Get(ctx, replyGenKey(video))
		for i, parent := range parents {
			metas[i] = p.HMGet(ctx, replyMetaKey(video, parent), "total", "complete", "gen")
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("pagecache snapshot replies video %d: %w", video, err)
	}
	cur := gen.Val()
	if cur == "" {
		cur = "0"
	}
	var cached []int64
	for i, parent := range parents {
		vals := metas[i].Val()
		if len(vals) < 3 || vals[0] == nil && vals[1] == nil && vals[2] == nil {
			continue // no meta
		}
		if g, ok := vals[2].(string); !ok || g != cur {
			continue // no gen or an older generation: not cached
		}
		total, complete, err := parseListMeta(vals)
		if err != nil {
			return nil, fmt.Errorf("pagecache snapshot replies %s: %w", replyMetaKey(video, parent), err)
		}
		out[parent] = WindowSnapshot{Cached: true, Total: total, Complete: complete}
		cached = append(cached, parent)
	}
	if len(cached) == 0 {
		return out, nil
	}
	ids := make([]*redis.StringSliceCmd, len(cached))
	bodies := make([]*redis.MapStringStringCmd, len(cached))
	_, err = c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i, parent := range cached {
			ids[i] = p.ZRevRangeByLex(ctx, replyKey(video, parent), &redis.ZRangeBy{Min: "-", Max: "+"})
			bodies[i] = p.HGetAll(ctx, replyBodyKey(video, parent))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("pagecache snapshot replies video %d: %w", video, err)
	}
	for i, parent := range cached {
		w := out[parent]
		if w.IDs, w.Bodies, err = parseMembers(ids[i].Val(), bodies[i].Val()); err != nil {
			return nil, fmt.Errorf("pagecache snapshot replies %s: %w", replyKey(video, parent), err)
		}
		out[parent] = w
	}
	return out, nil
}

// parseListMeta reads HMGET total, complete.
func parseListMeta(vals []any) (total int64, complete bool, err error) {
	if len(vals) < 2 {
		return 0, false, nil
	}
	if s, ok := vals[0].(string); ok {
		if total, err = toInt(s); err != nil {
			return 0, false, fmt.Errorf("bad total %q: %w", s, err)
		}
	}
	return total, vals[1] == "1", nil
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
