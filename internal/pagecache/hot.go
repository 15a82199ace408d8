package pagecache

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// HotPos is a position in a video's hot order (likes desc, id desc): a hot
// page continues after it. The zero HotPos is the start.
type HotPos struct {
	Likes, ID int64
}

// HotItem is one comment a hot read met, in order.
type HotItem struct {
	ID    int64
	Likes int64  // its score in the window or snapshot read
	Body  []byte // live body; nil when the cache does not hold it (fetch it)
	Gone  bool   // the overlay says it is no longer visible: skip it
}

// HotPage is what ReadHot found.
type HotPage struct {
	Cached   bool  // a snapshot or the hot window answered
	Version  int64 // the video's cache version when read
	Total    int64 // visible roots
	Complete bool  // the source holds every visible root: reaching its end ends the video
	Items    []HotItem
}

// ReadHot reads up to limit comments of the hot order after pos, in one
// call. Nothing is cached while the hot window is not (fill it first).
// Page one (pos zero) pins a snapshot of the hot window for epoch (taken
// at most once per epoch and per fill of the window, kept SnapshotTTL)
// and reads it; a later page reads the snapshot of its cursor's epoch when
// it still exists (the frozen order, with live bodies: a comment removed
// since is Gone), else the live window by keyset. Fewer items than limit on a page that is not
// Complete means the rest is beyond the cached part: read Cassandra's hot
// index from the last item on.
func (c *Cache) ReadHot(ctx context.Context, video, epoch int64, pos HotPos, limit int) (HotPage, error) {
	keys := []string{hotMetaKey(video), hotKey(video), hotBodyKey(video), verKey(video), snapKey(video, epoch), snapDoneKey(video, epoch), overlayKey(video), likesKey(video)}
	pageOne := pos.ID == 0
	res, err := readHotScript.Run(ctx, c.rdb, keys, boolArg(pageOne), pos.Likes, member(max(pos.ID, 0)), limit, int64(c.opts.SnapshotTTL/time.Second)).Slice()
	if err != nil {
		return HotPage{}, fmt.Errorf("pagecache read hot video %d: %w", video, err)
	}
	var p HotPage
	rest, err := readHead(res, &p.Cached, &p.Version, &p.Total, &p.Complete)
	if err != nil || !p.Cached {
		return p, err
	}
	for i := 0; i+2 < len(rest); i += 3 {
		id, err := parseMember(rest[i].(string))
		if err != nil {
			return HotPage{}, fmt.Errorf("pagecache: bad member %v: %w", rest[i], err)
		}
		likes, err := toInt(rest[i+1])
		if err != nil {
			return HotPage{}, err
		}
		it := HotItem{ID: id, Likes: likes}
		switch b := rest[i+2].(type) {
		case string:
			if b == "x" {
				it.Gone = true
			} else if b != "" {
				it.Body = []byte(b)
			}
		}
		p.Items = append(p.Items, it)
	}
	return p, nil
}

// FillHot replaces a video's hot window with entries (hot order: Likes
// desc, id desc, each with the Version it was built from), with the rules
// of FillSince: token, fence and horizon, and the current overlay merged in
// the same script — an invisible entry leaves, a visible root enters with
// its count from vc:{V}:lk (0 if unknown) if it sorts inside the window's
// range. Counts vc:{V}:lk holds replace the entries' own; on an incomplete
// window an entry that falls below the range's lowest leaves.
func (c *Cache) FillHot(ctx context.Context, video int64, tok FillToken, entries []Entry, total int64, complete bool) (FillResult, error) {
	args := make([]any, 0, 9+4*len(entries))
	args = append(args, strconv.FormatInt(tok.Version, 10), ttlSeconds(c.opts.PageTTL), ttlSeconds(c.opts.NegativeTTL), total, boolArg(complete),
		tok.At.UnixMicro(), c.opts.Now().UnixMicro(), c.opts.OverlayHorizon.Microseconds(), c.opts.HotWindow)
	for _, e := range entries {
		args = append(args, member(e.ID), e.Likes, e.Version, e.Body)
	}
	keys := []string{hotMetaKey(video), hotKey(video), hotBodyKey(video), verKey(video), overlayKey(video), fenceKey(video), likesKey(video)}
	res, err := fillHotScript.Run(ctx, c.rdb, keys, args...).Slice()
	if err != nil {
		return FillResult{}, fmt.Errorf("pagecache fill hot video %d: %w", video, err)
	}
	ver, err := toInt(res[1])
	if err != nil {
		return FillResult{}, err
	}
	return FillResult{Written: res[0].(int64) == 1, Version: ver, Merged: int(res[2].(int64))}, nil
}

// readHotScript is ReadHot.
// KEYS: hmeta, hot, hbody, ver, hs:E, hsc:E, ov, lk.
// ARGV: page one (0|1), after likes, after member, limit, snapshot ttl (s).
// Reply: {0, ver} when neither a snapshot nor the window is cached, else
// {1, ver, total, complete, then member, likes, body triples} where body
// is "" when unknown and "x" when the overlay says the comment is gone.
var readHotScript = redis.NewScript(bodyLua + `
local ver = redis.call('GET', KEYS[4]) or '0'
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, ver} end
local meta = redis.call('HMGET', KEYS[1], 'total', 'complete', 'gen')
local gen = meta[3] or '0'
local snap = redis.call('GET', KEYS[6])
local src, complete = KEYS[2], meta[2] == '1'
if snap and redis.call('EXISTS', KEYS[5]) == 1 and (ARGV[1] == '0' or string.match(snap, '|(.*)$') == gen) then
  -- A later page reads its epoch's snapshot whatever the window became;
  -- page one only one taken from the window as filled now.
  src, complete = KEYS[5], string.sub(snap, 1, 1) == '1'
elseif ARGV[1] == '1' and redis.call('ZCARD', KEYS[2]) > 0 then
  redis.call('DEL', KEYS[5])
  redis.call('ZUNIONSTORE', KEYS[5], 1, KEYS[2])
  redis.call('EXPIRE', KEYS[5], ARGV[5])
  redis.call('SET', KEYS[6], (complete and '1' or '0') .. '|' .. gen, 'EX', ARGV[5])
  src = KEYS[5]
end
local total = meta[1] or '0'
local limit = tonumber(ARGV[4])
local ms, ss = {}, {}
if ARGV[1] == '1' then
  local r = redis.call('ZRANGE', src, 0, limit - 1, 'REV', 'WITHSCORES')
  for i = 1, #r, 2 do ms[#ms + 1] = r[i]; ss[#ss + 1] = r[i + 1] end
else
  local s, am = ARGV[2], ARGV[3]
  for _, x in ipairs(redis.call('ZRANGE', src, s, s, 'BYSCORE', 'REV')) do
    if #ms >= limit then break end
    if x < am then ms[#ms + 1] = x; ss[#ss + 1] = s end
  end
  if #ms < limit then
    local r = redis.call('ZRANGE', src, '(' .. s, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, limit - #ms, 'WITHSCORES')
    for i = 1, #r, 2 do ms[#ms + 1] = r[i]; ss[#ss + 1] = r[i + 1] end
  end
end
local out = {1, ver, total, complete and '1' or '0'}
for i = 1, #ms do
  local b = redis.call('HGET', KEYS[3], ms[i])
  if not b then
    local id = string.gsub(ms[i], '^0+', '')
    local ov = redis.call('HGET', KEYS[7], id)
    b = ''
    if ov then
      local vis, ob = string.match(ov, '^%d+|([01])|(.*)$')
      if vis == '0' then b = 'x' elseif vis == '1' then b = splice(ob, likesof(KEYS[8], id) or ss[i]) end
    end
  end
  out[#out + 1] = ms[i]; out[#out + 1] = ss[i]; out[#out + 1] = b
end
return out
`)

// fillHotScript is FillHot.
// KEYS: hmeta, hot, hbody, ver, ov, fence, lk.
// ARGV: token, page ttl (s), negative ttl (s), total, complete, started
// (µs), now (µs), horizon (µs), window, then member, likes, version, body
// quads.
// Reply: {written (0|1), ver, overlay entries merged}.
var fillHotScript = redis.NewScript(bodyLua + fillLua + `
local cur, ok = fillguard(KEYS[4], KEYS[6], ARGV[1], ARGV[6], ARGV[7], ARGV[8])
if not ok then return {0, cur, 0} end
local total, complete = tonumber(ARGV[4]), ARGV[5] == '1'
local fill, lows, lowm = {}, nil, nil
local function below(s1, m1, s2, m2) return s1 < s2 or (s1 == s2 and m1 < m2) end
for i = 10, #ARGV, 4 do
  local s = tonumber(ARGV[i + 1])
  fill[ARGV[i]] = {s = s, v = tonumber(ARGV[i + 2]), b = ARGV[i + 3]}
  if lows == nil or below(s, ARGV[i], lows, lowm) then lows, lowm = s, ARGV[i] end
end
local merged
total, merged = mergeoverlay(KEYS[5], fill, total, function(m, id, v, b, f)
  if (parentof(b) or '0') ~= '0' then return nil end
  local s = tonumber(likesof(KEYS[7], id) or (f and f.s) or 0)
  if f or complete or lows == nil or not below(s, m, lows, lowm) then return {s = s, v = v, b = b} end
end)
local ms = {}
for m, f in pairs(fill) do
  local n = likesof(KEYS[7], string.gsub(m, '^0+', ''))
  if n then f.s = tonumber(n) end
  if complete or lows == nil or not below(f.s, m, lows, lowm) then ms[#ms + 1] = m end
end
table.sort(ms, function(x, y)
  local a, b = fill[x].s, fill[y].s
  if a ~= b then return a > b end
  return x > y
end)
writelist(KEYS[1], KEYS[2], KEYS[3], ms, fill, tonumber(ARGV[9]), total, complete, {'gen', ARGV[7]}, ARGV[2], ARGV[3],
  function(f) return f.s end, function(f) return splice(f.b, string.format('%.0f', f.s)) end)
return {1, cur, merged}
`)
