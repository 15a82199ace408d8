package pagecache

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// SettleRequest names one comment whose version Cassandra now durably holds.
type SettleRequest struct {
	VideoID int64
	ID      int64
	Version int64
}

// SettleResult is the outcome of one SettleRequest: Err is nil when Settled
// is valid.
type SettleResult struct {
	Settled Settled
	Err     error
}

// SettleMany is Settle for many comments at once: the same script, sent in
// one pipeline (on a Redis Cluster, one per node) instead of one round trip
// each. The syncer settles a whole batch this way. Results are in request
// order; a failed request does not fail the others.
func (c *Cache) SettleMany(ctx context.Context, reqs []SettleRequest) []SettleResult {
	out := make([]SettleResult, len(reqs))
	all := make([]int, len(reqs))
	for i := range all {
		all[i] = i
	}
	c.settlePipelined(ctx, reqs, all, out)
	// The script cache was flushed (a restart, SCRIPT FLUSH): load the
	// script and send the requests that met NOSCRIPT again.
	var again []int
	for i, r := range out {
		if r.Err != nil && redis.HasErrorPrefix(r.Err, "NOSCRIPT") {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		if err := settleScript.Load(ctx, c.rdb).Err(); err != nil {
			for _, i := range again {
				out[i].Err = err
			}
		} else {
			c.settlePipelined(ctx, reqs, again, out)
		}
	}
	for i, r := range out {
		if r.Err != nil {
			out[i].Err = fmt.Errorf("pagecache settle video %d comment %d: %w", reqs[i].VideoID, reqs[i].ID, r.Err)
		}
	}
	return out
}

// settlePipelined runs settleScript by its hash for reqs[idx...] in one
// pipeline and stores the raw outcomes in out. The keys and arguments are
// exactly those of Settle.
func (c *Cache) settlePipelined(ctx context.Context, reqs []SettleRequest, idx []int, out []SettleResult) {
	now := c.opts.Now()
	cmds := make([]*redis.Cmd, len(idx))
	_, _ = c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for j, i := range idx {
			r := reqs[i]
			cmds[j] = settleScript.EvalSha(ctx, p, settleKeys(r.VideoID, r.ID), c.settleArgs(r.ID, r.Version, r.VideoID, now)...)
		}
		return nil
	}) // the per-command errors below say which failed
	for j, i := range idx {
		n, err := cmds[j].Int()
		out[i] = SettleResult{Settled: Settled(n), Err: err}
	}
}
