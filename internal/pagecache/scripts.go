package pagecache

import "github.com/redis/go-redis/v9"

// bumpLua moves a video's cache version forward and announces it. A missing
// version starts at the caller's clock in microseconds, so a version never
// repeats even after Redis loses its data.
// KEYS[verKeyIndex] = ver; ARGV: now (µs), video.
const bumpLua = `
local function bump(verkey, now, video)
  if redis.call('EXISTS', verkey) == 0 then redis.call('SET', verkey, now) end
  local v = redis.call('INCR', verkey)
  redis.call('PUBLISH', 'vc:inval', video .. ' ' .. string.format('%.0f', v))
  return v
end
`

// overlayVersion reads the version out of an overlay value "version|visible|body".
const overlayVersionLua = `
local function ovversion(ov)
  if not ov then return nil end
  return tonumber(string.match(ov, '^(%d+)|'))
end
`

// readScript returns one page of the hot window.
// KEYS: meta, time, body, ver. ARGV: start ("+" or "(MEMBER"), limit.
// Reply: {0, ver} when the video is not cached, else
// {1, ver, total, complete, m1..mk, b1..bk}.
var readScript = redis.NewScript(`
local ver = redis.call('GET', KEYS[4]) or '0'
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, ver} end
local meta = redis.call('HMGET', KEYS[1], 'total', 'complete')
local ids = redis.call('ZRANGE', KEYS[2], ARGV[1], '-', 'BYLEX', 'REV', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {1, ver, meta[1] or '0', meta[2] or '0'}
if #ids == 0 then return out end
local bodies = redis.call('HMGET', KEYS[3], unpack(ids))
for i = 1, #ids do out[#out + 1] = ids[i] end
for i = 1, #ids do out[#out + 1] = bodies[i] end
return out
`)

// fillScript replaces a video's cached window (FillSince). The version may
// have moved since the token, unless the fill is horizon old or the fence
// (a bump whose change is not in the overlay) is above the token. The
// current overlay is merged into the entries with the rules of Merge, the
// window trimmed, the total adjusted.
//
// KEYS: meta, time, body, ver, ov, fence.
// ARGV: token, page ttl (s), negative ttl (s), total, complete, started
// (µs), now (µs), horizon (µs), window, then member, version,
// body triples.
// Reply: {written (0|1), ver, overlay entries merged}.
var fillScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[4]) or '0'
if cur ~= ARGV[1] then
  if tonumber(ARGV[7]) - tonumber(ARGV[6]) >= tonumber(ARGV[8]) then return {0, cur, 0} end
  local fence = redis.call('GET', KEYS[6])
  if fence and tonumber(fence) > tonumber(ARGV[1]) then return {0, cur, 0} end
end
local total, complete, window = tonumber(ARGV[4]), ARGV[5] == '1', tonumber(ARGV[9])
local fill, oldest = {}, nil
for i = 10, #ARGV, 3 do
  fill[ARGV[i]] = {tonumber(ARGV[i + 1]), ARGV[i + 2]}
  if oldest == nil or ARGV[i] < oldest then oldest = ARGV[i] end
end
local merged = 0
local ov = redis.call('HGETALL', KEYS[5])
for j = 1, #ov, 2 do
  local id = ov[j]
  local m = string.rep('0', 19 - #id) .. id
  local v, vis, b = string.match(ov[j + 1], '^(%d+)|([01])|(.*)$')
  v = tonumber(v)
  local f = fill[m]
  if v and not (f and f[1] >= v) then
    if vis == '0' then
      if f then fill[m] = nil; total = total - 1; merged = merged + 1 end
    elseif f or complete or oldest == nil or m > oldest then
      if not f then total = total + 1 end
      fill[m] = {v, b}; merged = merged + 1
    end
  end
end
local ms = {}
for m in pairs(fill) do ms[#ms + 1] = m end
table.sort(ms, function(x, y) return x > y end)
if complete then total = #ms end
if #ms > window then
  complete = false
  for i = #ms, window + 1, -1 do ms[i] = nil end
end
if total < 0 then total = 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('HSET', KEYS[1], 'total', total, 'complete', complete and '1' or '0')
local z, h = {}, {}
for i = 1, #ms do
  z[#z + 1] = 0; z[#z + 1] = ms[i]
  h[#h + 1] = ms[i]; h[#h + 1] = fill[ms[i]][2]
  if #z >= 400 then
    redis.call('ZADD', KEYS[2], unpack(z)); redis.call('HSET', KEYS[3], unpack(h)); z, h = {}, {}
  end
end
if #z > 0 then redis.call('ZADD', KEYS[2], unpack(z)); redis.call('HSET', KEYS[3], unpack(h)) end
local ttl = ARGV[2]
if #ms == 0 then ttl = ARGV[3] end
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ttl) end
return {1, cur, merged}
`)

// recordScript is cdc's edit for one row change: version-guarded by the
// overlay and the settled marker, so re-applying a binlog range is harmless.
// A recorded entry is pending again: it leaves the settled set.
// KEYS: meta, time, body, ver, ov, settled, ovt.
// ARGV: id, version, visible, wasVisible, body, window, now, video,
// overlayTTL, member.
// Reply: {applied (0|1), ver}.
var recordScript = redis.NewScript(bumpLua + overlayVersionLua + `
local version = tonumber(ARGV[2])
local settled = tonumber(redis.call('GET', KEYS[6]) or '0')
local seen = ovversion(redis.call('HGET', KEYS[5], ARGV[1]))
if settled >= version or (seen and seen >= version) then
  return {0, redis.call('GET', KEYS[4]) or '0'}
end
redis.call('HSET', KEYS[5], ARGV[1], ARGV[2] .. '|' .. ARGV[3] .. '|' .. ARGV[5])
redis.call('EXPIRE', KEYS[5], ARGV[9])
redis.call('ZREM', KEYS[7], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 then
  local m = ARGV[10]
  local present = redis.call('ZSCORE', KEYS[2], m)
  if ARGV[3] == '1' then
    local window = tonumber(ARGV[6])
    local inwindow = present
    if not inwindow then
      local complete = redis.call('HGET', KEYS[1], 'complete') == '1'
      local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)
      -- Below the oldest cached id of an incomplete window there is a gap
      -- (trimmed comments): that part of the video is served from Cassandra.
      inwindow = complete or (oldest[1] ~= nil and m > oldest[1])
    end
    if inwindow then
      redis.call('ZADD', KEYS[2], 0, m)
      redis.call('HSET', KEYS[3], m, ARGV[5])
      local n = redis.call('ZCARD', KEYS[2])
      if n > window then
        local old = redis.call('ZRANGE', KEYS[2], 0, n - window - 1)
        redis.call('ZREM', KEYS[2], unpack(old))
        redis.call('HDEL', KEYS[3], unpack(old))
        redis.call('HSET', KEYS[1], 'complete', '0')
      end
    end
    if ARGV[4] == '0' then redis.call('HINCRBY', KEYS[1], 'total', 1) end
  else
    if present then
      redis.call('ZREM', KEYS[2], m)
      redis.call('HDEL', KEYS[3], m)
    end
    if ARGV[4] == '1' then redis.call('HINCRBY', KEYS[1], 'total', -1) end
  end
end
return {1, bump(KEYS[4], ARGV[7], ARGV[8])}
`)

// settleScript is the syncer's step after Cassandra holds a version: the
// overlay entry of exactly that version is settled — kept, with its settle
// time in ovt, until it is horizon old, so a fill in flight still merges it
// (see the package doc); if the cache never saw the change (cdc down or
// behind), the video's pages are dropped so the next read refills from
// Cassandra, the fence voids the fills in flight, and a settled marker keeps
// a late cdc from recording the change again. First, up to purge entries
// settled more than horizon ago leave the overlay.
// KEYS: meta, time, body, ver, ov, settled, ovt, fence.
// ARGV: id, version, now (µs), video, settledTTL (s), horizon (µs),
// overlayTTL (s), purge, fenceTTL (s).
// Reply: 0 nothing to do, 1 overlay entry settled, 2 pages invalidated.
var settleScript = redis.NewScript(bumpLua + overlayVersionLua + `
local cutoff = string.format('(%.0f', tonumber(ARGV[3]) - tonumber(ARGV[6]))
local old = redis.call('ZRANGEBYSCORE', KEYS[7], '-inf', cutoff, 'LIMIT', 0, tonumber(ARGV[8]))
if #old > 0 then
  redis.call('HDEL', KEYS[5], unpack(old))
  redis.call('ZREM', KEYS[7], unpack(old))
end
local version = tonumber(ARGV[2])
local seen = ovversion(redis.call('HGET', KEYS[5], ARGV[1]))
if seen and seen > version then return 0 end
if tonumber(redis.call('GET', KEYS[6]) or '0') >= version then return 0 end
redis.call('SET', KEYS[6], ARGV[2], 'EX', ARGV[5])
if seen == version then
  redis.call('ZADD', KEYS[7], ARGV[3], ARGV[1])
  redis.call('EXPIRE', KEYS[7], ARGV[7])
  return 1
end
if seen then
  redis.call('HDEL', KEYS[5], ARGV[1])
  redis.call('ZREM', KEYS[7], ARGV[1])
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
local v = bump(KEYS[4], ARGV[3], ARGV[4])
redis.call('SET', KEYS[8], string.format('%.0f', v), 'EX', ARGV[9])
return 2
`)

// invalidateScript drops a video's cached pages, bumps its version and
// raises the fence to it: the fills in flight are void.
// KEYS: meta, time, body, ver, fence. ARGV: now, video, fenceTTL (s).
var invalidateScript = redis.NewScript(bumpLua + `
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
local v = bump(KEYS[4], ARGV[1], ARGV[2])
redis.call('SET', KEYS[5], string.format('%.0f', v), 'EX', ARGV[3])
return v
`)

// releaseScript deletes a lease only if the caller still holds it.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)
