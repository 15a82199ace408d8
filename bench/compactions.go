package main

import (
	"context"
	"fmt"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// settleCompactions waits, up to limit, until Cassandra runs no compaction
// of keyspace (system_views.sstable_tasks, Cassandra 4+): a bulk load of
// millions of rows leaves flushed SSTables that Cassandra merges for
// minutes after, and a cold read meanwhile touches many of them and
// competes with the merge for the CPU. The read figures are of a settled
// node, as in service. It returns how long it waited and whether the node
// settled.
func settleCompactions(ctx context.Context, s *gocql.Session, keyspace string, limit time.Duration) (time.Duration, bool, error) {
	began := time.Now()
	quiet := 0
	for time.Since(began) < limit {
		var n int
		var ks string
		it := s.Query(`SELECT keyspace_name FROM system_views.sstable_tasks`).IterContext(ctx)
		for it.Scan(&ks) {
			if ks == keyspace {
				n++
			}
		}
		if err := it.Close(); err != nil {
			return time.Since(began), false, fmt.Errorf("system_views.sstable_tasks: %w", err)
		}
		if n == 0 {
			if quiet++; quiet == 3 { // a merge may start right after another ends
				return time.Since(began), true, nil
			}
		} else {
			quiet = 0
		}
		select {
		case <-ctx.Done():
			return time.Since(began), false, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return time.Since(began), false, nil
}
