package main

import (
	"context"
	"database/sql"

	"github.com/redis/go-redis/v9"

	"github.com/vidcomments/vidcomments/cdc/binlog"
	"github.com/vidcomments/vidcomments/internal/cdn"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/profiles"
)

// purgingCache purges the shared caches' copies of what each change
// touches once Redis holds the change (internal/cdn: never before, or a
// Varnish could refetch the old page and keep it). It is the whole
// *pagecache.Cache, so the binlog listener's Redis-loss recovery
// (binlog.EpochCache) runs through it too and its invalidations purge.
type purgingCache struct {
	*pagecache.Cache
	cdn *cdn.Purger
}

var _ binlog.EpochCache = purgingCache{}

func (c purgingCache) Record(ctx context.Context, ch pagecache.Change) (bool, int64, error) {
	applied, version, err := c.Cache.Record(ctx, ch)
	if err == nil {
		// Also when not applied: Redis may not hold the video's window,
		// while a shared cache still holds its pages.
		c.cdn.Purge(cdn.ChangeTags(ch)...)
	}
	return applied, version, err
}

func (c purgingCache) Invalidate(ctx context.Context, video int64) (int64, error) {
	version, err := c.Cache.Invalidate(ctx, video)
	if err == nil {
		c.cdn.Purge(cdn.VideoTag(video))
	}
	return version, err
}

func (c purgingCache) SetPin(ctx context.Context, video, commentID, version int64) (bool, error) {
	applied, err := c.Cache.SetPin(ctx, video, commentID, version)
	if err == nil {
		c.cdn.Purge(cdn.VideoTag(video))
	}
	return applied, err
}

// profileRefresher keeps the Redis copies of profiles current and, with a
// CDN configured, purges the pages that show a changed author (tag uID)
// once Redis holds the new profile.
func profileRefresher(db *sql.DB, rdb redis.UniversalClient, changes binlog.Cache) binlog.ProfileRefresher {
	r := &profiles.Refresher{DB: db, Redis: rdb}
	if pc, ok := changes.(purgingCache); ok {
		return purgingProfiles{r: r, cdn: pc.cdn}
	}
	return r
}

type purgingProfiles struct {
	r   *profiles.Refresher
	cdn *cdn.Purger
}

func (p purgingProfiles) Refresh(ctx context.Context, users []int64) error {
	if err := p.r.Refresh(ctx, users); err != nil {
		return err
	}
	tags := make([]string, len(users))
	for i, u := range users {
		tags[i] = cdn.UserTag(u)
	}
	p.cdn.Purge(tags...)
	return nil
}
