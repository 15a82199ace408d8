package pages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/vidcomments/vidcomments/internal/cdn"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/readsvc/cursor"
)

// ErrNotFound: the comment does not exist or readers may not see it.
var ErrNotFound = errors.New("pages: comment not found")

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// ReplyRequest asks for one page of a root comment's replies, newest first.
type ReplyRequest struct {
	Parent int64
	Before int64 // the cursor's last id; 0 for the first page
	Limit  int   // 1..MaxLimit
}

// Replies returns one page of a root's replies, cached like video pages:
// groupcache (key: parent, before, limit, the video's version, epoch), the
// reply list vc:{V}:r:{P} in Redis, Cassandra's replies_by_parent after a
// miss (singleflight + lease, overlay merged, version-guarded fill).
// ErrNotFound when the parent is not visible.
func (r *Reader) Replies(ctx context.Context, req ReplyRequest) (Page, error) {
	if req.Parent <= 0 || req.Before < 0 || req.Limit < 1 || req.Limit > MaxLimit {
		return Page{}, fmt.Errorf("pages: bad request %+v", req)
	}
	root, err := r.rootOf(ctx, req.Parent)
	if err != nil {
		return Page{}, err
	}
	var buf [keyBuf]byte
	key, shape := r.pageKey(ctx, buf[:0], 'r', r.now(), root.video, req.Parent, root.video, req.Before, int64(req.Limit), root.replies)
	return r.page(ctx, key, shape)
}

// loadReplies builds a reply page.
func (r *Reader) loadReplies(ctx context.Context, key string) ([]byte, error) {
	f, err := parseKey(key, 7) // parent, video, before, limit, reply count, version, epoch
	if err != nil {
		return nil, err
	}
	parent, video, before, limit, total := f[0], f[1], f[2], int(f[3]), f[4]
	if parent <= 0 || video <= 0 || before < 0 || limit < 1 || limit > MaxLimit {
		return nil, errors.New("pages: key out of range: " + key)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.LoadTimeout)
	defer cancel()
	b, err := r.repliesFromCache(ctx, video, parent, before, limit+1)
	if errors.Is(err, errCacheDown) {
		b, err = r.repliesDirect(ctx, video, parent, before, limit+1, false)
	}
	if err != nil {
		return nil, err
	}
	entries, next := b.entries, ""
	if len(entries) > limit {
		entries = entries[:limit]
		next = r.opts.Cursors.Encode(parent, cursor.Cursor{Sort: cursor.ByTime, LastID: entries[len(entries)-1].ID})
	}
	value := r.seal(ctx, cdn.CommentTag(parent), entries, next, max(total, 0), b)
	if !b.cacheable {
		r.m.uncacheable.Inc()
		return nil, &uncacheable{value: value}
	}
	return value, nil
}

func (r *Reader) repliesFromCache(ctx context.Context, video, parent, before int64, n int) (built, error) {
	p, cached, err := readOrBackfill(r, func() (pagecache.Page, bool, error) {
		p, err := r.cache.ReadReplies(ctx, video, parent, before, n)
		return p, p.Cached, err
	}, func() error { return r.backfillReplies(ctx, video, parent) })
	if err != nil {
		return built{}, err
	}
	if !cached {
		b, err := r.repliesDirect(ctx, video, parent, before, n, true)
		b.cacheable = false
		return b, err
	}
	b := built{entries: p.Entries, version: p.Version, cacheable: true}
	if len(p.Entries) >= n || p.Complete {
		return b, nil
	}
	start := before
	if len(p.Entries) > 0 {
		start = p.Entries[len(p.Entries)-1].ID
	}
	more, err := r.repliesDirect(ctx, video, parent, start, n-len(p.Entries), true)
	if err != nil {
		return built{}, err
	}
	b.entries = append(b.entries, more.entries...)
	b.cacheable = more.cacheable && more.version == p.Version
	return b, nil
}

// readOrBackfill reads a list from Redis (read reports whether it is
// cached), and when it is not, backfills it and reads once more: the load
// is counted as redis or backfill. cached is false when the list is still
// not cached after that.
func readOrBackfill[P any](r *Reader, read func() (P, bool, error), backfill func() error) (p P, cached bool, err error) {
	for attempt := 0; attempt < 2; attempt++ {
		if p, cached, err = read(); err != nil || cached {
			if cached && err == nil {
				r.m.loads.WithLabelValues("redis").Inc()
			}
			return p, cached, err
		}
		if err := backfill(); err != nil {
			var zero P
			return zero, false, err
		}
		r.m.loads.WithLabelValues("backfill").Inc()
	}
	var zero P
	return zero, false, nil
}

// repliesDirect reads replies from Cassandra, with the overlay of the
// parent's replies merged when Redis answers.
func (r *Reader) repliesDirect(ctx context.Context, video, parent, before int64, n int, withRedis bool) (built, error) {
	var (
		token int64
		ov    map[int64]pagecache.OverlayEntry
		err   error
	)
	if withRedis {
		if token, err = r.cache.Version(ctx, video); err == nil {
			ov, err = r.cache.Overlay(ctx, video)
		}
		if err != nil {
			return built{}, err
		}
		ov = pagecache.OverlayFor(ov, parent)
		if before > 0 {
			ov = older(ov, before)
		}
	}
	rows, all, err := r.store.Replies(ctx, parent, before, n+removals(ov))
	if err != nil {
		return built{}, err
	}
	if !withRedis {
		entries := make([]pagecache.Entry, 0, len(rows))
		for _, row := range rows {
			entries = append(entries, pagecache.Entry{ID: row.ID, Body: row.Body})
		}
		return built{entries: entries[:min(len(entries), n)], stale: true, cacheable: true}, nil
	}
	after, err := r.cache.Version(ctx, video)
	if err != nil {
		return built{}, err
	}
	return built{entries: pagecache.Merge(rows, ov, n, all), version: token, cacheable: after == token}, nil
}

// older keeps overlay entries of ids below id.
func older(ov map[int64]pagecache.OverlayEntry, id int64) map[int64]pagecache.OverlayEntry {
	return before(ov, id)
}

// backfillReplies refills a root's reply list (fill.go, lease "r:P").
func (r *Reader) backfillReplies(ctx context.Context, video, parent int64) error {
	kind := "r:" + strconv.FormatInt(parent, 10)
	_, err := r.fillList(ctx, fillSpec{
		video: video, key: kind, lease: kind,
		cached: func(ctx context.Context) (bool, error) {
			p, err := r.cache.ReadReplies(ctx, video, parent, 0, 0)
			return p.Cached, err
		},
		read: func(ctx context.Context) (*window, error) {
			ov, err := r.cache.Overlay(ctx, video)
			if err != nil {
				return nil, err
			}
			ov = pagecache.OverlayFor(ov, parent)
			rows, all, err := r.store.Replies(ctx, parent, 0, r.opts.Window+1+removals(ov))
			if err != nil {
				return nil, err
			}
			w := &window{entries: pagecache.Merge(rows, ov, r.opts.Window+1, all)}
			w.trim(r.opts.Window, all)
			w.total = int64(len(w.entries))
			return w, nil
		},
		write: func(ctx context.Context, w *window) (pagecache.FillResult, error) {
			return r.cache.FillReplies(ctx, video, parent, w.token, w.entries, w.total, w.complete)
		},
	})
	return err
}
