package pagecache

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Pin is a video's pinned comment as the cache knows it.
type Pin struct {
	Cached  bool  // vc:{V}:pin exists; otherwise ask Cassandra and FillPin
	ID      int64 // 0: nothing pinned
	Version int64
}

// SetPin records that comment id (0: none) is pinned on video as of
// version, unless the cache holds this version or a newer one; an applied
// pin bumps the video's version and publishes it, so cached pages one
// rebuild. cdc calls it for every video_pins row change.
func (c *Cache) SetPin(ctx context.Context, video, commentID, version int64) (bool, error) {
	n, err := setPinScript.Run(ctx, c.rdb, []string{pinKey(video), verKey(video)}, version, max(commentID, 0), c.opts.Now().UnixMicro(), video).Int()
	if err != nil {
		return false, fmt.Errorf("pagecache set pin video %d: %w", video, err)
	}
	return n == 1, nil
}

// Pin reads vc:{V}:pin.
func (c *Cache) Pin(ctx context.Context, video int64) (Pin, error) {
	s, err := c.rdb.Get(ctx, pinKey(video)).Result()
	if errors.Is(err, redis.Nil) {
		return Pin{}, nil
	}
	if err != nil {
		return Pin{}, fmt.Errorf("pagecache pin video %d: %w", video, err)
	}
	return parsePin(s)
}

func parsePin(s string) (Pin, error) {
	v, id, ok := cut(s)
	ver, err1 := strconv.ParseInt(v, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return Pin{}, fmt.Errorf("pagecache: bad pin %q", s)
	}
	return Pin{Cached: true, ID: n, Version: ver}, nil
}

// FillPin caches what Cassandra's video_pins holds (id 0, version 0: no
// row) for PageTTL, unless cdc recorded a pin meanwhile. It bumps nothing.
func (c *Cache) FillPin(ctx context.Context, video, commentID, version int64) error {
	err := fillPinScript.Run(ctx, c.rdb, []string{pinKey(video)}, version, max(commentID, 0), ttlSeconds(c.opts.PageTTL)).Err()
	if err != nil {
		return fmt.Errorf("pagecache fill pin video %d: %w", video, err)
	}
	return nil
}

// setPinScript is SetPin. KEYS: pin, ver. ARGV: version, id, now, video.
// Reply: 1 applied, 0 older than what the cache holds.
var setPinScript = redis.NewScript(bumpLua + `
local cur = redis.call('GET', KEYS[1])
if cur and tonumber(string.match(cur, '^(%d+)|')) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2])
bump(KEYS[2], ARGV[3], ARGV[4])
return 1
`)

// fillPinScript is FillPin. KEYS: pin. ARGV: version, id, ttl (s).
var fillPinScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and tonumber(string.match(cur, '^(%d+)|')) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'EX', ARGV[3])
return 1
`)
