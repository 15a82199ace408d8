package pagecache

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/vidcomments/vidcomments/internal/pagecache/epochkey"
)

// Epoch states.
const (
	EpochOK         = "ok"
	EpochRecovering = "r"
)

// ErrEpochLost says Redis lacks the epoch key (on some master).
var ErrEpochLost = errors.New("pagecache: epoch key missing: Redis lost its data")

// Epoch reads the epoch: "ok", "r" or "" when the key is missing. On a
// Redis Cluster it is "" when any master lacks its key, "r" when any holds
// "r".
func (c *Cache) Epoch(ctx context.Context) (string, error) {
	keys, err := c.epochKeys(ctx)
	if err != nil {
		return "", err
	}
	state := EpochOK
	for _, k := range keys {
		v, err := c.rdb.Get(ctx, k).Result()
		switch {
		case errors.Is(err, redis.Nil):
			return "", nil
		case err != nil:
			return "", fmt.Errorf("pagecache epoch: %w", err)
		case v != EpochOK:
			state = EpochRecovering
		}
	}
	return state, nil
}

// SetEpoch writes state ("ok" or "r") to every epoch key.
func (c *Cache) SetEpoch(ctx context.Context, state string) error {
	keys, err := c.epochKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := c.rdb.Set(ctx, k, state, 0).Err(); err != nil {
			return fmt.Errorf("pagecache set epoch: %w", err)
		}
	}
	return nil
}

// epochKeys is vc:epoch, or on a Redis Cluster one key per master.
func (c *Cache) epochKeys(ctx context.Context) ([]string, error) {
	keys, err := epochkey.Keys(ctx, c.rdb)
	if err != nil {
		return nil, fmt.Errorf("pagecache epoch: %w", err)
	}
	return keys, nil
}

// SetPending puts one pending comment's body into its author's private
// view, as Record does for a pending row: cdc's rebuild of the views after
// Redis lost its data, and the inspector's repair of a view.
func (c *Cache) SetPending(ctx context.Context, video, user, id int64, body []byte) error {
	k := userKey(video, user)
	_, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, k, strconv.FormatInt(id, 10), body)
		p.Expire(ctx, k, c.opts.OverlayTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("pagecache set pending video %d comment %d: %w", video, id, err)
	}
	return nil
}

// DropPending removes comment id from user's private view of video, as
// Record does when the row stops being pending: the inspector's repair of
// an entry MySQL no longer has.
func (c *Cache) DropPending(ctx context.Context, video, user, id int64) error {
	if err := c.rdb.HDel(ctx, userKey(video, user), strconv.FormatInt(id, 10)).Err(); err != nil {
		return fmt.Errorf("pagecache drop pending video %d comment %d: %w", video, id, err)
	}
	return nil
}
