// Package profiles is what a comment page shows of its authors: a display
// name, an avatar and whether the author is banned. MySQL holds the truth
// (the users and user_bans tables); Redis holds a copy of each profile
// that readsvc fills when it misses and cdc overwrites when a row changes.
//
// The copy can never be older than MySQL for long, whatever order the two
// writers run in: cdc reads the row after the binlog shows the change and
// SETs it (always), readsvc SETs with NX (only where nothing is), so a
// readsvc that read the old row before the change cannot overwrite what
// cdc wrote after it. A lost Redis refills from MySQL.
//
// After each write cdc publishes "u:ID" on pagecache.InvalChannel so the
// readsvc in-process copies drop the user.
package profiles

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/stores/mysqlstore"
)

// Profile is one author as pages show them.
type Profile struct {
	UserID      int64  `json:"-"`
	DisplayName string `json:"n"`
	AvatarURL   string `json:"a,omitempty"`
	// BannedUntil: 0 not banned, -1 banned for good, else the ban's end
	// (Unix microseconds).
	BannedUntil int64 `json:"b,omitempty"`
}

// Banned reports whether the author is banned at now.
func (p Profile) Banned(now time.Time) bool {
	return p.BannedUntil < 0 || p.BannedUntil > now.UnixMicro()
}

// Limits of a profile (writesvc checks them; the users table holds them).
const (
	MaxDisplayName = 64  // runes
	MaxAvatarURL   = 512 // bytes
)

// TTL bounds how long Redis keeps a copy no one changes: a ban that ends
// by its expiry (no row change) shows within it.
const TTL = 10 * time.Minute

// Key is the Redis key of a user's profile copy.
func Key(user int64) string { return pagecache.ProfileKey(user) }

// InvalPrefix starts an InvalChannel message that names a changed user.
const InvalPrefix = "u:"

// ParseInval returns the user a profile message names; ok is false for
// other messages of the channel.
func ParseInval(payload string) (user int64, ok bool) {
	s, found := strings.CutPrefix(payload, InvalPrefix)
	if !found {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

// selectProfiles reads every asked user in one query; users without a
// users row still come back when banned (with an empty name).
const selectProfiles = `
	SELECT ids.id, COALESCE(u.display_name, ''), COALESCE(u.avatar_url, ''),
	       CASE WHEN b.user_id IS NULL THEN 0
	            WHEN b.expires_at IS NULL THEN -1
	            ELSE CAST(UNIX_TIMESTAMP(b.expires_at) * 1000000 AS SIGNED) END
	FROM (%s) ids
	LEFT JOIN users u ON u.id = ids.id
	LEFT JOIN user_bans b ON b.user_id = ids.id AND (b.expires_at IS NULL OR b.expires_at > NOW(6))`

// Load reads the profiles of users from MySQL in one query. Every user
// asked for is in the result: one without a row has an empty profile.
func Load(ctx context.Context, db mysqlstore.Querier, users []int64) (map[int64]Profile, error) {
	if len(users) == 0 {
		return map[int64]Profile{}, nil
	}
	var ids strings.Builder
	args := make([]any, len(users))
	for i, u := range users {
		if i > 0 {
			ids.WriteString(" UNION ALL ")
		}
		ids.WriteString("SELECT CAST(? AS SIGNED) AS id")
		args[i] = u
	}
	rows, err := mysqlstore.QueryAll(ctx, db, func(r *sql.Rows, p *Profile) error {
		return r.Scan(&p.UserID, &p.DisplayName, &p.AvatarURL, &p.BannedUntil)
	}, fmt.Sprintf(selectProfiles, ids.String()), args...)
	if err != nil {
		return nil, fmt.Errorf("load %d profiles: %w", len(users), err)
	}
	out := make(map[int64]Profile, len(rows))
	for _, p := range rows {
		out[p.UserID] = p
	}
	return out, nil
}

// Store reads profiles from MySQL (readsvc's pages.ProfileStore).
type Store struct{ DB mysqlstore.Querier }

// Load is Load on the store's database.
func (s Store) Load(ctx context.Context, users []int64) (map[int64]Profile, error) {
	return Load(ctx, s.DB, users)
}

// Cache is the Redis copy.
type Cache struct{ rdb redis.UniversalClient }

// NewCache returns the copy in rdb.
func NewCache(rdb redis.UniversalClient) *Cache { return &Cache{rdb: rdb} }

// Get returns the copies Redis holds of users, in one round trip: one
// MGET on a single Redis, a pipeline of GETs on a Redis Cluster, which
// refuses an MGET across slots (go-redis splits a pipeline by node). The
// MGET is one command and one reply where the pipeline is a command per
// user: on Zipf reads this lookup cost readsvc more than the page read.
func (c *Cache) Get(ctx context.Context, users []int64) (map[int64]Profile, error) {
	if len(users) == 0 {
		return map[int64]Profile{}, nil
	}
	out := make(map[int64]Profile, len(users))
	keep := func(i int, b []byte) {
		var p Profile
		if json.Unmarshal(b, &p) != nil {
			return // unreadable: read it again from MySQL
		}
		p.UserID = users[i]
		out[p.UserID] = p
	}
	if _, cluster := c.rdb.(*redis.ClusterClient); !cluster {
		keys := make([]string, len(users))
		for i, u := range users {
			keys[i] = Key(u)
		}
		vals, err := c.rdb.MGet(ctx, keys...).Result()
		if err != nil {
			return nil, fmt.Errorf("read %d profiles from redis: %w", len(users), err)
		}
		for i, v := range vals {
			if s, ok := v.(string); ok { // nil: not cached
				keep(i, []byte(s))
			}
		}
		return out, nil
	}
	cmds := make([]*redis.StringCmd, len(users))
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, u := range users {
			cmds[i] = p.Get(ctx, Key(u))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read %d profiles from redis: %w", len(users), err)
	}
	for i, cmd := range cmds {
		if b, err := cmd.Bytes(); err == nil { // redis.Nil: not cached
			keep(i, b)
		}
	}
	return out, nil
}

// Fill stores what readsvc read from MySQL where Redis holds nothing (SET
// NX), in one round trip.
func (c *Cache) Fill(ctx context.Context, ps map[int64]Profile) error {
	if len(ps) == 0 {
		return nil
	}
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, pr := range ps {
			b, _ := json.Marshal(pr)
			p.SetNX(ctx, Key(pr.UserID), b, TTL)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("fill %d profiles in redis: %w", len(ps), err)
	}
	return nil
}

// Refresher is cdc's side: after a users or user_bans row changed, it reads
// the users' profiles from MySQL, overwrites their Redis copies and tells
// every readsvc.
type Refresher struct {
	DB    mysqlstore.Querier
	Redis redis.UniversalClient
}

// Refresh re-reads users from MySQL and overwrites their copies.
func (r *Refresher) Refresh(ctx context.Context, users []int64) error {
	ps, err := Load(ctx, r.DB, users)
	if err != nil {
		return err
	}
	_, err = r.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, u := range users {
			pr := ps[u]
			pr.UserID = u
			b, _ := json.Marshal(pr)
			p.Set(ctx, Key(u), b, TTL)
			p.Publish(ctx, pagecache.InvalChannel, InvalPrefix+strconv.FormatInt(u, 10))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("refresh %d profiles in redis: %w", len(users), err)
	}
	return nil
}
