package inspect

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/vidcomments/vidcomments/internal/pagecache"
)

// The inspector reads the hot window and the reply lists raw, with the key
// layout of internal/pagecache (its package doc), because pagecache's
// readers are built to serve: they fall back to the overlay for a missing
// body or treat such a list as not cached, which would hide exactly what
// the inspector looks for. Reads only; never a script.
func hotMetaKey(v int64) string           { return fmt.Sprintf("vc:{%d}:hmeta", v) }
func hotKey(v int64) string               { return fmt.Sprintf("vc:{%d}:hot", v) }
func hotBodyKey(v int64) string           { return fmt.Sprintf("vc:{%d}:hbody", v) }
func replyMetaKey(v, parent int64) string { return fmt.Sprintf("vc:{%d}:rm:%d", v, parent) }
func replyKey(v, parent int64) string     { return fmt.Sprintf("vc:{%d}:r:%d", v, parent) }
func replyBodyKey(v, parent int64) string { return fmt.Sprintf("vc:{%d}:rb:%d", v, parent) }
func replyGenKey(v int64) string          { return fmt.Sprintf("vc:{%d}:rgen", v) }
func parseMember(s string) (int64, error) { return strconv.ParseInt(strings.TrimLeft(s, "0"), 10, 64) }
func parseMemberOf(key, s string) (int64, error) {
	id, err := parseMember(s)
	if err != nil {
		return 0, fmt.Errorf("inspect: bad member %q of %s: %w", s, key, err)
	}
	return id, nil
}

// readHot reads a video's hot window in one MULTI/EXEC.
func readHot(ctx context.Context, rdb redis.UniversalClient, video int64) (HotSnapshot, error) {
	var (
		exist *redis.IntCmd
		meta  *redis.SliceCmd
		zs    *redis.ZSliceCmd
		all   *redis.MapStringStringCmd
	)
	_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		exist = p.Exists(ctx, hotMetaKey(video))
		meta = p.HMGet(ctx, hotMetaKey(video), "total", "complete")
		zs = p.ZRevRangeWithScores(ctx, hotKey(video), 0, -1)
		all = p.HGetAll(ctx, hotBodyKey(video))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return HotSnapshot{}, fmt.Errorf("inspect: hot window of video %d: %w", video, err)
	}
	h := HotSnapshot{Cached: exist.Val() == 1}
	if !h.Cached {
		return h, nil
	}
	if h.Total, h.Complete, err = parseMeta(meta.Val()); err != nil {
		return HotSnapshot{}, fmt.Errorf("inspect: hot window of video %d: %w", video, err)
	}
	bodies := all.Val()
	h.Bodies = make(map[int64][]byte, len(bodies))
	for _, z := range zs.Val() {
		m, _ := z.Member.(string)
		id, err := parseMemberOf(hotKey(video), m)
		if err != nil {
			return HotSnapshot{}, err
		}
		h.Members = append(h.Members, HotMember{ID: id, Likes: int64(z.Score)})
		if b, ok := bodies[m]; ok {
			h.Bodies[id] = []byte(b)
		}
	}
	return h, nil
}

func parseMeta(vals []any) (total int64, complete bool, err error) {
	if len(vals) < 2 {
		return 0, false, nil
	}
	if s, ok := vals[0].(string); ok {
		if total, err = strconv.ParseInt(s, 10, 64); err != nil {
			return 0, false, fmt.Errorf("bad total %q: %w", s, err)
		}
	}
	return total, vals[1] == "1", nil
}

// readReplyLists reads the cached reply lists of parents: a list is cached
// when its meta exists and its gen is the video's vc:{V}:rgen (an older
// generation reads as not cached, as in pagecache). Lists that are not
// cached are left out.
func readReplyLists(ctx context.Context, rdb redis.UniversalClient, video int64, parents []int64) (map[int64]pagecache.WindowSnapshot, error) {
	out := map[int64]pagecache.WindowSnapshot{}
	if len(parents) == 0 {
		return out, nil
	}
	var (
		gen   *redis.StringCmd
		metas = make([]*redis.SliceCmd, len(parents))
	)
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		gen = p.Get(ctx, replyGenKey(video))
		for i, parent := range parents {
			metas[i] = p.HMGet(ctx, replyMetaKey(video, parent), "total", "complete", "gen")
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("inspect: reply lists of video %d: %w", video, err)
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
			continue // no gen or an older generation: not cached (as pagecache reads it)
		}
		total, complete, err := parseMeta(vals)
		if err != nil {
			return nil, fmt.Errorf("inspect: reply list %s: %w", replyMetaKey(video, parent), err)
		}
		out[parent] = pagecache.WindowSnapshot{Cached: true, Total: total, Complete: complete}
		cached = append(cached, parent)
	}
	if len(cached) == 0 {
		return out, nil
	}
	ids := make([]*redis.StringSliceCmd, len(cached))
	bodies := make([]*redis.MapStringStringCmd, len(cached))
	_, err = rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i, parent := range cached {
			ids[i] = p.ZRevRangeByLex(ctx, replyKey(video, parent), &redis.ZRangeBy{Min: "-", Max: "+"})
			bodies[i] = p.HGetAll(ctx, replyBodyKey(video, parent))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("inspect: reply lists of video %d: %w", video, err)
	}
	for i, parent := range cached {
		w := out[parent]
		bs := bodies[i].Val()
		w.Bodies = make(map[int64][]byte, len(bs))
		for _, m := range ids[i].Val() {
			id, err := parseMemberOf(replyKey(video, parent), m)
			if err != nil {
				return nil, err
			}
			w.IDs = append(w.IDs, id)
			if b, ok := bs[m]; ok {
				w.Bodies[id] = []byte(b)
			}
		}
		out[parent] = w
	}
	return out, nil
}
