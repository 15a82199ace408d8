package pagecache

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// A fill of a window that is not complete cannot count the video exactly:
// it adds the overlay's pending changes to Cassandra's count, and the
// syncer may apply one of them between the two reads, so it is counted
// twice (or, read the other way round, not at all). Cassandra's count is
// exact once every change cdc recorded is settled, and the syncer knows it
// right after a batch: SyncTotal is its correction. It writes the count
// into the cached windows only while the video's overlay holds no
// unsettled change (a change recorded after the count was read is pending
// in the overlay, so the script leaves the total to Record), and bumps the
// version when the total moved, so groupcache drops the pages showing the
// old one. A video that stops changing therefore ends with the exact
// total: quiescence means agreement.

// syncTotalScript: KEYS: meta, hmeta, ver, ov, ovt. ARGV: total, now (µs),
// video. Reply: 1 when a cached total changed, else 0.
var syncTotalScript = redis.NewScript(bumpLua + `
if redis.call('HLEN', KEYS[4]) > redis.call('ZCARD', KEYS[5]) then return 0 end
local changed = 0
for i = 1, 2 do
  if redis.call('EXISTS', KEYS[i]) == 1 and redis.call('HGET', KEYS[i], 'total') ~= ARGV[1] then
    redis.call('HSET', KEYS[i], 'total', ARGV[1])
    changed = 1
  end
end
if changed == 1 then bump(KEYS[3], ARGV[2], ARGV[3]) end
return changed
`)

// SyncTotal sets the cached total of video's pages to total, Cassandra's
// count after the syncer's latest batch, if no change is pending in the
// overlay. It reports whether a cached total changed.
func (c *Cache) SyncTotal(ctx context.Context, video, total int64) (bool, error) {
	keys := []string{metaKey(video), hotMetaKey(video), verKey(video), overlayKey(video), settledAtKey(video)}
	n, err := syncTotalScript.Run(ctx, c.rdb, keys, total, c.opts.Now().UnixMicro(), video).Int()
	if err != nil {
		return false, fmt.Errorf("pagecache sync total video %d: %w", video, err)
	}
	return n == 1, nil
}
