package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"time"

	"github.com/vidcomments/vidcomments/bench/report"
	"github.com/vidcomments/vidcomments/internal/apiclient"
	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/syncer/readmodel"
)

// hotSizes are the sort=hot scenario's sizes per profile: the comments of
// its one video and the cold (backfill) samples.
var hotSizes = map[string]struct{ Comments, ColdSamples int }{
	"quick":   {50_000, 100},
	"default": {1_000_000, 300},
	"large":   {1_000_000, 1000},
}

// The like distribution: the comment of like rank r has
// floor(hotTopLikes / r^hotLikeSkew) likes (Zipf), ranks shuffled over
// the comments, so a few comments hold most likes and most have none.
const (
	hotTopLikes = 100_000
	hotLikeSkew = 1.2
)

// runHot is `bench hot`: one video with the profile's comments (1M in the
// default profile), likes Zipf-distributed, then sort=hot page read
// throughput (warm) and the backfill latency of its hot window (cold).
func runHot(ctx context.Context, logger *slog.Logger, p profile, outDir, command string) (err error) {
	sz, ok := hotSizes[p.Name]
	if !ok {
		return fmt.Errorf("no hot sizes for profile %q", p.Name)
	}
	rep := newReport(fmt.Sprintf("vidcomments sort=hot benchmark (%s profile)", p.Name), command)
	c, err := newCluster(ctx, logger, filepath.Join(outDir, "logs"))
	if err != nil {
		return err
	}
	video := 1e12 + rand.Int64N(8e12)
	defer c.teardown(video, 1)

	seedBegan := time.Now()
	liked, maxLikes, err := seedHotVideo(ctx, c, video, sz.Comments, logger)
	if err != nil {
		return err
	}
	seedTook := time.Since(seedBegan)
	rep.Extra = append(rep.Extra,
		report.NamedFigure{Name: "hot video comments", Value: float64(sz.Comments), Unit: "comments"},
		report.NamedFigure{Name: "comments with likes", Value: float64(liked), Unit: "comments"},
		report.NamedFigure{Name: "most likes on one comment", Value: float64(maxLikes), Unit: "likes"},
		report.NamedFigure{Name: "seed rate (Cassandra: comments + hot index)", Value: float64(sz.Comments) / seedTook.Seconds(), Unit: "comments/s"},
	)

	peer, err := freeAddr()
	if err != nil {
		return err
	}
	// A longer page-build bound than the default 2 s: on a shared 2-core
	// machine a 1,000-row backfill can take longer under load, and the cold
	// figure should be its latency, not a timeout.
	rs, err := c.start(ctx, "readsvc", "readsvc", "post", true, "-peer-addr", peer, "-load-timeout", "10s")
	if err != nil {
		return err
	}
	client := loadClient(p.Workers)
	defer client.CloseIdleConnections()
	base := "http://" + rs.Addr

	t := target{Mode: "readsvc", Base: base, Metrics: "http://" + rs.Admin + "/metrics"}
	// rampMix ramps the mix of the first pages walk finds (80% page one,
	// the rest spread over the others) and returns its best sustained rate.
	rampMix := func(name string, walk func(context.Context, *http.Client, string, int64, int) ([]string, error)) (float64, error) {
		var paths []string
		if err := retry(ctx, logger, func() (err error) { paths, err = walk(ctx, client, base, video, 3); return err }); err != nil {
			return 0, err
		}
		sc := scenario{Name: name, Path: func(seq int64) string {
			if unit(seq, 0x407) < 0.8 || len(paths) < 2 {
				return paths[0]
			}
			return paths[1+int(mix(uint64(seq))%uint64(len(paths)-1))]
		}}
		ms, trs, err := rampGroup(ctx, logger, p, client, sc, []target{t}, []float64{p.Start}, nil)
		if err != nil {
			return 0, err
		}
		rep.Modes = append(rep.Modes, ms...)
		if trs[0] != nil {
			rep.Tiers = append(rep.Tiers, *trs[0])
		}
		return ms[0].BestRPS, nil
	}
	// The first pages by cursor: page one is the hot window's top, later
	// ones run past the window into the hot index (keyset).
	best, err := rampMix("hot-sort", walkHot)
	if err != nil {
		return err
	}
	// The same mix on sort=time, same video, same process, right after:
	// the baseline that tells the hot path from the machine's noise.
	bestTime, err := rampMix("time-sort", walk)
	if err != nil {
		return err
	}

	// Cold: before each request the video is invalidated (hot window
	// dropped, version bumped, so groupcache misses too): every request
	// backfills the hot window from Cassandra's hot index.
	cache := pagecache.New(c.Redis, pagecache.Options{})
	m0, err := scrape(ctx, client, t.Metrics)
	if err != nil {
		return err
	}
	samples := make([]time.Duration, 0, sz.ColdSamples)
	coldErrors := 0
	for i := 0; i < sz.ColdSamples && ctx.Err() == nil; i++ {
		if _, err := cache.Invalidate(ctx, video); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond) // let readsvc hear the bump on the inval channel
		url := fmt.Sprintf("%s/v1/videos/%d/comments?sort=hot&limit=%d", base, video, 10+i%40)
		start := time.Now()
		code, body := get(ctx, client, url)
		took := time.Since(start)
		if code != http.StatusOK {
			coldErrors++
			logger.Warn("cold hot page failed", "code", code, "body", string(body))
			if coldErrors > sz.ColdSamples/10 {
				return fmt.Errorf("cold hot page: %d failures, last %d %s", coldErrors, code, body)
			}
		}
		samples = append(samples, took) // a failure counts with its latency
	}
	m1, err := scrape(ctx, client, t.Metrics)
	if err != nil {
		return err
	}
	fills := m1.minus(m0)
	lat := report.NewLatency("sort=hot page one, cold (hot window backfill)", samples)
	rep.Latencies = append(rep.Latencies, lat)
	rep.Ratios = append(rep.Ratios,
		report.Ratio{Name: "sort=hot page read throughput (warm)", Value: best, Goal: 10000, Higher: true, Unit: " req/s",
			Detail: fmt.Sprintf("best sustained rate with p99 < %v; 80%% page one, 20%% pages two and three by cursor", p.P99Target)},
		report.Ratio{Name: "sort=hot / sort=time page throughput", Value: ratio(best, bestTime), Goal: 0.9, Higher: true, Unit: "×",
			Detail: fmt.Sprintf("the same page mix and video: sort=hot %.0f/s, sort=time %.0f/s", best, bestTime)},
		report.Ratio{Name: "sort=hot backfill p99 (cold)", Value: lat.P99, Goal: 100, Unit: " ms",
			Detail: fmt.Sprintf("%d requests, each after an Invalidate; p50 %.1f ms, max %.1f ms; %d failed; %s", lat.N, lat.P50, lat.Max, coldErrors, fills.fillSummary())},
	)
	rep.Notes = append(rep.Notes,
		fmt.Sprintf("Seed: one video with %d approved root comments (one a second, so ~3,600 per hour bucket) written as `created` events through the syncer's read-model writer (syncer/readmodel.Writer.Apply); likes Zipf-distributed (like rank r gets ⌊%d / r^%.1f⌋, ranks shuffled: %d comments with likes, the top one %d) written through the syncer's like writer (readmodel.Writer.ApplyLikes: comment_likes and the hot index bands), one like event per liked comment carrying its whole count.", sz.Comments, hotTopLikes, hotLikeSkew, liked, maxLikes),
		fmt.Sprintf("Warm: open-loop ramp from %.0f/s ×%.1f per %v step; groupcache + Redis hot window (readsvc default HotWindow %d) + keyset pages from Cassandra past it.", p.Start, p.Factor, p.Step, pagecache.DefaultHotWindow),
		"readsvc runs with -load-timeout 10s (default 2s) so that a slow backfill on the shared machine is measured, not cut off.",
		"Cold: sequential requests; before each the video is invalidated (pagecache.Invalidate) and the limit varies, so groupcache and Redis both miss and readsvc backfills the hot window from the top bands of hot_by_video (O(window), never a scan) with bodies and counts joined from comments_by_id and comment_likes.",
	)
	return writeReport(rep, outDir)
}

// fillSummary says how many backfills the cold run caused.
func (m metrics) fillSummary() string {
	return fmt.Sprintf("readsvc counted %.0f hot-window fills written", m.sum("readsvc_fills_total", "result", "written")+m.sum("readsvc_fills_total", "result", "merged"))
}

// seedHotVideo writes n approved roots of video through the syncer's
// read-model writer (Apply: comments_by_video, comments_by_id, counts, the
// hot index at 0 likes) and their likes through its like writer
// (ApplyLikes: comment_likes and the hot index moved to the count), one
// like event per liked comment carrying its whole count as the delta.
func seedHotVideo(ctx context.Context, c *cluster, video int64, n int, logger *slog.Logger) (liked int, maxLikes int64, err error) {
	r := rand.New(rand.NewPCG(uint64(video), 11))
	rank := r.Perm(n) // comment i has like rank rank[i]+1
	// One comment a second: about 3,600 per hour bucket, so the writer's
	// per-partition recount stays small.
	const gap = time.Second
	startAt := time.Now().Add(-time.Duration(n+10)*gap - time.Hour).UTC().Truncate(time.Millisecond)
	writer := readmodel.NewWriter(c.Session, 64, nil)
	bar := newProgress("seed hot comments", n)
	var likes []readmodel.LikeEvent
	for off := 0; off < n; off += seedChunk {
		k := min(seedChunk, n-off)
		events := make([]comment.Event, k)
		for i := range events {
			at := startAt.Add(time.Duration(off+i) * gap)
			id := comment.MinIDAt(at) | seedNode<<comment.SeqBits
			created := comment.IDTime(id).UTC()
			row := comment.Comment{ID: id, VideoID: video, UserID: 1 + int64(r.IntN(100000)),
				Content: fmt.Sprintf("hot bench comment %d: %s", off+i, lorem[(off+i)%len(lorem)]), Status: comment.Approved,
				CreatedAt: created, Version: comment.NextVersion(0, created)}
			events[i] = comment.NewEvent(comment.EventCreated, row)
			if n := int64(math.Floor(hotTopLikes / math.Pow(float64(rank[off+i]+1), hotLikeSkew))); n > 0 {
				likes = append(likes, readmodel.LikeEvent{CommentID: id, VideoID: video, Delta: n, Offset: int64(len(likes))})
				maxLikes = max(maxLikes, n)
			}
		}
		if err := writer.Apply(ctx, events); err != nil {
			return 0, 0, fmt.Errorf("seed comments: %w", err)
		}
		bar.set(off + k)
	}
	bar.done()
	bar = newProgress("seed hot likes", len(likes))
	for off := 0; off < len(likes); off += seedChunk {
		chunk := likes[off:min(off+seedChunk, len(likes))]
		if _, err := writer.ApplyLikes(ctx, chunk); err != nil {
			return 0, 0, fmt.Errorf("seed likes: %w", err)
		}
		bar.set(off + len(chunk))
	}
	bar.done()
	logger.Info("seeded hot video", "comments", n, "liked", len(likes), "top", maxLikes)
	return len(likes), maxLikes, nil
}

// retry runs f up to five times, a second apart, while it fails (a 503
// while the machine is saturated).
func retry(ctx context.Context, logger *slog.Logger, f func() error) error {
	var err error
	for i := 0; i < 5; i++ {
		if err = f(); err == nil || ctx.Err() != nil {
			return err
		}
		logger.Warn("retrying", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return err
}

// walkHot follows next_cursor from page one of sort=hot for up to n pages.
func walkHot(ctx context.Context, client *http.Client, base string, video int64, n int) ([]string, error) {
	api := newAPI(base, client)
	paths := []string{fmt.Sprintf("/v1/videos/%d/comments?sort=hot&limit=50", video)}
	hot, limit := apiclient.ListVideoCommentsParamsSort("hot"), 50
	var cursor *string
	for len(paths) < n {
		r, err := api.ListVideoCommentsWithResponse(ctx, apiID(video), &apiclient.ListVideoCommentsParams{Sort: &hot, Limit: &limit, Cursor: cursor})
		if err != nil {
			return nil, fmt.Errorf("hot page %d: %w", len(paths), err)
		}
		if r.JSON200 == nil {
			return nil, fmt.Errorf("hot page %d: %d %s", len(paths), r.StatusCode(), r.Body)
		}
		if cursor = r.JSON200.NextCursor; cursor == nil {
			break
		}
		paths = append(paths, fmt.Sprintf("/v1/videos/%d/comments?sort=hot&limit=50&cursor=%s", video, *cursor))
	}
	if len(paths) < 2 {
		paths = append(paths, paths[0])
	}
	return paths, nil
}
