package pages

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/vidcomments/vidcomments/internal/cdn"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/readsvc/cursor"
)

// built is a page before encoding.
type built struct {
	entries   []pagecache.Entry // up to limit+1: one more says there is a next page
	total     int64
	version   int64 // the cache version it was built at (0: unknown)
	stale     bool  // built without Redis
	cacheable bool  // the version did not move while it was built
}

// loadPage builds the value of a page key: the groupcache getter, and the
// whole read path when groupcache is off. It runs detached from the
// request that triggered it, since groupcache shares the result with every
// concurrent request for the key.
func (r *Reader) loadPage(ctx context.Context, key string) ([]byte, error) {
	switch {
	case strings.HasPrefix(key, "h/"):
		return r.loadHot(ctx, key)
	case strings.HasPrefix(key, "r/"):
		return r.loadReplies(ctx, key)
	}
	f, err := parseKey(key, 5) // video, before, limit, version, epoch
	if err != nil {
		return nil, err
	}
	req := Request{Video: f[0], Sort: cursor.ByTime, Before: f[1], Limit: int(f[2])}
	if req.Video <= 0 || req.Before < 0 || req.Limit < 1 || req.Limit > MaxLimit {
		return nil, errors.New("pages: key out of range: " + key)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.LoadTimeout)
	defer cancel()

	// The pinned comment is on top of page one and on no other page: ask
	// one more entry, so the page is still full without it.
	pin := r.pinned(ctx, req.Video)
	inner := req
	if pin.id != 0 {
		inner.Limit++
	}
	b, err := r.fromCache(ctx, inner)
	if errors.Is(err, errCacheDown) {
		b, err = r.direct(ctx, inner, false)
	}
	if err != nil {
		return nil, err
	}
	b.entries = withPin(b.entries, pin, req.Before == 0, req.Limit)
	value := r.encodePage(ctx, req, b)
	if !b.cacheable {
		r.m.uncacheable.Inc()
		return nil, &uncacheable{value: value}
	}
	return value, nil
}

// fromCache reads the page from the video's Redis window, refilling the
// window from Cassandra when it is not cached and the page is page one.
func (r *Reader) fromCache(ctx context.Context, req Request) (built, error) {
	for attempt := 0; attempt < 2; attempt++ {
		p, err := r.cache.Read(ctx, req.Video, req.Before, req.Limit+1)
		if err != nil {
			return built{}, err
		}
		if p.Cached {
			r.m.loads.WithLabelValues("redis").Inc()
			return r.fromWindow(ctx, req, p.Entries, p.Complete, p.Total, p.Version, true)
		}
		if req.Before > 0 {
			// A cursor page of an uncached video: the window holds the
			// newest comments, so filling it would read them only to read
			// Cassandra again at the cursor. Read the page itself, version-
			// guarded like a fill; page one fills the window.
			return r.direct(ctx, req, true)
		}
		w, err := r.backfill(ctx, req.Video)
		if err != nil {
			return built{}, err
		}
		if w != nil { // this process read the window: serve from it
			r.m.loads.WithLabelValues("backfill").Inc()
			return r.fromWindow(ctx, req, w.after(req.Before, req.Limit+1), w.complete, w.total, w.version, w.filled)
		}
		// Another process filled it, or we waited long enough: read again.
	}
	return r.direct(ctx, req, true)
}

// fromWindow completes a page that starts in the window: when the window
// ends before the page does and holds not every comment, the rest is read
// from Cassandra with the overlay merged in.
func (r *Reader) fromWindow(ctx context.Context, req Request, entries []pagecache.Entry, complete bool, total, version int64, cacheable bool) (built, error) {
	if len(entries) > req.Limit || complete {
		return built{entries: entries, total: total, version: version, cacheable: cacheable}, nil
	}
	r.m.loads.WithLabelValues("cassandra").Inc()
	start := req.Before
	if len(entries) > 0 {
		start = entries[len(entries)-1].ID
	}
	need := req.Limit + 1 - len(entries)
	ov, err := r.cache.Overlay(ctx, req.Video) // before Cassandra: see readWindow
	if err != nil {
		return built{}, err
	}
	ov = pagecache.OverlayFor(ov, 0) // roots: replies have their own lists
	ov = before(ov, start)
	rows, all, err := r.store.Page(ctx, req.Video, start, need+removals(ov))
	if err != nil {
		return built{}, err
	}
	merged := pagecache.Merge(rows, ov, need, all)
	after, err := r.cache.Version(ctx, req.Video)
	if err != nil {
		return built{}, err
	}
	out := make([]pagecache.Entry, 0, len(entries)+len(merged))
	out = append(append(out, entries...), merged...)
	return built{entries: out, total: total, version: version, cacheable: cacheable && after == version}, nil
}

// direct reads a page from Cassandra alone: with Redis up (a fill that
// never came), version-guarded and with the overlay merged; with Redis
// down, as Cassandra has it, marked stale.
func (r *Reader) direct(ctx context.Context, req Request, withRedis bool) (built, error) {
	r.m.loads.WithLabelValues("direct").Inc()
	var (
		token int64
		ov    map[int64]pagecache.OverlayEntry
		err   error
	)
	if withRedis { // token and overlay before Cassandra: see readWindow
		if token, err = r.cache.Version(ctx, req.Video); err == nil {
			ov, err = r.cache.Overlay(ctx, req.Video)
			ov = pagecache.OverlayFor(ov, 0)
		}
		withRedis = err == nil
		if req.Before > 0 {
			ov = before(ov, req.Before)
		}
	}
	rows, all, total, err := r.store.PageAndTotal(ctx, req.Video, req.Before, req.Limit+1+removals(ov))
	if err != nil {
		return built{}, err
	}
	if withRedis {
		after, verr := r.cache.Version(ctx, req.Video)
		if verr == nil {
			total = adjustTotal(total, rows, ov, all)
			return built{entries: pagecache.Merge(rows, ov, req.Limit+1, all), total: total, version: token, cacheable: after == token}, nil
		}
	}
	entries := make([]pagecache.Entry, len(rows))
	for i, row := range rows {
		entries[i] = pagecache.Entry{ID: row.ID, Body: row.Body}
	}
	// Cached for its epoch even though stale: while Redis is down,
	// groupcache is what keeps the load off Cassandra.
	return built{entries: entries, total: total, stale: true, cacheable: true}, nil
}

// backfill refills a video's time window (fill.go). It returns the window
// when this process read it, nil when another process filled it or the
// wait for that ended.
func (r *Reader) backfill(ctx context.Context, video int64) (*window, error) {
	return r.fillList(ctx, fillSpec{
		video: video, key: strconv.FormatInt(video, 10),
		cached: func(ctx context.Context) (bool, error) {
			p, err := r.cache.Read(ctx, video, 0, 0)
			return p.Cached, err
		},
		read: func(ctx context.Context) (*window, error) { return r.readWindow(ctx, video) },
		write: func(ctx context.Context, w *window) (pagecache.FillResult, error) {
			return r.cache.FillSince(ctx, video, w.token, w.entries, w.total, w.complete)
		},
	})
}

// readWindow reads a video's newest comments for a fill, after the fill
// token. The order is the protocol: the token first (a change recorded
// later is merged by the fill script from the overlay; one outside the
// overlay voids the fill), then the overlay, then Cassandra. A change cdc
// recorded before the overlay read is in the overlay or, if the syncer
// already settled it, in Cassandra before Cassandra is read; with Cassandra
// read first, a change written and settled between the two reads would be
// in neither and, since settling does not bump the version, the fill would
// miss it for good. Each entry carries the version it was built from, for
// the fill script.
func (r *Reader) readWindow(ctx context.Context, video int64) (*window, error) {
	ov, err := r.cache.Overlay(ctx, video)
	if err != nil {
		return nil, err
	}
	ov = pagecache.OverlayFor(ov, 0)
	rows, all, total, err := r.store.PageAndTotal(ctx, video, 0, r.opts.Window+1+removals(ov))
	if err != nil {
		return nil, err
	}
	w := &window{entries: pagecache.Merge(rows, ov, r.opts.Window+1, all)}
	w.trim(r.opts.Window, all)
	if w.complete {
		w.total = int64(len(w.entries))
	} else {
		w.total = adjustTotal(total, rows, ov, all)
	}
	return w, nil
}

// before keeps the overlay entries of ids older than id: the part of the
// overlay that concerns a page starting after id.
func before(ov map[int64]pagecache.OverlayEntry, id int64) map[int64]pagecache.OverlayEntry {
	out := make(map[int64]pagecache.OverlayEntry, len(ov))
	for k, e := range ov {
		if k < id {
			out[k] = e
		}
	}
	return out
}

// removals counts the overlay entries that may hide a row Cassandra still
// holds: a read asks for that many more rows, so a page the overlay thins
// out is still full and still knows whether there is a next one.
func removals(ov map[int64]pagecache.OverlayEntry) int {
	n := 0
	for _, e := range ov {
		if !e.Visible {
			n++
		}
	}
	return n
}

// adjustTotal corrects Cassandra's count by the overlay changes it can
// place: a removal of a row it read, an addition newer than the oldest row
// read (or anywhere, when the rows are all). It is exact when the window is
// complete (the caller counts then) and close otherwise.
func adjustTotal(total int64, rows []pagecache.Stored, ov map[int64]pagecache.OverlayEntry, all bool) int64 {
	if len(ov) == 0 {
		return total
	}
	seen := make(map[int64]int64, len(rows))
	var oldest int64
	for _, row := range rows {
		seen[row.ID] = row.Version
		if oldest == 0 || row.ID < oldest {
			oldest = row.ID
		}
	}
	for id, e := range ov {
		v, ok := seen[id]
		switch {
		case ok && v >= e.Version:
		case ok && !e.Visible:
			total--
		case !ok && e.Visible && (all || id > oldest):
			total++
		}
	}
	return max(total, 0)
}

// encodePage renders a built page as a cached value.
func (r *Reader) encodePage(ctx context.Context, req Request, b built) []byte {
	entries, next := b.entries, ""
	limit := req.Limit
	if len(entries) > 0 && entries[0].Version == pinMark {
		limit++ // page one: the pinned comment rides on top
	}
	if len(entries) > limit {
		entries = entries[:limit]
		next = r.opts.Cursors.Encode(req.Video, cursor.Cursor{Sort: cursor.ByTime, LastID: entries[len(entries)-1].ID})
	}
	return r.seal(ctx, cdn.VideoTag(req.Video), entries, next, b.total, b)
}

// seal renders a page's entries, cursor, total and authors as a cached
// value at b's version and staleness, tagged with tag (the video's or the
// parent comment's) and its authors' tags.
func (r *Reader) seal(ctx context.Context, tag string, entries []pagecache.Entry, next string, total int64, b built) []byte {
	users, found := r.pageAuthors(ctx, entries)
	size := 64 + len(next) + 96*len(found)
	for _, e := range entries {
		size += len(e.Body) + 1
	}
	v := appendPageBody(newValue(authorTags(tag, users, found), size), entries, next, total)
	if r.authors != nil {
		v = append(appendAuthors(v[:len(v)-1], users, found, r.opts.Now()), '}') // inside the closing brace
	}
	return sealValue(v, b.version, b.stale, false)
}

// loadComment builds the value of a comment key.
func (r *Reader) loadComment(ctx context.Context, key string) ([]byte, error) {
	f, err := parseKey(key, 2) // id, epoch
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.LoadTimeout)
	defer cancel()
	c, body, found, err := r.store.Comment(ctx, f[0])
	if err != nil {
		return nil, err
	}
	visible, stale := found && c.Status.Visible(), false
	if found {
		// A moderation change cdc has seen wins over a lagging Cassandra.
		ov, err := r.cache.Overlay(ctx, c.VideoID)
		switch {
		case err != nil:
			stale = true
		case ov[c.ID].Version > c.Version:
			visible, body = ov[c.ID].Visible, ov[c.ID].Body
		}
	}
	if !visible {
		body = []byte(`{"error":{"code":"not_found","message":"comment not found"}}`)
	}
	v := append(newValue(cdn.CommentTag(f[0]), len(body)), body...)
	return sealValue(v, 0, stale, !visible), nil
}
