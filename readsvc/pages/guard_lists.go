package pages

import (
	"context"
	"fmt"
	"time"

	"github.com/vidcomments/vidcomments/internal/pagecache"
)

// The breaker and the concurrency cap around the hot window, reply lists,
// pins and own pending comments: the same guard as the time window gets.

func (g *guardedCache) ReadHot(ctx context.Context, video, epoch int64, pos pagecache.HotPos, limit int) (pagecache.HotPage, error) {
	return guarded(g, func() (pagecache.HotPage, error) { return g.c.ReadHot(ctx, video, epoch, pos, limit) })
}

func (g *guardedCache) FillHot(ctx context.Context, video int64, tok pagecache.FillToken, entries []pagecache.Entry, total int64, complete bool) (pagecache.FillResult, error) {
	return guarded(g, func() (pagecache.FillResult, error) { return g.c.FillHot(ctx, video, tok, entries, total, complete) })
}

func (g *guardedCache) ReadReplies(ctx context.Context, video, parent, before int64, limit int) (pagecache.Page, error) {
	return guarded(g, func() (pagecache.Page, error) { return g.c.ReadReplies(ctx, video, parent, before, limit) })
}

func (g *guardedCache) FillReplies(ctx context.Context, video, parent int64, tok pagecache.FillToken, entries []pagecache.Entry, total int64, complete bool) (pagecache.FillResult, error) {
	return guarded(g, func() (pagecache.FillResult, error) {
		return g.c.FillReplies(ctx, video, parent, tok, entries, total, complete)
	})
}

func (g *guardedCache) TryLeaseOf(ctx context.Context, video int64, kind string, ttl time.Duration) (string, bool, error) {
	if err := g.check(); err != nil {
		return "", false, err
	}
	tok, ok, err := g.c.TryLeaseOf(ctx, video, kind, ttl)
	return tok, ok, g.done(err)
}

func (g *guardedCache) ReleaseLeaseOf(ctx context.Context, video int64, kind, token string) error {
	if err := g.check(); err != nil {
		return err
	}
	return g.done(g.c.ReleaseLeaseOf(ctx, video, kind, token))
}

func (g *guardedCache) Pin(ctx context.Context, video int64) (pagecache.Pin, error) {
	return guarded(g, func() (pagecache.Pin, error) { return g.c.Pin(ctx, video) })
}

func (g *guardedCache) FillPin(ctx context.Context, video, id, version int64) error {
	if err := g.check(); err != nil {
		return err
	}
	return g.done(g.c.FillPin(ctx, video, id, version))
}

func (g *guardedCache) Pending(ctx context.Context, video, user int64) ([]pagecache.Entry, error) {
	return guarded(g, func() ([]pagecache.Entry, error) { return g.c.Pending(ctx, video, user) })
}

func (g *guardedStore) HotPage(ctx context.Context, video int64, pos pagecache.HotPos, n int) ([]pagecache.Entry, bool, error) {
	return listQuery(g, "hot", func() ([]pagecache.Entry, bool, error) { return g.s.HotPage(ctx, video, pos, n) })
}

func (g *guardedStore) Replies(ctx context.Context, parent, before int64, n int) ([]pagecache.Stored, bool, error) {
	return listQuery(g, "replies", func() ([]pagecache.Stored, bool, error) { return g.s.Replies(ctx, parent, before, n) })
}

func (g *guardedStore) Pin(ctx context.Context, video int64) (int64, int64, error) {
	if err := g.enter(); err != nil {
		return 0, 0, err
	}
	start := time.Now()
	id, ver, err := g.s.Pin(ctx, video)
	g.leave("pin", start, err)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return id, ver, nil
}
