package pagecache

import (
	"context"
	"fmt"
	"sort"
	"strconv"
)

// ReadReplies returns up to limit replies of root parent older than before
// (0: from the newest), newest first, from the parent's cached reply list
// vc:{V}:r:{P}: the same protocol as Read. A list filled before the last
// Invalidate of the video reads as not cached.
func (c *Cache) ReadReplies(ctx context.Context, video, parent, before int64, limit int) (Page, error) {
	keys := []string{replyMetaKey(video, parent), replyKey(video, parent), replyBodyKey(video, parent), verKey(video), replyGenKey(video)}
	p, err := c.readList(ctx, keys, before, limit, true)
	if err != nil {
		return Page{}, fmt.Errorf("pagecache read replies video %d parent %d: %w", video, parent, err)
	}
	return p, nil
}

// FillReplies replaces root parent's cached reply list (newest first) with
// the rules of FillSince; only overlay entries of replies to parent are
// merged in.
func (c *Cache) FillReplies(ctx context.Context, video, parent int64, tok FillToken, entries []Entry, total int64, complete bool) (FillResult, error) {
	keys := []string{replyMetaKey(video, parent), replyKey(video, parent), replyBodyKey(video, parent), verKey(video), overlayKey(video), fenceKey(video), replyGenKey(video), likesKey(video)}
	res, err := c.fillList(ctx, keys, parent, tok, entries, total, complete)
	if err != nil {
		return FillResult{}, fmt.Errorf("pagecache fill replies video %d parent %d: %w", video, parent, err)
	}
	return res, nil
}

// OverlayFor keeps the overlay entries that concern one list: every
// removal (harmless where the id is absent) and the visible entries whose
// parent is parent (0: the video's roots).
func OverlayFor(ov map[int64]OverlayEntry, parent int64) map[int64]OverlayEntry {
	out := make(map[int64]OverlayEntry, len(ov))
	for id, e := range ov {
		if !e.Visible || e.Parent == parent {
			out[id] = e
		}
	}
	return out
}

// Pending returns user's own pending comments of video, newest first, from
// vc:{V}:u:{U}. Only the author's view reads it; it never enters a shared
// page.
func (c *Cache) Pending(ctx context.Context, video, user int64) ([]Entry, error) {
	m, err := c.rdb.HGetAll(ctx, userKey(video, user)).Result()
	if err != nil {
		return nil, fmt.Errorf("pagecache pending video %d user %d: %w", video, user, err)
	}
	out := make([]Entry, 0, len(m))
	for k, v := range m {
		id, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			continue
		}
		out = append(out, Entry{ID: id, Body: []byte(v)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, nil
}
