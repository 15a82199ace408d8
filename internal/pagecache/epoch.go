package pagecache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/redis/go-redis/v9"
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
	cc, ok := c.rdb.(*redis.ClusterClient)
	if !ok {
		return []string{"vc:epoch"}, nil
	}
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil {
		return nil, fmt.Errorf("pagecache epoch: cluster slots: %w", err)
	}
	var keys []string
	for _, s := range slots {
		keys = append(keys, epochKeyFor(s.Start, s.End))
	}
	return keys, nil
}

var (
	epochKeyMu    sync.Mutex
	epochKeyCache = map[[2]int]string{}
)

// epochKeyFor returns a key vc:{eN}:epoch whose slot lies in [start, end].
func epochKeyFor(start, end int) string {
	epochKeyMu.Lock()
	defer epochKeyMu.Unlock()
	if k, ok := epochKeyCache[[2]int{start, end}]; ok {
		return k
	}
	for n := 0; ; n++ {
		tag := "e" + strconv.Itoa(n)
		if s := int(crc16([]byte(tag)) % 16384); s >= start && s <= end {
			k := "vc:{" + tag + "}:epoch"
			epochKeyCache[[2]int{start, end}] = k
			return k
		}
	}
}

// crc16 is CRC-16/XMODEM, the hash of Redis Cluster's key slots.
func crc16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// SetPending puts one pending comment's body into its author's private
// view, as Record does for a pending row: cdc's rebuild of the views after
// Redis lost its data.
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
