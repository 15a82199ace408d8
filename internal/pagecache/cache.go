package pagecache

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vidcomments/vidcomments/internal/config"
)

// Defaults of Options.
const (
	DefaultWindow      = 1000             // newest comments kept per video
	DefaultHotWindow   = 200              // most liked roots kept per video (sort=hot)
	DefaultSnapshotTTL = 5 * time.Minute  // how long a hot page-one snapshot serves later pages
	DefaultPageTTL     = 10 * time.Minute // before jitter
	DefaultOverlayTTL  = 24 * time.Hour   // safety net; the syncer clears entries long before
	DefaultSettledTTL  = 10 * time.Minute // longer than cdc can lag behind the syncer
	DefaultNegativeTTL = 30 * time.Second // an empty video's cached page, before jitter
	// DefaultOverlayHorizon is how long a settled overlay entry is kept, and
	// so how old a fill may be and still be written after the version moved.
	DefaultOverlayHorizon = time.Minute
	purgeBatch            = 100 // settled entries one Settle purges at most
)

// Options tune a Cache. Zero values take the defaults.
type Options struct {
	Window      int
	HotWindow   int           // size of the hot window (sort=hot)
	SnapshotTTL time.Duration // life of a hot snapshot (vc:{V}:hs:E)
	PageTTL     time.Duration
	OverlayTTL  time.Duration
	SettledTTL  time.Duration
	NegativeTTL time.Duration // TTL of a fill without entries (empty or unknown video)
	// OverlayHorizon: settled overlay entries are kept this long; a fill
	// this old is voided when the version moved. Must stay below SettledTTL
	// and far above the clock skew between hosts.
	OverlayHorizon time.Duration
	Now            func() time.Time // the clock; time.Now by default
}

// Cache is the Redis page cache of every video.
type Cache struct {
	rdb  redis.UniversalClient
	opts Options
}

// New returns a Cache over rdb.
func New(rdb redis.UniversalClient, opts Options) *Cache {
	config.Default(&opts.Window, DefaultWindow)
	config.Default(&opts.HotWindow, DefaultHotWindow)
	config.Default(&opts.SnapshotTTL, DefaultSnapshotTTL)
	config.Default(&opts.PageTTL, DefaultPageTTL)
	config.Default(&opts.OverlayTTL, DefaultOverlayTTL)
	config.Default(&opts.SettledTTL, DefaultSettledTTL)
	config.Default(&opts.NegativeTTL, DefaultNegativeTTL)
	config.Default(&opts.OverlayHorizon, DefaultOverlayHorizon)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Cache{rdb: rdb, opts: opts}
}

// Window is the number of newest comments cached per video.
func (c *Cache) Window() int { return c.opts.Window }

// HotWindow is the number of most liked roots cached per video.
func (c *Cache) HotWindow() int { return c.opts.HotWindow }

// PendingTTL is how long an author's private pending view outlives its last
// write (Options.OverlayTTL).
func (c *Cache) PendingTTL() time.Duration { return c.opts.OverlayTTL }

// Entry is one cached comment: its id and its public JSON body. Version is
// the row version the entry was built from, for FillSince (Merge sets it;
// Read leaves it 0).
type Entry struct {
	ID      int64
	Body    []byte
	Version int64
	Likes   int64 // the hot order's score (hot window entries only)
}

// Page is what Read found.
type Page struct {
	Cached   bool  // the video's window is in Redis
	Version  int64 // the video's cache version when read (0: never bumped)
	Total    int64 // visible comments of the video
	Complete bool  // the window holds every visible comment
	Entries  []Entry
}

// IDs lists the ids of the page's entries, in page order (empty, not nil,
// for a page without entries).
func (p Page) IDs() []int64 {
	out := make([]int64, 0, len(p.Entries))
	for _, e := range p.Entries {
		out = append(out, e.ID)
	}
	return out
}

// Read returns up to limit comments older than before (0: from the newest),
// in one round trip. A page with fewer than limit entries that is not
// Complete runs past the window: the rest must come from Cassandra.
func (c *Cache) Read(ctx context.Context, video, before int64, limit int) (Page, error) {
	keys := []string{metaKey(video), timeKey(video), bodyKey(video), verKey(video), replyGenKey(video)}
	p, err := c.readList(ctx, keys, before, limit, false)
	if err != nil {
		return Page{}, fmt.Errorf("pagecache read video %d: %w", video, err)
	}
	return p, nil
}

// readList reads a page of the time window or of a reply list.
func (c *Cache) readList(ctx context.Context, keys []string, before int64, limit int, checkGen bool) (Page, error) {
	start := "+"
	if before > 0 {
		start = "(" + member(before)
	}
	res, err := readScript.Run(ctx, c.rdb, keys, start, limit, boolArg(checkGen)).Slice()
	if err != nil {
		return Page{}, err
	}
	var p Page
	rest, err := readHead(res, &p.Cached, &p.Version, &p.Total, &p.Complete)
	if err != nil || !p.Cached {
		return p, err
	}
	n := len(rest) / 2
	p.Entries = make([]Entry, 0, n)
	for i := 0; i < n; i++ {
		id, err := parseMember(rest[i].(string))
		if err != nil {
			return Page{}, fmt.Errorf("pagecache: bad member %v: %w", rest[i], err)
		}
		body, ok := rest[n+i].(string)
		if !ok { // a body lost to eviction: treat the window as not cached
			return Page{Version: p.Version}, nil
		}
		p.Entries = append(p.Entries, Entry{ID: id, Body: []byte(body)})
	}
	return p, nil
}

// readHead parses the head every read script answers with — {0, ver} when
// the list is not cached, else {1, ver, total, complete, …} — and returns
// the rest.
func readHead(res []any, cached *bool, version, total *int64, complete *bool) ([]any, error) {
	var err error
	if len(res) < 2 {
		return nil, fmt.Errorf("pagecache: short read reply %v", res)
	}
	if *version, err = toInt(res[1]); err != nil {
		return nil, err
	}
	if res[0].(int64) == 0 || len(res) < 4 {
		return nil, nil
	}
	*cached = true
	if *total, err = toInt(res[2]); err != nil {
		return nil, err
	}
	*complete = res[3] == "1"
	return res[4:], nil
}

// Version returns a video's cache version (0 if never bumped): the token a
// filler takes before it reads Cassandra.
func (c *Cache) Version(ctx context.Context, video int64) (int64, error) {
	s, err := c.rdb.Get(ctx, verKey(video)).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("pagecache version video %d: %w", video, err)
	}
	return strconv.ParseInt(s, 10, 64)
}

// FillToken is what a backfill takes before it reads the overlay and
// Cassandra: the cache version and the time it was read.
type FillToken struct {
	Version int64
	At      time.Time
}

// BeginFill takes the token of a backfill of video.
func (c *Cache) BeginFill(ctx context.Context, video int64) (FillToken, error) {
	at := c.opts.Now()
	v, err := c.Version(ctx, video)
	return FillToken{Version: v, At: at}, err
}

// FillResult says what FillSince did.
type FillResult struct {
	Written bool  // the window was written
	Version int64 // the cache version at the fill: != the token's when changes landed meanwhile
	Merged  int   // overlay entries the fill script applied to the entries given
}

// FillSince replaces a video's window with entries (newest first, each
// with the Version it was built from), merged with the video's current
// overlay in the same script, so changes recorded since tok are in the
// window written. It is voided only when tok is OverlayHorizon old or a
// change outside the overlay (Invalidate, a settle of a change cdc never
// recorded) landed after tok. See the package doc.
func (c *Cache) FillSince(ctx context.Context, video int64, tok FillToken, entries []Entry, total int64, complete bool) (FillResult, error) {
	keys := []string{metaKey(video), timeKey(video), bodyKey(video), verKey(video), overlayKey(video), fenceKey(video), replyGenKey(video), likesKey(video)}
	res, err := c.fillList(ctx, keys, 0, tok, entries, total, complete)
	if err != nil {
		return FillResult{}, fmt.Errorf("pagecache fill video %d: %w", video, err)
	}
	return res, nil
}

// fillList runs fillScript for the time window (parent 0) or a reply list.
func (c *Cache) fillList(ctx context.Context, keys []string, parent int64, tok FillToken, entries []Entry, total int64, complete bool) (FillResult, error) {
	args := make([]any, 0, 10+3*len(entries))
	args = append(args, strconv.FormatInt(tok.Version, 10), ttlSeconds(c.opts.PageTTL), ttlSeconds(c.opts.NegativeTTL), total, boolArg(complete),
		tok.At.UnixMicro(), c.opts.Now().UnixMicro(), c.opts.OverlayHorizon.Microseconds(), c.opts.Window, strconv.FormatInt(parent, 10))
	for _, e := range entries {
		args = append(args, member(e.ID), e.Version, e.Body)
	}
	res, err := fillScript.Run(ctx, c.rdb, keys, args...).Slice()
	if err != nil {
		return FillResult{}, err
	}
	ver, err := toInt(res[1])
	if err != nil {
		return FillResult{}, err
	}
	return FillResult{Written: res[0].(int64) == 1, Version: ver, Merged: int(res[2].(int64))}, nil
}

// ttlSeconds adds up to 20% jitter to base (it spreads expiries) and
// rounds to whole seconds, at least one (EXPIRE takes whole seconds).
func ttlSeconds(base time.Duration) int64 {
	ttl := base + time.Duration(mrand.Int64N(int64(base/5)+1))
	return max(int64(ttl/time.Second), 1)
}

// OverlayEntry is a change cdc has seen for one comment.
type OverlayEntry struct {
	Version int64
	Visible bool
	Body    []byte // the public JSON when Visible
	Parent  int64  // the root a visible reply belongs to (from Body); 0 for a root
}

// Overlay returns a video's overlay: the changes Cassandra may not hold
// yet. Settled entries, kept for fills in flight, are left out.
func (c *Cache) Overlay(ctx context.Context, video int64) (map[int64]OverlayEntry, error) {
	var all *redis.MapStringStringCmd
	var settled *redis.StringSliceCmd
	_, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		all = p.HGetAll(ctx, overlayKey(video))
		settled = p.ZRange(ctx, settledAtKey(video), 0, -1)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pagecache overlay video %d: %w", video, err)
	}
	raw := all.Val()
	for _, k := range settled.Val() {
		delete(raw, k)
	}
	out := make(map[int64]OverlayEntry, len(raw))
	for k, v := range raw {
		id, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("pagecache overlay video %d: bad id %q", video, k)
		}
		e, err := parseOverlay(v)
		if err != nil {
			return nil, fmt.Errorf("pagecache overlay video %d id %d: %w", video, id, err)
		}
		out[id] = e
	}
	return out, nil
}

func parseOverlay(v string) (OverlayEntry, error) {
	ver, rest, ok := cut(v)
	vis, body, ok2 := cut(rest)
	if !ok || !ok2 || (vis != "0" && vis != "1") {
		return OverlayEntry{}, fmt.Errorf("bad overlay value %q", v)
	}
	// Digits only, as the Lua scripts read it ('^(%d+)|'): ParseInt alone
	// would also take "+5" and "-5", which the fill script ignores.
	n, err := strconv.ParseInt(ver, 10, 64)
	if err != nil || ver[0] < '0' || ver[0] > '9' {
		return OverlayEntry{}, fmt.Errorf("bad overlay version %q", ver)
	}
	return OverlayEntry{Version: n, Visible: vis == "1", Body: []byte(body), Parent: parentOf(body)}, nil
}

// parentOf reads "parent_id" out of a public JSON body (0 when absent): a
// quote inside content is escaped, so only the field itself matches.
func parentOf(body string) int64 {
	const field = `"parent_id":"`
	i := strings.Index(body, field)
	if i < 0 {
		return 0
	}
	rest := body[i+len(field):]
	j := strings.IndexByte(rest, '"')
	if j < 0 {
		return 0
	}
	n, err := strconv.ParseInt(rest[:j], 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func cut(s string) (string, string, bool) {
	i := bytes.IndexByte([]byte(s), '|')
	if i < 0 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

// Change is one row change as cdc saw it in the binlog.
type Change struct {
	VideoID    int64
	ID         int64
	Version    int64
	Visible    bool   // after the change
	WasVisible bool   // before it (false for an insert)
	Body       []byte // the public JSON after the change, when Visible or Pending
	ParentID   int64  // 0 for a root; a reply edits its parent's reply list
	UserID     int64  // the author: a Pending row goes into their private view
	Pending    bool   // after the change the row waits for moderation
	// Recovering: Redis lost its data and cdc has not yet caught up with
	// the binlog as of the loss (Cache.Epoch). Record then drops the video's
	// windows instead of editing them and writes the overlay entry as
	// settled.
	Recovering bool
}

// Record applies a change to the cached window (if the video is cached),
// remembers it in the overlay, bumps the version and publishes it. A change
// already recorded or settled at this version or newer is skipped, so
// re-applying a binlog range is harmless. It reports whether it applied.
//
// A root (ParentID 0) edits the time window and the hot window (entering
// the hot window only inside its range, with its count from vc:{V}:lk); a
// reply edits its parent's reply list instead and never counts in the
// video's total. A Pending row's body goes into its author's private
// vc:{V}:u:{UserID} hash; any later change of the row takes it out.
func (c *Cache) Record(ctx context.Context, ch Change) (bool, int64, error) {
	body := ch.Body
	if !ch.Visible {
		body = nil
	}
	var pendingBody []byte
	if ch.Pending {
		pendingBody = ch.Body
	}
	v := ch.VideoID
	keys := []string{metaKey(v), timeKey(v), bodyKey(v), verKey(v), overlayKey(v), settledKey(v, ch.ID), settledAtKey(v),
		likesKey(v), hotMetaKey(v), hotKey(v), hotBodyKey(v),
		replyMetaKey(v, ch.ParentID), replyKey(v, ch.ParentID), replyBodyKey(v, ch.ParentID), replyGenKey(v), userKey(v, ch.UserID), fenceKey(v)}
	res, err := recordScript.Run(ctx, c.rdb, keys,
		strconv.FormatInt(ch.ID, 10), ch.Version, boolArg(ch.Visible), boolArg(ch.WasVisible), body,
		c.opts.Window, c.opts.Now().UnixMicro(), ch.VideoID, int64(c.opts.OverlayTTL/time.Second), member(ch.ID),
		strconv.FormatInt(max(ch.ParentID, 0), 10), boolArg(ch.Pending), pendingBody, c.opts.HotWindow, boolArg(ch.UserID > 0), boolArg(ch.Recovering), c.fenceTTL()).Slice()
	if err != nil {
		return false, 0, fmt.Errorf("pagecache record video %d comment %d: %w", ch.VideoID, ch.ID, err)
	}
	ver, err := toInt(res[1])
	return res[0].(int64) == 1, ver, err
}

// Settled says what Settle did.
type Settled int

// Settle outcomes.
const (
	SettleNothing     Settled = iota // a newer change is pending, or already settled
	SettleCleared                    // cdc had recorded exactly this version: overlay entry settled (kept for the horizon)
	SettleInvalidated                // the cache never saw it: pages dropped, version bumped
)

// Settle is called by the syncer once Cassandra durably holds version of
// comment id. It also purges overlay entries settled more than
// OverlayHorizon ago (up to purgeBatch).
func (c *Cache) Settle(ctx context.Context, video, id, version int64) (Settled, error) {
	n, err := settleScript.Run(ctx, c.rdb, settleKeys(video, id), c.settleArgs(id, version, video, c.opts.Now())...).Int()
	if err != nil {
		return SettleNothing, fmt.Errorf("pagecache settle video %d comment %d: %w", video, id, err)
	}
	return Settled(n), nil
}

func settleKeys(video, id int64) []string {
	return []string{metaKey(video), timeKey(video), bodyKey(video), verKey(video), overlayKey(video), settledKey(video, id), settledAtKey(video), fenceKey(video),
		hotMetaKey(video), hotKey(video), hotBodyKey(video), replyGenKey(video)}
}

func (c *Cache) settleArgs(id, version, video int64, now time.Time) []any {
	return []any{strconv.FormatInt(id, 10), version, now.UnixMicro(), video, int64(c.opts.SettledTTL / time.Second),
		c.opts.OverlayHorizon.Microseconds(), int64(c.opts.OverlayTTL / time.Second), purgeBatch, c.fenceTTL()}
}

// fenceTTL keeps a fence while a fill it must void could still be written.
func (c *Cache) fenceTTL() int64 { return max(int64(2*c.opts.OverlayHorizon/time.Second), 2) }

// Invalidate drops a video's cached pages, bumps its version and voids
// the fills in flight.
func (c *Cache) Invalidate(ctx context.Context, video int64) (int64, error) {
	keys := []string{metaKey(video), timeKey(video), bodyKey(video), verKey(video), fenceKey(video), hotMetaKey(video), hotKey(video), hotBodyKey(video), replyGenKey(video)}
	v, err := invalidateScript.Run(ctx, c.rdb, keys, c.opts.Now().UnixMicro(), video, c.fenceTTL()).Int64()
	if err != nil {
		return 0, fmt.Errorf("pagecache invalidate video %d: %w", video, err)
	}
	return v, nil
}

// TryLease takes the video's fill lease for ttl. The token releases it.
func (c *Cache) TryLease(ctx context.Context, video int64, ttl time.Duration) (token string, ok bool, err error) {
	return c.TryLeaseOf(ctx, video, "", ttl)
}

// TryLeaseOf takes the lease of one of a video's lists (kind "": the time
// window; "hot"; "r:P" a reply list) for ttl.
func (c *Cache) TryLeaseOf(ctx context.Context, video int64, kind string, ttl time.Duration) (token string, ok bool, err error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	token = hex.EncodeToString(b)
	ok, err = c.rdb.SetNX(ctx, leaseOfKey(video, kind), token, ttl).Result()
	if err != nil {
		return "", false, fmt.Errorf("pagecache lease video %d: %w", video, err)
	}
	return token, ok, nil
}

// ReleaseLease gives the lease back if token still holds it.
func (c *Cache) ReleaseLease(ctx context.Context, video int64, token string) error {
	return c.ReleaseLeaseOf(ctx, video, "", token)
}

// ReleaseLeaseOf gives a TryLeaseOf lease back if token still holds it.
func (c *Cache) ReleaseLeaseOf(ctx context.Context, video int64, kind, token string) error {
	return releaseScript.Run(ctx, c.rdb, []string{leaseOfKey(video, kind)}, token).Err()
}

func leaseOfKey(video int64, kind string) string {
	if kind == "" {
		return leaseKey(video)
	}
	return leaseKey(video) + ":" + kind
}

// Stored is a comment as the backfill read it from Cassandra.
type Stored struct {
	ID      int64
	Version int64
	Body    []byte
}

// Merge applies the overlay to the newest comments read from Cassandra
// (newest first) and returns the window to cache, newest first, at most
// window long. An overlay entry wins over Cassandra when its version is
// newer: a lagging Cassandra can neither resurrect a rejected comment nor
// hide an approved one. The fill script applies the same rules to the
// overlay it finds (see the package doc). readAll says the rows are every visible comment of
// the video; otherwise an overlay addition older than the oldest row read is
// left out, since it belongs to a page beyond the window.
func Merge(rows []Stored, overlay map[int64]OverlayEntry, window int, readAll bool) []Entry {
	byID := make(map[int64]Stored, len(rows))
	var oldest int64
	for _, r := range rows {
		byID[r.ID] = r
		if oldest == 0 || r.ID < oldest {
			oldest = r.ID
		}
	}
	for id, ov := range overlay {
		r, ok := byID[id]
		if ok && r.Version >= ov.Version {
			continue
		}
		switch {
		case !ov.Visible:
			delete(byID, id)
		case ok || readAll || oldest == 0 || id > oldest:
			byID[id] = Stored{ID: id, Version: ov.Version, Body: ov.Body}
		}
	}
	out := make([]Entry, 0, len(byID))
	for _, r := range byID {
		out = append(out, Entry{ID: r.ID, Body: r.Body, Version: r.Version})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	if len(out) > window {
		out = out[:window]
	}
	return out
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case string:
		return strconv.ParseInt(x, 10, 64)
	}
	return 0, fmt.Errorf("pagecache: unexpected reply %T %v", v, v)
}

func indexOf(s, sub string) int { return strings.Index(s, sub) }
