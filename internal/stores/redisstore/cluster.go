package redisstore

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// ClusterMasters returns how many masters the cluster client knows, once
// every one of them says cluster_state:ok in CLUSTER INFO.
func ClusterMasters(ctx context.Context, c *redis.ClusterClient) (int, error) {
	var n atomic.Int32 // ForEachMaster calls back concurrently
	err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		info, err := m.ClusterInfo(ctx).Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return fmt.Errorf("%s: cluster_state is not ok", m.Options().Addr)
		}
		n.Add(1)
		return nil
	})
	return int(n.Load()), err
}
