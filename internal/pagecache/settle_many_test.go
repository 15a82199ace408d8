package pagecache_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/vidcomments/vidcomments/internal/config"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/stacktest"
	"github.com/vidcomments/vidcomments/internal/stores/redisstore"
)

// SettleMany must do what one Settle per request does, in one round trip,
// including after Redis lost its script cache.
func TestSettleManyMatchesSettle(t *testing.T) {
	for _, flushed := range []bool{false, true} {
		name := "scripts cached"
		if flushed {
			name = "script cache flushed"
		}
		t.Run(name, func(t *testing.T) {
			rdb := stacktest.Redis(t)
			if flushed {
				// Redis answers NOSCRIPT to the first pipeline, as after a
				// restart; the shared server's script cache is left alone.
				rdb.AddHook(&unknownScripts{pipelines: 1})
			}
			c, ctx := pagecache.New(rdb, pagecache.Options{Window: 10}), context.Background()
			v, w := video(), video()
			mustFill(t, c, ctx, v, entries(2, 1), 2, true)
			mustFill(t, c, ctx, w, entries(5), 1, true)
			if _, _, err := c.Record(ctx, pagecache.Change{VideoID: v, ID: 3, Version: 3, Visible: true, Body: body(3)}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.Record(ctx, pagecache.Change{VideoID: v, ID: 2, Version: 9, Visible: false, WasVisible: true}); err != nil {
				t.Fatal(err)
			}
			got := c.SettleMany(ctx, []pagecache.SettleRequest{
				{VideoID: v, ID: 3, Version: 3}, // cdc recorded exactly this version
				{VideoID: v, ID: 2, Version: 8}, // a newer change is still pending
				{VideoID: w, ID: 6, Version: 4}, // the cache never saw it
				{VideoID: w, ID: 6, Version: 4}, // ... and the replay of that
			})
			want := []pagecache.Settled{pagecache.SettleCleared, pagecache.SettleNothing, pagecache.SettleInvalidated, pagecache.SettleNothing}
			var outcomes []pagecache.Settled
			for _, r := range got {
				if r.Err != nil {
					t.Fatalf("settle: %v", r.Err)
				}
				outcomes = append(outcomes, r.Settled)
			}
			if !reflect.DeepEqual(outcomes, want) {
				t.Errorf("outcomes %v, want %v", outcomes, want)
			}
			if ov, _ := c.Overlay(ctx, v); len(ov) != 1 || ov[2].Version != 9 {
				t.Errorf("overlay %v, want only the pending change of comment 2", ov)
			}
			if p := read(t, c, ctx, w, 0, 10); p.Cached {
				t.Errorf("pages of a change the cache never saw still cached: %+v", p)
			}
		})
	}
}

func TestSettleManyReportsEachFailure(t *testing.T) {
	rdb := redisstore.New(config.Redis{Addrs: []string{"127.0.0.1:1"}}) // nothing listens on port 1
	defer rdb.Close()
	c := pagecache.New(rdb, pagecache.Options{})
	got := c.SettleMany(context.Background(), []pagecache.SettleRequest{{VideoID: 1, ID: 2, Version: 3}, {VideoID: 1, ID: 3, Version: 3}})
	if len(got) != 2 || got[0].Err == nil || got[1].Err == nil {
		t.Errorf("results %+v: want two errors", got)
	}
}

// unknownScripts makes the first pipelines' EVALSHA name a script Redis
// does not have.
type unknownScripts struct{ pipelines int }

func (h *unknownScripts) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *unknownScripts) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *unknownScripts) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.pipelines > 0 {
			h.pipelines--
			for _, c := range cmds {
				if args := c.Args(); len(args) > 1 && args[0] == "evalsha" {
					args[1] = "0000000000000000000000000000000000000000"
				}
			}
		}
		return next(ctx, cmds)
	}
}
