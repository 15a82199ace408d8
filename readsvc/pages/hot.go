package pages

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/vidcomments/vidcomments/internal/cdn"
	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/readsvc/cursor"
)

// pinMark is the Version of the pinned comment put on top of page one.
const pinMark = -1

// pinInfo is a video's pinned comment: id 0 when none; body nil when it
// is not visible (it is still kept off every page).
type pinInfo struct {
	id   int64
	body []byte
}

// pinned reads the video's pin: Redis, else Cassandra's video_pins (cached
// in Redis for the next read). Failures show no pin.
func (r *Reader) pinned(ctx context.Context, video int64) pinInfo {
	var id int64
	p, err := r.cache.Pin(ctx, video)
	switch {
	case err == nil && p.Cached:
		id = p.ID
	default:
		sid, ver, serr := r.store.Pin(ctx, video)
		if serr != nil {
			return pinInfo{}
		}
		if err == nil {
			_ = r.cache.FillPin(ctx, video, sid, ver) // the next read finds it in Redis
		}
		id = sid
	}
	if id == 0 {
		return pinInfo{}
	}
	cp, err := r.Comment(ctx, id)
	if err != nil || cp.NotFound {
		return pinInfo{id: id}
	}
	body := cp.Body()
	if !bytes.Contains(body, []byte(`"video_id":"`+strconv.FormatInt(video, 10)+`"`)) {
		return pinInfo{} // pinned on another video: not ours to hide
	}
	return pinInfo{id: id, body: body}
}

// withPin drops the pinned comment from entries and, on page one, puts it
// on top (marked pinMark).
func withPin(entries []pagecache.Entry, pin pinInfo, pageOne bool, _ int) []pagecache.Entry {
	if pin.id == 0 {
		return entries
	}
	out := make([]pagecache.Entry, 0, len(entries)+1)
	if pageOne && pin.body != nil {
		out = append(out, pagecache.Entry{ID: pin.id, Body: pin.body, Version: pinMark})
	}
	for _, e := range entries {
		if e.ID != pin.id {
			out = append(out, e)
		}
	}
	return out
}

// snapshotEpoch is the hot snapshot a page one pins at now.
func (r *Reader) snapshotEpoch(now int64) int64 {
	return now / int64(r.opts.SnapshotEvery)
}

// hotPage serves sort=hot through groupcache: the key carries the video,
// the snapshot epoch (page one: the current one; later pages: the
// cursor's), the cursor's (likes, id), the limit, the version and the
// max-age epoch.
func (r *Reader) hotPage(ctx context.Context, req Request) (Page, error) {
	if req.Video <= 0 || req.Hot.ID < 0 || req.Hot.Likes < 0 || req.Limit < 1 || req.Limit > MaxLimit {
		return Page{}, fmt.Errorf("pages: bad request %+v", req)
	}
	now := r.now()
	snap := req.Epoch
	if req.Hot.ID == 0 {
		snap = r.snapshotEpoch(now)
	}
	var buf [keyBuf]byte
	key, shape := r.pageKey(ctx, buf[:0], 'h', now, req.Video, req.Video, snap, req.Hot.Likes, req.Hot.ID, int64(req.Limit))
	return r.page(ctx, key, shape)
}

// loadHot builds a sort=hot page: the snapshot or hot window in Redis
// (refilled from Cassandra's hot index after a miss), continued past it
// from the hot index by keyset.
func (r *Reader) loadHot(ctx context.Context, key string) ([]byte, error) {
	f, err := parseKey(key, 7) // video, snapshot, likes, id, limit, version, epoch
	if err != nil {
		return nil, err
	}
	video, snap, pos, limit := f[0], f[1], pagecache.HotPos{Likes: f[2], ID: f[3]}, int(f[4])
	if video <= 0 || snap < 0 || pos.Likes < 0 || pos.ID < 0 || limit < 1 || limit > MaxLimit {
		return nil, errors.New("pages: key out of range: " + key)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.LoadTimeout)
	defer cancel()

	pin := r.pinned(ctx, video)
	want := limit + 1 // one more says there is a next page
	if pin.id != 0 {
		want++
	}
	b, err := r.hotFromCache(ctx, video, snap, pos, want)
	if errors.Is(err, errCacheDown) {
		b, err = r.hotDirect(ctx, video, pos, want, nil)
		b.stale, b.cacheable = true, true
	}
	if err != nil {
		return nil, err
	}
	pageOne := pos.ID == 0
	entries := withPin(b.entries, pin, pageOne, limit)
	n := limit
	if len(entries) > 0 && entries[0].Version == pinMark {
		n++
	}
	next := ""
	if len(entries) > n {
		entries = entries[:n]
		last := entries[len(entries)-1]
		next = r.opts.Cursors.Encode(video, cursor.Cursor{Sort: cursor.ByHot, LastID: last.ID, Score: last.Likes, Epoch: snap})
	}
	value := r.seal(ctx, cdn.VideoTag(video), entries, next, b.total, b)
	if !b.cacheable {
		r.m.uncacheable.Inc()
		return nil, &uncacheable{value: value}
	}
	return value, nil
}

// hotFromCache reads up to want entries after pos from Redis, refilling
// the hot window once when it is not cached.
func (r *Reader) hotFromCache(ctx context.Context, video, snap int64, pos pagecache.HotPos, want int) (built, error) {
	hp, cached, err := readOrBackfill(r, func() (pagecache.HotPage, bool, error) {
		hp, err := r.cache.ReadHot(ctx, video, snap, pos, want)
		return hp, hp.Cached, err
	}, func() error { return r.backfillHot(ctx, video) })
	if err != nil {
		return built{}, err
	}
	if cached {
		return r.hotFromWindow(ctx, video, pos, want, hp)
	}
	ov, err := r.cache.Overlay(ctx, video)
	if err != nil {
		return built{}, err
	}
	b, err := r.hotDirect(ctx, video, pos, want, ov)
	b.cacheable = false // no version to key it by: served once
	return b, err
}

// hotFromWindow completes what Redis returned: bodies the cache lacks
// come from Cassandra, and a page running past an incomplete window
// continues from the hot index.
func (r *Reader) hotFromWindow(ctx context.Context, video int64, pos pagecache.HotPos, want int, hp pagecache.HotPage) (built, error) {
	b := built{version: hp.Version, total: hp.Total, cacheable: true}
	seen := map[int64]bool{}
	last := pos
	for _, it := range hp.Items {
		last = pagecache.HotPos{Likes: it.Likes, ID: it.ID}
		if it.Gone || seen[it.ID] {
			continue
		}
		body := it.Body
		if body == nil {
			c, cb, found, err := r.store.Comment(ctx, it.ID)
			if err != nil {
				return built{}, err
			}
			if !found || !c.Status.Visible() {
				continue
			}
			body = cb
		}
		seen[it.ID] = true
		b.entries = append(b.entries, pagecache.Entry{ID: it.ID, Likes: it.Likes, Body: body})
	}
	if b.total < 0 {
		if t, err := r.store.Total(ctx, video); err == nil {
			b.total = t
		} else {
			b.total = 0
		}
	}
	if len(hp.Items) >= want || hp.Complete {
		return b, nil
	}
	r.m.loads.WithLabelValues("cassandra").Inc()
	ov, err := r.cache.Overlay(ctx, video)
	if err != nil {
		return built{}, err
	}
	more, err := r.hotDirect(ctx, video, last, want-len(b.entries), ov)
	if err != nil {
		return built{}, err
	}
	for _, e := range more.entries {
		if !seen[e.ID] {
			seen[e.ID] = true
			b.entries = append(b.entries, e)
		}
	}
	after, err := r.cache.Version(ctx, video)
	if err != nil {
		return built{}, err
	}
	b.cacheable = after == hp.Version
	return b, nil
}

// hotDirect reads want entries after pos from Cassandra's hot index; the
// overlay (when Redis answered) removes comments cdc saw hidden.
func (r *Reader) hotDirect(ctx context.Context, video int64, pos pagecache.HotPos, want int, ov map[int64]pagecache.OverlayEntry) (built, error) {
	rows, _, err := r.store.HotPage(ctx, video, pos, want+removals(ov))
	if err != nil {
		return built{}, err
	}
	out := make([]pagecache.Entry, 0, len(rows))
	for _, e := range rows {
		if o, ok := ov[e.ID]; ok && o.Version > e.Version && !o.Visible {
			continue
		}
		out = append(out, e)
	}
	if len(out) > want {
		out = out[:want]
	}
	total, err := r.store.Total(ctx, video)
	if err != nil {
		return built{}, err
	}
	return built{entries: out, total: total, cacheable: ov != nil}, nil
}

// backfillHot refills a video's hot window (fill.go, lease "hot") from the
// top bands of the hot index: O(window).
func (r *Reader) backfillHot(ctx context.Context, video int64) error {
	_, err := r.fillList(ctx, fillSpec{
		video: video, key: "h" + strconv.FormatInt(video, 10), lease: "hot",
		cached: func(ctx context.Context) (bool, error) {
			hp, err := r.cache.ReadHot(ctx, video, 0, pagecache.HotPos{Likes: 0, ID: 1}, 0)
			return hp.Cached, err
		},
		read: func(ctx context.Context) (*window, error) {
			ov, err := r.cache.Overlay(ctx, video)
			if err != nil {
				return nil, err
			}
			rows, all, err := r.store.HotPage(ctx, video, pagecache.HotPos{}, r.opts.HotWindow+1+removals(ov))
			if err != nil {
				return nil, err
			}
			total, err := r.store.Total(ctx, video)
			if err != nil {
				return nil, err
			}
			w := &window{entries: rows, total: total}
			w.trim(r.opts.HotWindow, all) // the fill script merges the overlay itself
			return w, nil
		},
		write: func(ctx context.Context, w *window) (pagecache.FillResult, error) {
			return r.cache.FillHot(ctx, video, w.token, w.entries, w.total, w.complete)
		},
	})
	return err
}

// Pending returns user's own pending comments of video (newest first),
// from Redis only: never cached in groupcache or shared pages.
func (r *Reader) Pending(ctx context.Context, video, user int64) ([]pagecache.Entry, error) {
	if video <= 0 || user <= 0 {
		return nil, nil
	}
	return r.cache.Pending(ctx, video, user)
}

// parentInfo is what a reply list needs of its root.
type parentInfo struct {
	video, replies int64
}

// rootOf reads root id's video and reply count through the comment tier;
// ErrNotFound when readers may not see it.
func (r *Reader) rootOf(ctx context.Context, id int64) (parentInfo, error) {
	p, err := r.Comment(ctx, id)
	if err != nil {
		return parentInfo{}, err
	}
	if p.NotFound {
		return parentInfo{}, ErrNotFound
	}
	var pub comment.Public
	if err := jsonUnmarshal(p.Body(), &pub); err != nil {
		return parentInfo{}, fmt.Errorf("pages: comment %d body: %w", id, err)
	}
	video, err := comment.ParseID(pub.VideoID)
	if err != nil {
		return parentInfo{}, fmt.Errorf("pages: comment %d video: %w", id, err)
	}
	return parentInfo{video: video, replies: pub.ReplyCount}, nil
}
