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

// bodyLua edits and inspects comment bodies (comment.Public JSON). A
// quote inside content is escaped, so these patterns only ever match the
// fields themselves.
const bodyLua = `
local function splice(b, n)
  if not n or not b or b == '' then return b end
  local r = string.gsub(b, ',"like_count":%-?%d+,', ',"like_count":' .. n .. ',', 1)
  return r
end
local function parentof(b)
  if not b then return nil end
  return string.match(b, '"parent_id":"(%d+)"')
end
local function likesof(lk, id)
  local v = redis.call('HGET', lk, id)
  if not v then return nil end
  return string.match(v, '|(%d+)$')
end
local function pad(id) return string.rep('0', 19 - #id) .. id end
`

// fillLua is what every fill script shares (FillSince for the time window
// and reply lists, FillHot): the guard, the one overlay merge and the write
// of the list. Needs bodyLua.
//
// fillguard says whether a fill taken at token may be written: the version
// may have moved since, unless the fill is horizon old (started and now in
// µs) or the fence (a bump whose change is not in the overlay) is above the
// token. It returns the current version too.
//
// mergeoverlay merges the video's current overlay into fill (member → entry
// {v = version, b = body, ...}) with the rules of Merge: an overlay entry
// newer than the fill's entry for its id (or whose id the fill lacks) wins
// — an invisible one removes the member, a visible one is added when
// accept(member, id, version, body, fill's entry or nil) returns the entry
// to store (it belongs to the list and falls inside its range). It returns
// the total adjusted by what it added and removed, and how many entries it
// merged.
//
// writelist replaces the list: members ms (in list order) trimmed to
// window, meta total (the count of ms when complete), complete and the
// extra fields, members scored by score(entry) with body(entry) as body,
// and the TTL (negttl for an empty list).
const fillLua = `
local function fillguard(verkey, fencekey, token, started, now, horizon)
  local cur = redis.call('GET', verkey) or '0'
  if cur ~= token then
    if tonumber(now) - tonumber(started) >= tonumber(horizon) then return cur, false end
    local fence = redis.call('GET', fencekey)
    if fence and tonumber(fence) > tonumber(token) then return cur, false end
  end
  return cur, true
end
local function mergeoverlay(ovkey, fill, total, accept)
  local merged = 0
  local ov = redis.call('HGETALL', ovkey)
  for j = 1, #ov, 2 do
    local id = ov[j]
    local m = pad(id)
    local v, vis, b = string.match(ov[j + 1], '^(%d+)|([01])|(.*)$')
    v = tonumber(v)
    local f = fill[m]
    if v and not (f and f.v >= v) then
      if vis == '0' then
        if f then fill[m] = nil; total = total - 1; merged = merged + 1 end
      else
        local e = accept(m, id, v, b, f)
        if e then
          if not f then total = total + 1 end
          fill[m] = e; merged = merged + 1
        end
      end
    end
  end
  return total, merged
end
local function writelist(mk, zk, bk, ms, fill, window, total, complete, extra, ttl, negttl, score, body)
  if complete then total = #ms end
  if #ms > window then
    complete = false
    for i = #ms, window + 1, -1 do ms[i] = nil end
  end
  if total < 0 then total = 0 end
  redis.call('DEL', mk, zk, bk)
  redis.call('HSET', mk, 'total', total, 'complete', complete and '1' or '0', unpack(extra))
  local z, h = {}, {}
  for i = 1, #ms do
    local f = fill[ms[i]]
    z[#z + 1] = score(f); z[#z + 1] = ms[i]
    h[#h + 1] = ms[i]; h[#h + 1] = body(f)
    if #z >= 400 then
      redis.call('ZADD', zk, unpack(z)); redis.call('HSET', bk, unpack(h)); z, h = {}, {}
    end
  end
  if #z > 0 then redis.call('ZADD', zk, unpack(z)); redis.call('HSET', bk, unpack(h)) end
  if #ms == 0 then ttl = negttl end
  redis.call('EXPIRE', mk, ttl); redis.call('EXPIRE', zk, ttl); redis.call('EXPIRE', bk, ttl)
end
`

// readScript returns one page of a cached list: the time window, or a
// reply list (then its gen must be the current one).
// KEYS: meta, zset, body, ver, rgen. ARGV: start ("+" or "(MEMBER"), limit,
// check gen (0|1).
// Reply: {0, ver} when the list is not cached, else
// {1, ver, total, complete, m1..mk, b1..bk}.
var readScript = redis.NewScript(`
local ver = redis.call('GET', KEYS[4]) or '0'
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, ver} end
if ARGV[3] == '1' and redis.call('HGET', KEYS[1], 'gen') ~= (redis.call('GET', KEYS[5]) or '0') then return {0, ver} end
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
// The same script fills a reply list: only overlay entries whose parent is
// the list's (ARGV[10], "0" for the time window) are added, and a reply
// list records the current reply generation. Overlay bodies get the like
// count of vc:{V}:lk spliced in.
//
// KEYS: meta, zset, body, ver, ov, fence, rgen, lk.
// ARGV: token, page ttl (s), negative ttl (s), total, complete, started
// (µs), now (µs), horizon (µs), window, parent, then member, version,
// body triples.
// Reply: {written (0|1), ver, overlay entries merged}.
var fillScript = redis.NewScript(bodyLua + fillLua + `
local cur, ok = fillguard(KEYS[4], KEYS[6], ARGV[1], ARGV[6], ARGV[7], ARGV[8])
if not ok then return {0, cur, 0} end
local total, complete = tonumber(ARGV[4]), ARGV[5] == '1'
local fill, oldest = {}, nil
local parent = ARGV[10]
for i = 11, #ARGV, 3 do
  fill[ARGV[i]] = {v = tonumber(ARGV[i + 1]), b = ARGV[i + 2]}
  if oldest == nil or ARGV[i] < oldest then oldest = ARGV[i] end
end
local merged
total, merged = mergeoverlay(KEYS[5], fill, total, function(m, id, v, b, f)
  if (parentof(b) or '0') == parent and (f or complete or oldest == nil or m > oldest) then
    return {v = v, b = splice(b, likesof(KEYS[8], id))}
  end
end)
local ms = {}
for m in pairs(fill) do ms[#ms + 1] = m end
table.sort(ms, function(x, y) return x > y end)
local extra = {}
if parent ~= '0' then extra = {'gen', redis.call('GET', KEYS[7]) or '0'} end
writelist(KEYS[1], KEYS[2], KEYS[3], ms, fill, tonumber(ARGV[9]), total, complete, extra, ARGV[2], ARGV[3],
  function(f) return 0 end, function(f) return f.b end)
return {1, cur, merged}
`)

// trimLua trims a cached list to its window: the members lowest in its
// zset (the oldest ids of an id list, the least liked roots of the hot
// window) leave it with their bodies, and the list is no longer complete.
const trimLua = `
local function trim(meta, z, bodies, window)
  local n = redis.call('ZCARD', z)
  if n > window then
    local old = redis.call('ZRANGE', z, 0, n - window - 1)
    redis.call('ZREM', z, unpack(old))
    redis.call('HDEL', bodies, unpack(old))
    redis.call('HSET', meta, 'complete', '0')
  end
end
`

// listEditLua edits one cached id list (the time window or a reply list)
// for a row change: the rules of the time window (see Record). Needs
// trimLua.
const listEditLua = `
local function listedit(meta, z, bodies, m, visible, wasvisible, body, window)
  local present = redis.call('ZSCORE', z, m)
  if visible then
    local inwindow = present
    if not inwindow then
      local complete = redis.call('HGET', meta, 'complete') == '1'
      local oldest = redis.call('ZRANGE', z, 0, 0)
      -- Below the oldest cached id of an incomplete window there is a gap
      -- (trimmed comments): that part of the list is served from Cassandra.
      inwindow = complete or (oldest[1] ~= nil and m > oldest[1])
    end
    if inwindow then
      redis.call('ZADD', z, 0, m)
      redis.call('HSET', bodies, m, body)
      trim(meta, z, bodies, window)
    end
    if not wasvisible then redis.call('HINCRBY', meta, 'total', 1) end
  else
    if present then
      redis.call('ZREM', z, m)
      redis.call('HDEL', bodies, m)
    end
    if wasvisible then redis.call('HINCRBY', meta, 'total', -1) end
  end
end
`

// hotLua keeps the hot window a prefix of the video's hot order (likes
// desc, id desc): a member enters when it sorts above the window's lowest
// (or the window is complete), and the window is trimmed to its size
// (trim of trimLua, which it needs).
const hotLua = `
local function hotabove(hot, score, m)
  local low = redis.call('ZRANGE', hot, 0, 0, 'WITHSCORES')
  if not low[1] then return false end
  local ls = tonumber(low[2])
  return score > ls or (score == ls and m > low[1])
end
`

// recordScript is cdc's edit for one row change: version-guarded by the
// overlay and the settled marker, so re-applying a binlog range is harmless.
// A recorded entry is pending again: it leaves the settled set. A root
// edits the time window and the hot window, a reply its parent's reply
// list; a pending row goes into its author's private hash and leaves it
// with its next change — also when the syncer settled that change first
// (the settled marker is exactly its version), since a settle cannot know
// the author. Bodies get the like count of vc:{V}:lk.
//
// Recovering (Redis lost its data; see Cache.Epoch): the entry is written
// as already settled — Cassandra may have had it before the loss, and the
// syncer will not settle it twice — and instead of editing the windows,
// whose base is unknown, the script drops them and raises the fence, as
// Invalidate does.
// KEYS: meta, time, body, ver, ov, settled, ovt, lk, hmeta, hot, hbody,
// rm:P, r:P, rb:P, rgen, u:U, fence.
// ARGV: id, version, visible, wasVisible, body, window, now, video,
// overlayTTL, member, parent, pending, pending body, hot window, has user,
// recovering, fence TTL.
// Reply: {applied (0|1), ver}.
var recordScript = redis.NewScript(bumpLua + overlayVersionLua + bodyLua + trimLua + listEditLua + hotLua + `
local function ownview(likes)
  if ARGV[15] ~= '1' then return end
  if ARGV[12] == '1' then
    redis.call('HSET', KEYS[16], ARGV[1], splice(ARGV[13], likes))
    redis.call('EXPIRE', KEYS[16], ARGV[9])
  else
    redis.call('HDEL', KEYS[16], ARGV[1])
  end
end
local version = tonumber(ARGV[2])
local settled = tonumber(redis.call('GET', KEYS[6]) or '0')
local seen = ovversion(redis.call('HGET', KEYS[5], ARGV[1]))
if settled >= version or (seen and seen >= version) then
  -- The syncer settled this very change before cdc saw it: its settle
  -- dropped the pages, but the author's private view is cdc's alone.
  if settled == version and not (seen and seen >= version) then ownview(likesof(KEYS[8], ARGV[1])) end
  return {0, redis.call('GET', KEYS[4]) or '0'}
end
local likes = likesof(KEYS[8], ARGV[1])
local body = splice(ARGV[5], likes)
local visible, wasvisible = ARGV[3] == '1', ARGV[4] == '1'
redis.call('HSET', KEYS[5], ARGV[1], ARGV[2] .. '|' .. ARGV[3] .. '|' .. body)
redis.call('EXPIRE', KEYS[5], ARGV[9])
redis.call('ZREM', KEYS[7], ARGV[1])
local m = ARGV[10]
if ARGV[16] == '1' then
  redis.call('ZADD', KEYS[7], ARGV[7], ARGV[1])
  redis.call('EXPIRE', KEYS[7], ARGV[9])
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[9], KEYS[10], KEYS[11])
  redis.call('INCR', KEYS[15])
elseif ARGV[11] == '0' then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    listedit(KEYS[1], KEYS[2], KEYS[3], m, visible, wasvisible, body, tonumber(ARGV[6]))
  end
  if redis.call('EXISTS', KEYS[9]) == 1 then
    local present = redis.call('ZSCORE', KEYS[10], m)
    if visible then
      local score = tonumber(likes or present or string.match(body, ',"like_count":(%d+),') or '0')
      local hb = splice(body, score)
      if present or redis.call('HGET', KEYS[9], 'complete') == '1' or hotabove(KEYS[10], score, m) then
        redis.call('ZADD', KEYS[10], score, m)
        redis.call('HSET', KEYS[11], m, hb)
        trim(KEYS[9], KEYS[10], KEYS[11], tonumber(ARGV[14]))
      end
      if not wasvisible then redis.call('HINCRBY', KEYS[9], 'total', 1) end
    else
      if present then
        redis.call('ZREM', KEYS[10], m)
        redis.call('HDEL', KEYS[11], m)
      end
      if wasvisible then redis.call('HINCRBY', KEYS[9], 'total', -1) end
    end
  end
elseif redis.call('EXISTS', KEYS[12]) == 1 then
  if redis.call('HGET', KEYS[12], 'gen') == (redis.call('GET', KEYS[15]) or '0') then
    listedit(KEYS[12], KEYS[13], KEYS[14], m, visible, wasvisible, body, tonumber(ARGV[6]))
  end
end
ownview(likes)
local v = bump(KEYS[4], ARGV[7], ARGV[8])
if ARGV[16] == '1' then redis.call('SET', KEYS[17], string.format('%.0f', v), 'EX', ARGV[17]) end
return {1, v}
`)

// settleScript is the syncer's step after Cassandra holds a version: the
// overlay entry of exactly that version is settled — kept, with its settle
// time in ovt, until it is horizon old, so a fill in flight still merges it
// (see the package doc); if the cache never saw the change (cdc down or
// behind), the video's pages are dropped so the next read refills from
// Cassandra, the fence voids the fills in flight, and a settled marker keeps
// a late cdc from recording the change again. First, up to purge entries
// settled more than horizon ago leave the overlay.
// Dropping the pages drops the hot window and moves the reply generation.
// KEYS: meta, time, body, ver, ov, settled, ovt, fence, hmeta, hot, hbody,
// rgen.
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
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[9], KEYS[10], KEYS[11])
redis.call('INCR', KEYS[12])
local v = bump(KEYS[4], ARGV[3], ARGV[4])
redis.call('SET', KEYS[8], string.format('%.0f', v), 'EX', ARGV[9])
return 2
`)

// invalidateScript drops a video's cached pages, bumps its version and
// raises the fence to it: the fills in flight are void. The hot window
// goes too, and the reply lists' generation moves (they are many keys).
// KEYS: meta, time, body, ver, fence, hmeta, hot, hbody, rgen.
// ARGV: now, video, fenceTTL (s).
var invalidateScript = redis.NewScript(bumpLua + `
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[6], KEYS[7], KEYS[8])
redis.call('INCR', KEYS[9])
local v = bump(KEYS[4], ARGV[1], ARGV[2])
redis.call('SET', KEYS[5], string.format('%.0f', v), 'EX', ARGV[3])
return v
`)

// releaseScript deletes a lease only if the caller still holds it.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)
