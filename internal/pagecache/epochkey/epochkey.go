// Package epochkey names the Redis keys of the page cache's epoch
// (internal/pagecache, "Redis data loss"): vc:epoch on one Redis, and on a
// Redis Cluster one key per slot range, vc:{eN}:epoch with a tag that
// hashes into that range, since each master can lose its data alone. It is
// a leaf package so that test helpers can mark an epoch without importing
// pagecache.
package epochkey

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Single is the epoch key of a Redis that is not a cluster.
const Single = "vc:epoch"

// Keys returns the epoch keys of rdb.
func Keys(ctx context.Context, rdb redis.UniversalClient) ([]string, error) {
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return []string{Single}, nil
	}
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil {
		return nil, fmt.Errorf("cluster slots: %w", err)
	}
	keys := make([]string, 0, len(slots))
	for _, s := range slots {
		keys = append(keys, forRange(s.Start, s.End))
	}
	return keys, nil
}

var (
	mu    sync.Mutex
	cache = map[[2]int]string{}
)

// forRange returns a key vc:{eN}:epoch whose slot lies in [start, end].
func forRange(start, end int) string {
	mu.Lock()
	defer mu.Unlock()
	if k, ok := cache[[2]int{start, end}]; ok {
		return k
	}
	for n := 0; ; n++ {
		tag := "e" + strconv.Itoa(n)
		if s := int(Slot(tag)); s >= start && s <= end {
			k := "vc:{" + tag + "}:epoch"
			cache[[2]int{start, end}] = k
			return k
		}
	}
}

// Slot is the Redis Cluster slot of a hash tag: CRC-16/XMODEM mod 16384.
func Slot(tag string) uint16 {
	var crc uint16
	for i := 0; i < len(tag); i++ {
		crc ^= uint16(tag[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc % 16384
}
