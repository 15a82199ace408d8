package pagecache

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// LikeCount is the absolute like count of one comment after the syncer made
// it durable: Offset is the Kafka offset of the newest like event it
// includes, so an older count (a replay, a zombie consumer) is ignored.
type LikeCount struct {
	ID, Offset, Count int64
}

// DefaultLikesTTL bounds how long vc:{V}:lk outlives the video's last like.
const DefaultLikesTTL = 24 * time.Hour

// ApplyLikes records like counts of a video's comments in one script: each
// count newer (by offset) than the one vc:{V}:lk holds replaces it, is
// spliced into the cached bodies of the time and hot windows, and moves the
// comment in the hot window — in, out, or up and down — so the window stays
// the top of the video's hot order. Likes do not bump the video's version
// (see docs/likes-hot-replies.md).
//
// A comment that should enter the hot window but whose body the cache does
// not hold (it is in neither the time window nor the overlay) cannot be
// added: the window is cut to the part above it, which is still a correct
// prefix of the order, and dropped when that leaves less than half of it,
// so the next read refills it from Cassandra.
func (c *Cache) ApplyLikes(ctx context.Context, video int64, counts []LikeCount) error {
	_, err := c.applyLikes(ctx, video, counts)
	return err
}

// applyLikes is ApplyLikes, also saying how many counts applied.
func (c *Cache) applyLikes(ctx context.Context, video int64, counts []LikeCount) (int, error) {
	if len(counts) == 0 {
		return 0, nil
	}
	args := make([]any, 0, 2+3*len(counts))
	args = append(args, c.opts.HotWindow, int64(DefaultLikesTTL/time.Second))
	for _, lc := range counts {
		args = append(args, strconv.FormatInt(lc.ID, 10), lc.Offset, max(lc.Count, 0))
	}
	keys := []string{likesKey(video), hotMetaKey(video), hotKey(video), hotBodyKey(video), bodyKey(video), overlayKey(video)}
	n, err := applyLikesScript.Run(ctx, c.rdb, keys, args...).Int()
	if err != nil {
		return 0, fmt.Errorf("pagecache apply likes video %d: %w", video, err)
	}
	return n, nil
}

// Likes returns the like counts vc:{V}:lk holds for ids (absent: unknown).
func (c *Cache) Likes(ctx context.Context, video int64, ids []int64) (map[int64]int64, error) {
	out := make(map[int64]int64, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	fields := make([]string, len(ids))
	for i, id := range ids {
		fields[i] = strconv.FormatInt(id, 10)
	}
	vals, err := c.rdb.HMGet(ctx, likesKey(video), fields...).Result()
	if err != nil {
		return nil, fmt.Errorf("pagecache likes video %d: %w", video, err)
	}
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue
		}
		_, cnt, ok := cut(s)
		if n, err := strconv.ParseInt(cnt, 10, 64); ok && err == nil {
			out[ids[i]] = n
		}
	}
	return out, nil
}

// SpliceLikes returns body (comment.Public JSON) with its like_count set
// to n — what the scripts do to cached bodies.
func SpliceLikes(body []byte, n int64) []byte {
	const field = `,"like_count":`
	s := string(body)
	i := indexOf(s, field)
	if i < 0 {
		return body
	}
	j := i + len(field)
	k := j
	for k < len(s) && (s[k] == '-' || ('0' <= s[k] && s[k] <= '9')) {
		k++
	}
	out := make([]byte, 0, len(body)+20)
	out = append(out, s[:j]...)
	out = strconv.AppendInt(out, n, 10)
	return append(out, s[k:]...)
}

// applyLikesScript is ApplyLikes.
// KEYS: lk, hmeta, hot, hbody, body, ov. ARGV: hot window, lk ttl (s), then
// id, offset, count triples.
// Reply: counts applied.
var applyLikesScript = redis.NewScript(bodyLua + trimLua + hotLua + `
local window = tonumber(ARGV[1])
local applied = 0
for i = 3, #ARGV, 3 do
  local id, off, cnt = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local cur = redis.call('HGET', KEYS[1], id)
  local curoff = cur and tonumber(string.match(cur, '^(%d+)|'))
  if not curoff or off > curoff then
    applied = applied + 1
    local n = string.format('%.0f', cnt)
    redis.call('HSET', KEYS[1], id, string.format('%.0f', off) .. '|' .. n)
    local m = pad(id)
    local tb = redis.call('HGET', KEYS[5], m)
    if tb then redis.call('HSET', KEYS[5], m, splice(tb, n)) end
    if redis.call('EXISTS', KEYS[2]) == 1 then
      local complete = redis.call('HGET', KEYS[2], 'complete') == '1'
      local present = redis.call('ZSCORE', KEYS[3], m)
      if present then
        redis.call('ZADD', KEYS[3], cnt, m)
        local hb = redis.call('HGET', KEYS[4], m)
        if hb then redis.call('HSET', KEYS[4], m, splice(hb, n)) end
        -- Fallen to the bottom of an incomplete window: roots outside it
        -- may sort above it now, so it leaves.
        if not complete and cnt < tonumber(present) and redis.call('ZRANGE', KEYS[3], 0, 0)[1] == m then
          redis.call('ZREM', KEYS[3], m)
          redis.call('HDEL', KEYS[4], m)
        end
      elseif complete or hotabove(KEYS[3], cnt, m) then
        local b = tb
        if not b then
          local ov = redis.call('HGET', KEYS[6], id)
          if ov then
            local vis, ob = string.match(ov, '^%d+|([01])|(.*)$')
            if vis == '1' and (parentof(ob) or '0') == '0' then b = ob end
          end
        end
        if b then
          redis.call('ZADD', KEYS[3], cnt, m)
          redis.call('HSET', KEYS[4], m, splice(b, n))
          trim(KEYS[2], KEYS[3], KEYS[4], window)
        elseif not complete then
          -- Unknown body: keep only the part of the window above it.
          local gone = redis.call('ZRANGE', KEYS[3], '(' .. n, '-inf', 'BYSCORE', 'REV')
          local cut = {}
          for _, x in ipairs(redis.call('ZRANGE', KEYS[3], n, n, 'BYSCORE')) do
            if x < m then cut[#cut + 1] = x end
          end
          for _, x in ipairs(gone) do cut[#cut + 1] = x end
          for j = 1, #cut, 400 do
            local part = {unpack(cut, j, math.min(j + 399, #cut))}
            redis.call('ZREM', KEYS[3], unpack(part))
            redis.call('HDEL', KEYS[4], unpack(part))
          end
          if redis.call('ZCARD', KEYS[3]) < window / 2 then
            redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
          end
        end
      end
    end
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return applied
`)
