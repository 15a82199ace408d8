package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/stores/mysqlstore"
	"github.com/vidcomments/vidcomments/readsvc/cursor"
)

// coldDeep is the latency of the hot video's pages at random depths with
// nothing cached: before each request the video is invalidated (Redis
// pages dropped, version bumped so no groupcache key still answers), so
// every page is read from Cassandra. Positions are random comments of the
// video drawn from MySQL, turned into the cursor a reader would hold after
// paging down to them (signed with the cluster's key), so any depth of a
// million comments is reached without walking there. One request at a
// time: the figure is a page's own cold cost, not a queue.
type coldDeep struct {
	Samples        int
	P50, P99, Max  time.Duration
	DeepestOrdinal int64 // how far down (in comments) the deepest sample lies
	// Where a cold page's time goes, from readsvc's metrics over the
	// samples: Cassandra reads and their mean time per page, and readsvc's
	// own mean time per page (the HTTP handler, every tier included).
	CassandraReads, CassandraMs, ServerMs float64
	ProfileQueries                        float64 // MySQL round trips for the pages' authors
}

// Breakdown is the per-page cost line of a report.
func (c coldDeep) Breakdown() string {
	return fmt.Sprintf("per page, from readsvc's metrics: %.2f Cassandra reads taking %.2f ms in all, %.2f MySQL queries for authors; readsvc's handler %.2f ms", c.CassandraReads, c.CassandraMs, c.ProfileQueries, c.ServerMs)
}

// coldDeepSamples is how many cold deep pages a read run measures.
const coldDeepSamples = 200

func measureColdDeep(ctx context.Context, c *cluster, client *http.Client, base, metricsURL string, video int64, samples int) (coldDeep, error) {
	var out coldDeep
	before, err := scrape(ctx, client, metricsURL)
	if err != nil {
		return out, err
	}
	ids, err := mysqlstore.QueryAll(ctx, c.DB, func(rows *sql.Rows, id *int64) error { return rows.Scan(id) },
		`SELECT id FROM comments WHERE video_id = ? AND parent_id = 0 AND status = 'approved' ORDER BY RAND() LIMIT ?`, video, samples)
	if err != nil {
		return out, err
	}
	if len(ids) == 0 {
		return out, fmt.Errorf("cold deep: video %d has no comments", video)
	}
	var newest int64
	if err := c.DB.QueryRowContext(ctx, `SELECT MAX(id) FROM comments WHERE video_id = ? AND parent_id = 0`, video).Scan(&newest); err != nil {
		return out, err
	}
	codec := cursor.NewCodec([]byte(c.CursorKey))
	cache := pagecache.New(c.Redis, pagecache.Options{})
	hist := hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
	bar := newProgress("cold deep pages", len(ids))
	deepest := ids[0]
	for i, id := range ids {
		deepest = min(deepest, id)
		if _, err := cache.Invalidate(ctx, video); err != nil {
			return out, err
		}
		path := firstPage(video) + "&cursor=" + url.QueryEscape(codec.Encode(video, cursor.Cursor{Sort: cursor.ByTime, LastID: id}))
		began := time.Now()
		code, body := get(ctx, client, base+path)
		took := time.Since(began)
		if code != http.StatusOK {
			return out, fmt.Errorf("cold deep page after %d: %d %s", id, code, body)
		}
		_ = hist.RecordValue(took.Microseconds())
		bar.set(i + 1)
	}
	bar.done()
	after, err := scrape(ctx, client, metricsURL)
	if err != nil {
		return out, err
	}
	delta := func(name string) float64 { return after.sum(name) - before.sum(name) }
	n := float64(len(ids))
	out.CassandraReads = delta("readsvc_cassandra_seconds_count") / n
	out.CassandraMs = 1000 * delta("readsvc_cassandra_seconds_sum") / n
	out.ServerMs = 1000 * delta("readsvc_http_request_seconds_sum") / n
	out.ProfileQueries = (after.sum("readsvc_profile_queries_total", "tier", "mysql") - before.sum("readsvc_profile_queries_total", "tier", "mysql")) / n
	if err := c.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM comments WHERE video_id = ? AND parent_id = 0 AND id > ?`, video, deepest).Scan(&out.DeepestOrdinal); err != nil {
		return out, err
	}
	out.Samples = len(ids)
	us := func(q float64) time.Duration { return time.Duration(hist.ValueAtQuantile(q)) * time.Microsecond }
	out.P50, out.P99, out.Max = us(50), us(99), time.Duration(hist.Max())*time.Microsecond
	return out, nil
}

// rssBytes is the resident set of a process, from /proc/<pid>/status.
func rssBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
