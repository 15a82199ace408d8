package pagecache_test

import (
	"context"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/stacktest"
)

// clusterVideos returns one fresh video id per master of the cluster, so
// every operation below runs on every master; a key of another slot in a
// script, a MULTI or a pipeline would fail with CROSSSLOT.
func clusterVideos(t *testing.T, rdb redis.UniversalClient) []int64 {
	t.Helper()
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("want a cluster client, got %T", rdb)
	}
	ctx := context.Background()
	byMaster := map[string]int64{}
	var n atomic.Int32 // ForEachMaster calls back concurrently
	if err := cc.ForEachMaster(ctx, func(context.Context, *redis.Client) error { n.Add(1); return nil }); err != nil {
		t.Fatal(err)
	}
	masters := int(n.Load())
	for i := 0; len(byMaster) < masters; i++ {
		if i > 1000 {
			t.Fatalf("found videos on %d of %d masters", len(byMaster), masters)
		}
		v := video()
		m, err := cc.MasterForKey(ctx, "vc:{"+strconv.FormatInt(v, 10)+"}:meta")
		if err != nil {
			t.Fatal(err)
		}
		if _, seen := byMaster[m.Options().Addr]; !seen {
			byMaster[m.Options().Addr] = v
		}
	}
	out := make([]int64, 0, len(byMaster))
	for _, v := range byMaster {
		out = append(out, v)
	}
	return out
}

// Every script, pipeline and MULTI of the page cache on a real Redis
// Cluster, on a video of each master.
func TestEveryOperationRunsOnARedisCluster(t *testing.T) {
	_, rdb := stacktest.RedisCluster(t)
	c := pagecache.New(rdb, pagecache.Options{Window: 10})
	ctx := context.Background()
	videos := clusterVideos(t, rdb)
	base := time.Now().UnixMicro()

	// The subscription first: every bump below must reach it, whichever
	// master ran the script (PUBLISH propagates over the cluster bus).
	ps := rdb.Subscribe(ctx, pagecache.InvalChannel)
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatalf("subscribe on the cluster: %v", err)
	}
	msgs := ps.Channel()

	tests := []struct {
		name string
		run  func(t *testing.T, v int64)
	}{
		{"fill and read (fillScript, readScript)", func(t *testing.T, v int64) {
			tok, err := c.BeginFill(ctx, v)
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.FillSince(ctx, v, tok, entries(v+3, v+2, v+1), 3, true)
			if err != nil || !res.Written {
				t.Fatalf("fill: %+v %v", res, err)
			}
			if p := read(t, c, ctx, v, 0, 10); !p.Cached || !slices.Equal(p.IDs(), []int64{v + 3, v + 2, v + 1}) {
				t.Fatalf("read after fill: cached=%v ids=%v", p.Cached, p.IDs())
			}
		}},
		{"record (recordScript) publishes inval", func(t *testing.T, v int64) {
			ok, ver, err := c.Record(ctx, pagecache.Change{VideoID: v, ID: v + 4, Version: base + 1, Visible: true, Body: body(v + 4)})
			if err != nil || !ok {
				t.Fatalf("record: %v %v", ok, err)
			}
			waitInval(t, msgs, v, ver)
			if p := read(t, c, ctx, v, 0, 10); !slices.Equal(p.IDs(), []int64{v + 4, v + 3, v + 2, v + 1}) {
				t.Fatalf("read after record: %v", p.IDs())
			}
		}},
		{"overlay (MULTI of HGETALL and ZRANGE)", func(t *testing.T, v int64) {
			ov, err := c.Overlay(ctx, v)
			if err != nil {
				t.Fatal(err)
			}
			if e, ok := ov[v+4]; !ok || e.Version != base+1 || !e.Visible {
				t.Fatalf("overlay: %+v", ov)
			}
		}},
		{"settle (settleScript)", func(t *testing.T, v int64) {
			got, err := c.Settle(ctx, v, v+4, base+1)
			if err != nil || got != pagecache.SettleCleared {
				t.Fatalf("settle: %v %v", got, err)
			}
		}},
		{"version and lease (SET NX, releaseScript)", func(t *testing.T, v int64) {
			if ver, err := c.Version(ctx, v); err != nil || ver == 0 {
				t.Fatalf("version: %d %v", ver, err)
			}
			tok, ok, err := c.TryLease(ctx, v, time.Minute)
			if err != nil || !ok {
				t.Fatalf("lease: %v %v", ok, err)
			}
			if _, again, err := c.TryLease(ctx, v, time.Minute); err != nil || again {
				t.Fatalf("a second lease while held: %v %v", again, err)
			}
			if err := c.ReleaseLease(ctx, v, tok); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, v := range videos {
				tt.run(t, v)
			}
		})
	}

	t.Run("settle many: one pipeline over every master", func(t *testing.T) {
		var reqs []pagecache.SettleRequest
		for _, v := range videos {
			if ok, _, err := c.Record(ctx, pagecache.Change{VideoID: v, ID: v + 5, Version: base + 2, Visible: true, Body: body(v + 5)}); err != nil || !ok {
				t.Fatalf("record: %v %v", ok, err)
			}
			reqs = append(reqs, pagecache.SettleRequest{VideoID: v, ID: v + 5, Version: base + 2})
		}
		for i, r := range c.SettleMany(ctx, reqs) {
			if r.Err != nil || r.Settled != pagecache.SettleCleared {
				t.Errorf("request %d: %v %v", i, r.Settled, r.Err)
			}
		}
	})
	t.Run("scan videos on every master (ForEachMaster)", func(t *testing.T) {
		found := map[int64]bool{}
		if err := c.ScanVideos(ctx, func(v int64) error { found[v] = true; return nil }); err != nil {
			t.Fatal(err)
		}
		for _, v := range videos {
			if !found[v] {
				t.Errorf("video %d not found by ScanVideos", v)
			}
		}
	})
	t.Run("invalidate (invalidateScript)", func(t *testing.T) {
		for _, v := range videos {
			ver, err := c.Invalidate(ctx, v)
			if err != nil {
				t.Fatal(err)
			}
			waitInval(t, msgs, v, ver)
			if p := read(t, c, ctx, v, 0, 10); p.Cached {
				t.Errorf("video %d still cached after Invalidate", v)
			}
		}
	})
}

// waitInval waits for the message "video version" on the inval channel.
func waitInval(t *testing.T, msgs <-chan *redis.Message, video, version int64) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-msgs:
			v, ver, err := pagecache.ParseInval(m.Payload)
			if err == nil && v == video && ver == version {
				return
			}
		case <-deadline:
			t.Fatalf("no inval message for video %d version %d within 10s", video, version)
		}
	}
}
