package inspect_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/config"
	"github.com/vidcomments/vidcomments/internal/inspect"
	"github.com/vidcomments/vidcomments/internal/inspect/cqlsource"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/stacktest"
	"github.com/vidcomments/vidcomments/internal/stores/redisstore"
	"github.com/vidcomments/vidcomments/syncer/readmodel"
)

// window is the cache window of these tests: small, so a video of 8
// approved comments has an incomplete window.
const window = 5

// world is one private database and keyspace, the shared Redis and an
// inspector over all three.
type world struct {
	db    *sql.DB
	cass  *stacktest.Cassandra
	rdb   redis.UniversalClient
	cache *pagecache.Cache
	in    *inspect.Inspector
	w     *readmodel.Writer
}

func newWorld(t *testing.T) *world {
	my := stacktest.NewMySQL(t)
	cs := stacktest.NewCassandra(t)
	rdb := stacktest.Redis(t)
	cache := pagecache.New(rdb, pagecache.Options{Window: window})
	return &world{db: my.DB, cass: cs, rdb: rdb, cache: cache,
		in: inspect.New(my.DB, cache, inspect.Options{Cassandra: cqlsource.New(cs.Session), Lists: true}),
		w:  readmodel.NewWriter(cs.Session, 0, nil)}
}

// seeded is one video in a consistent state.
type seeded struct {
	video int64
	rows  []comment.Comment // newest first
}

// byStatus returns the ids of rows in status st, newest first.
func (s seeded) byStatus(st comment.Status) []int64 {
	var ids []int64
	for _, r := range s.rows {
		if r.Status == st {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// entries are the cache entries of every row of s, newest first.
func (s seeded) entries() []pagecache.Entry {
	var out []pagecache.Entry
	for _, c := range s.rows {
		out = append(out, pagecache.Entry{ID: c.ID, Body: inspect.PublicBody(c), Version: c.Version})
	}
	return out
}

// key is the Redis key of s named name (vc:{V}:name).
func (s seeded) key(name string) string { return fmt.Sprintf("vc:{%d}:%s", s.video, name) }

func (s seeded) row(id int64) comment.Comment {
	for _, r := range s.rows {
		if r.ID == id {
			return r
		}
	}
	panic(fmt.Sprintf("no row %d", id))
}

// seed writes a video with approved approved comments plus a pending and a
// rejected one to MySQL, Cassandra (through the syncer's writer) and the
// Redis window (through a fill), a consistent state, and returns it.
func (w *world) seed(t *testing.T, approved int) seeded {
	t.Helper()
	ctx := context.Background()
	video := 1<<52 + rand.Int64N(1<<50)
	t.Cleanup(func() {
		for _, k := range []string{"meta", "time", "body", "ver", "ov", "ovt", "fence", "u:7", "pin"} {
			w.rdb.Del(context.Background(), fmt.Sprintf("vc:{%d}:%s", video, k))
		}
	})
	created := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
	base := comment.MinIDAt(created)
	statuses := []comment.Status{comment.Rejected, comment.Pending}
	for range approved {
		statuses = append(statuses, comment.Approved)
	}
	s := seeded{video: video}
	var events []comment.Event
	for i, st := range statuses {
		c := comment.Comment{ID: base + int64(i)*4096, VideoID: video, UserID: 7, Content: fmt.Sprintf("comment %d of %d", i, video),
			Status: st, CreatedAt: created, Version: created.UnixMicro() + int64(i)}
		_, err := w.db.ExecContext(ctx, `INSERT INTO comments (id, video_id, user_id, parent_id, content, status, created_at, updated_at, version)
			VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?)`, c.ID, c.VideoID, c.UserID, c.Content, string(c.Status), c.CreatedAt, created, c.Version)
		if err != nil {
			t.Fatal(err)
		}
		s.rows = append([]comment.Comment{c}, s.rows...)
		events = append(events, comment.NewEvent(comment.EventCreated, c))
	}
	if err := w.w.Apply(ctx, events); err != nil {
		t.Fatal(err)
	}
	var entries []pagecache.Entry
	for _, c := range s.rows {
		if c.Status == comment.Approved && len(entries) < window {
			entries = append(entries, pagecache.Entry{ID: c.ID, Body: inspect.PublicBody(c), Version: c.Version})
		}
	}
	tok, err := w.cache.BeginFill(ctx, video)
	if err != nil {
		t.Fatal(err)
	}
	res, err := w.cache.FillSince(ctx, video, tok, entries, int64(approved), approved <= window)
	if err != nil || !res.Written {
		t.Fatalf("fill: %+v %v", res, err)
	}
	w.ownViews(t, s)
	return s
}

// ownViews puts each pending row of s into its author's view, as cdc
// records a pending row.
func (w *world) ownViews(t *testing.T, s seeded) {
	t.Helper()
	for _, c := range s.rows {
		if c.Status == comment.Pending {
			if err := w.cache.SetPending(context.Background(), s.video, c.UserID, c.ID, inspect.PublicBody(c)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func (w *world) inspect(t *testing.T, video int64) []inspect.Mismatch {
	t.Helper()
	return inspectWith(t, w.in, video)
}

// inspectWith returns what in finds wrong with video.
func inspectWith(t *testing.T, in *inspect.Inspector, video int64) []inspect.Mismatch {
	t.Helper()
	rep, err := in.Run(context.Background(), []int64{video})
	if err != nil {
		t.Fatal(err)
	}
	return rep.Mismatches
}

// requireConsistent stops the test if the world's inspector finds anything
// wrong with video.
func (w *world) requireConsistent(t *testing.T, video int64) {
	t.Helper()
	if ms := w.inspect(t, video); len(ms) != 0 {
		t.Fatalf("consistent state: %d mismatches: %v", len(ms), ms)
	}
}

// requireFound stops the test unless ms holds a mismatch of kind for
// comment id (0: the video as a whole), and checks that it names video,
// a positive age, where and what.
func requireFound(t *testing.T, ms []inspect.Mismatch, video int64, kind inspect.Kind, id int64) {
	t.Helper()
	i := slices.IndexFunc(ms, func(m inspect.Mismatch) bool { return m.Kind == kind && m.ID == id })
	if i < 0 {
		t.Fatalf("no %s mismatch for comment %d; found %v", kind, id, ms)
	}
	if m := ms[i]; m.Video != video || m.Age <= 0 || m.Where == "" || m.Detail == "" {
		t.Errorf("incomplete mismatch %+v", m)
	}
	t.Logf("found: %v", ms[i])
}

// noErr stops the test on err: for the corruptions, which are one write each.
func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func member(id int64) string { return fmt.Sprintf("%019d", id) }

// plant puts c into the time window of s, with its body, behind the
// cache's back.
func (w *world) plant(t *testing.T, s seeded, c comment.Comment) {
	t.Helper()
	ctx := context.Background()
	noErr(t, w.rdb.ZAdd(ctx, s.key("time"), redis.Z{Member: member(c.ID)}).Err())
	noErr(t, w.rdb.HSet(ctx, s.key("body"), member(c.ID), inspect.PublicBody(c)).Err())
}

// Each way of corrupting Redis or Cassandra is found, with the right kind,
// comment and a positive age; the consistent state before it has none.
func TestInspectorFindsEveryCorruption(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	// unlisted is the corruption that removes the nth approved comment
	// (newest first) from the time window.
	unlisted := func(nth int) func(t *testing.T, s seeded) int64 {
		return func(t *testing.T, s seeded) int64 {
			id := s.byStatus(comment.Approved)[nth]
			noErr(t, w.rdb.ZRem(ctx, s.key("time"), member(id)).Err())
			return id
		}
	}
	tests := []struct {
		name     string
		approved int // 3: complete window; 8: incomplete
		corrupt  func(t *testing.T, s seeded) int64
		kind     inspect.Kind
	}{
		{"redis: approved comment missing from a complete window", 3, unlisted(1), inspect.CacheMissing},
		{"redis: approved comment missing inside an incomplete window", 8, unlisted(2), inspect.CacheMissing},
		{"redis: pending comment cached", 3, func(t *testing.T, s seeded) int64 {
			c := s.row(s.byStatus(comment.Pending)[0])
			w.plant(t, s, c)
			return c.ID
		}, inspect.CacheNotApproved},
		{"redis: comment rejected in MySQL still cached", 3, func(t *testing.T, s seeded) int64 {
			id := s.byStatus(comment.Approved)[0]
			_, err := w.db.ExecContext(ctx, `UPDATE comments SET status = 'rejected', updated_at = ? WHERE id = ?`, time.Now().Add(-time.Minute), id)
			noErr(t, err)
			return id
		}, inspect.CacheNotApproved},
		{"redis: unknown comment cached", 3, func(t *testing.T, s seeded) int64 {
			id := s.rows[0].ID + 1
			noErr(t, w.rdb.ZAdd(ctx, s.key("time"), redis.Z{Member: member(id)}).Err())
			return id
		}, inspect.CacheNotApproved},
		{"redis: another video's comment cached", 3, func(t *testing.T, s seeded) int64 {
			other := w.seed(t, 1)
			c := other.row(other.byStatus(comment.Approved)[0])
			w.plant(t, s, c)
			return c.ID
		}, inspect.CacheWrongVideo},
		{"redis: body differs", 3, func(t *testing.T, s seeded) int64 {
			c := s.row(s.byStatus(comment.Approved)[0])
			c.Content = "not what MySQL says"
			noErr(t, w.rdb.HSet(ctx, s.key("body"), member(c.ID), inspect.PublicBody(c)).Err())
			return c.ID
		}, inspect.CacheBody},
		{"redis: body missing", 8, func(t *testing.T, s seeded) int64 {
			id := s.byStatus(comment.Approved)[0]
			noErr(t, w.rdb.HDel(ctx, s.key("body"), member(id)).Err())
			return id
		}, inspect.CacheBody},
		{"redis: wrong total", 8, func(t *testing.T, s seeded) int64 {
			noErr(t, w.rdb.HSet(ctx, s.key("meta"), "total", 9).Err())
			return 0
		}, inspect.CacheTotal},
		{"cassandra: approved comment missing from comments_by_video", 3, func(t *testing.T, s seeded) int64 {
			id := s.byStatus(comment.Approved)[2]
			noErr(t, w.cass.Session.Query(`DELETE FROM comments_by_video WHERE video_id = ? AND bucket = ? AND id = ?`, s.video, comment.Bucket(id), id).Exec())
			return id
		}, inspect.CassMissing},
		{"cassandra: comment missing from comments_by_id", 3, func(t *testing.T, s seeded) int64 {
			id := s.byStatus(comment.Pending)[0]
			noErr(t, w.cass.Session.Query(`DELETE FROM comments_by_id WHERE id = ?`, id).Exec())
			return id
		}, inspect.CassMissing},
		{"cassandra: rejected comment present in comments_by_video", 3, func(t *testing.T, s seeded) int64 {
			c := s.row(s.byStatus(comment.Rejected)[0])
			noErr(t, w.cass.Session.Query(`INSERT INTO comments_by_video (video_id, bucket, id, user_id, parent_id, content, created_at, like_count, reply_count, version)
				VALUES (?, ?, ?, ?, 0, ?, ?, 0, 0, ?)`, s.video, comment.Bucket(c.ID), c.ID, c.UserID, c.Content, c.CreatedAt, c.Version).Exec())
			return c.ID
		}, inspect.CassNotApproved},
		{"cassandra: older version in comments_by_id", 3, func(t *testing.T, s seeded) int64 {
			c := s.row(s.byStatus(comment.Approved)[0])
			noErr(t, w.cass.Session.Query(`UPDATE comments_by_id SET version = ?, status = 'pending' WHERE id = ?`, c.Version-1, c.ID).Exec())
			return c.ID
		}, inspect.CassOld},
		{"cassandra: other content at the same version", 3, func(t *testing.T, s seeded) int64 {
			c := s.row(s.byStatus(comment.Approved)[1])
			noErr(t, w.cass.Session.Query(`UPDATE comments_by_video SET content = 'changed' WHERE video_id = ? AND bucket = ? AND id = ?`, s.video, comment.Bucket(c.ID), c.ID).Exec())
			return c.ID
		}, inspect.CassDiffers},
		{"cassandra: wrong count", 3, func(t *testing.T, s seeded) int64 {
			noErr(t, w.cass.Session.Query(`UPDATE video_counts SET approved = 42 WHERE video_id = ?`, s.video).Exec())
			return 0
		}, inspect.CassCount},
		{"cassandra: a root missing from the hot index", 3, func(t *testing.T, s seeded) int64 {
			id := s.byStatus(comment.Approved)[1]
			noErr(t, w.cass.Session.Query(`DELETE FROM hot_by_video WHERE video_id = ? AND band = 0 AND like_count = 0 AND id = ?`, s.video, id).Exec())
			return id
		}, inspect.CassHot},
		{"cassandra: a root filed under a count it does not have", 3, func(t *testing.T, s seeded) int64 {
			id := s.byStatus(comment.Approved)[0]
			noErr(t, w.cass.Session.Query(`INSERT INTO hot_by_video (video_id, band, like_count, id) VALUES (?, ?, 6, ?)`, s.video, comment.HotBand(6), id).Exec())
			noErr(t, w.cass.Session.Query(`INSERT INTO video_hot_bands (video_id, band) VALUES (?, ?)`, s.video, comment.HotBand(6)).Exec())
			return id
		}, inspect.CassHot},
		{"redis: a pending view lacks the author's pending comment", 3, func(t *testing.T, s seeded) int64 {
			id := s.byStatus(comment.Pending)[0]
			noErr(t, w.rdb.HDel(ctx, s.key("u:7"), fmt.Sprint(id)).Err())
			return id
		}, inspect.PendingMissing},
		{"redis: a pending view holds an approved comment", 3, func(t *testing.T, s seeded) int64 {
			c := s.row(s.byStatus(comment.Approved)[0])
			noErr(t, w.rdb.HSet(ctx, s.key("u:7"), fmt.Sprint(c.ID), inspect.PublicBody(c)).Err())
			return c.ID
		}, inspect.PendingStale},
		{"redis: a pending view holds another body", 3, func(t *testing.T, s seeded) int64 {
			c := s.row(s.byStatus(comment.Pending)[0])
			c.Content = "not this"
			noErr(t, w.rdb.HSet(ctx, s.key("u:7"), fmt.Sprint(c.ID), inspect.PublicBody(c)).Err())
			return c.ID
		}, inspect.PendingBody},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := w.seed(t, tc.approved)
			w.requireConsistent(t, s.video)
			id := tc.corrupt(t, s)
			requireFound(t, w.inspect(t, s.video), s.video, tc.kind, id)
		})
	}
}

// The cdc job counts only mismatches older than its grace period, in the
// cdc_inspector_mismatches gauge, and counts its runs. It scans every cached
// video, so it runs against a private redis-server.
func TestJobExportsOldMismatches(t *testing.T) {
	w := newJobWorld(t)
	ctx := context.Background()
	s := w.seedCacheOnly(t, 3)
	id := s.byStatus(comment.Approved)[0]
	if err := w.rdb.HSet(ctx, s.key("body"), member(id), "{}").Err(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		grace time.Duration
		want  float64
	}{
		{"mismatch older than the grace period is counted", time.Second, 1},
		{"younger one is not", 24 * time.Hour, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { w.requireJobCounts(t, tc.grace, inspect.CacheBody, tc.want) })
	}
}

// With Repair, a video the job finds stale past the grace period loses its
// cached pages (the next read refills them from the source), and the next
// run finds nothing left to count.
func TestJobRepairDropsAStaleVideo(t *testing.T) {
	w := newJobWorld(t)
	ctx := context.Background()
	s := w.seedCacheOnly(t, 3)
	meta := s.key("meta")
	if err := w.rdb.HIncrBy(ctx, meta, "total", 5).Err(); err != nil { // a total no change will correct
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	job := inspect.NewJob(w.in, w.cache, inspect.JobConfig{Every: time.Hour, Grace: time.Millisecond, MaxVideos: 10, Registry: reg, Repair: true})
	defer job.Close()
	if old := job.RunOnce(ctx); len(old) == 0 {
		t.Fatal("the planted total was not found")
	}
	if got := metricValue(t, reg, "cdc_inspector_repairs_total", "action", string(inspect.DropPages)); got != 1 {
		t.Errorf("cdc_inspector_repairs_total = %v, want 1", got)
	}
	if n, err := w.rdb.Exists(ctx, meta).Result(); err != nil || n != 0 {
		t.Errorf("the stale video's meta is still cached (exists=%d, err=%v)", n, err)
	}
	if old := job.RunOnce(ctx); len(old) != 0 {
		t.Errorf("after the repair the job still counts %v", old)
	}
}

// newJobWorld is a world without Cassandra over a redis-server of its own:
// a job scans every cached video.
func newJobWorld(t *testing.T) *world {
	stacktest.Integration(t)
	my := stacktest.NewMySQL(t)
	rdb := privateRedis(t)
	cache := pagecache.New(rdb, pagecache.Options{Window: window})
	return &world{db: my.DB, rdb: rdb, cache: cache, in: inspect.New(my.DB, cache, inspect.Options{Lists: true})}
}

// requireJobCounts runs one pass of an inspector job with the grace period
// and requires it to count want mismatches of kind, and the run as ok.
func (w *world) requireJobCounts(t *testing.T, grace time.Duration, kind inspect.Kind, want float64) {
	t.Helper()
	reg := prometheus.NewRegistry()
	job := inspect.NewJob(w.in, w.cache, inspect.JobConfig{Every: time.Hour, Grace: grace, MaxVideos: 10, Registry: reg})
	defer job.Close()
	job.RunOnce(context.Background())
	if got := metricValue(t, reg, "cdc_inspector_mismatches", "kind", string(kind)); got != want {
		t.Errorf("cdc_inspector_mismatches{kind=%s} = %v, want %v", kind, got, want)
	}
	if got := metricValue(t, reg, "cdc_inspector_runs_total", "result", "ok"); got != 1 {
		t.Errorf("cdc_inspector_runs_total{result=ok} = %v, want 1", got)
	}
}

// metricValue returns the value of the gauge or counter name{label=value}.
func metricValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" && len(m.GetLabel()) == 0 { // an unlabelled metric
				return m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					if m.GetGauge() != nil {
						return m.GetGauge().GetValue()
					}
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{%s=%q}", name, label, value)
	return 0
}

// seedCacheOnly is seed without Cassandra.
func (w *world) seedCacheOnly(t *testing.T, approved int) seeded {
	t.Helper()
	ctx := context.Background()
	video := 1<<52 + rand.Int64N(1<<50)
	created := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
	base := comment.MinIDAt(created)
	s := seeded{video: video}
	for i := range approved {
		c := comment.Comment{ID: base + int64(i)*4096, VideoID: video, UserID: 7, Content: fmt.Sprint("c", i),
			Status: comment.Approved, CreatedAt: created, Version: created.UnixMicro() + int64(i)}
		if _, err := w.db.ExecContext(ctx, `INSERT INTO comments (id, video_id, user_id, parent_id, content, status, created_at, updated_at, version)
			VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?)`, c.ID, c.VideoID, c.UserID, c.Content, string(c.Status), c.CreatedAt, created, c.Version); err != nil {
			t.Fatal(err)
		}
		s.rows = append([]comment.Comment{c}, s.rows...)
	}
	tok, err := w.cache.BeginFill(ctx, video)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := w.cache.FillSince(ctx, video, tok, s.entries(), int64(approved), true); err != nil || !res.Written {
		t.Fatalf("fill: %+v %v", res, err)
	}
	return s
}

// privateRedis starts a redis-server of this test's own on a free port.
func privateRedis(t *testing.T) redis.UniversalClient {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found (%v): %s", err, stacktest.StartHint)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(path, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	rdb := redisstore.New(config.Redis{Addrs: []string{addr}})
	t.Cleanup(func() { rdb.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for rdb.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("private redis-server does not answer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return rdb
}

// The job's sample: successive ScanCachedVideos calls of a few videos each
// walk every cached video exactly as the job does, none skipped.
func TestJobSamplesWalkEveryCachedVideo(t *testing.T) {
	stacktest.Integration(t)
	rdb := privateRedis(t)
	cache := pagecache.New(rdb, pagecache.Options{})
	ctx := context.Background()
	want := map[int64]bool{}
	for i := range 57 {
		v := int64(1000 + i)
		want[v] = true
		if err := rdb.HSet(ctx, fmt.Sprintf("vc:{%d}:meta", v), "total", 0, "complete", 1).Err(); err != nil {
			t.Fatal(err)
		}
		if err := rdb.Set(ctx, fmt.Sprintf("vc:{%d}:ver", v+5000), 1, 0).Err(); err != nil { // not cached: not sampled
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		n    int
	}{{"samples of 3", 3}, {"samples of 10", 10}, {"one sample", 1000}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := map[int64]bool{}
			var cursor uint64
			for calls := 0; ; calls++ {
				if calls > 1000 {
					t.Fatal("the scan does not end")
				}
				vs, next, err := cache.ScanCachedVideos(ctx, cursor, tc.n)
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range vs {
					got[v] = true
				}
				if cursor = next; cursor == 0 {
					break
				}
			}
			if len(got) != len(want) {
				t.Fatalf("walked %d videos, want %d", len(got), len(want))
			}
			for v := range want {
				if !got[v] {
					t.Errorf("video %d never sampled", v)
				}
			}
		})
	}
}

// Repair corrects the read model from MySQL through the change log: every
// kind of Cassandra damage, a ghost in a private view and a cached total
// are repaired, and once the syncer has applied what the repair wrote to
// the outbox (here: its writer, fed the unsent outbox rows in order, as
// the relay and the syncer would) the inspector finds nothing.
func TestRepairCorrectsTheReadModelThroughTheOutbox(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	s := w.seed(t, 4)
	if ms := w.inspect(t, s.video); len(ms) != 0 {
		t.Fatalf("consistent state: %v", ms)
	}
	var mark int64
	if err := w.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM outbox`).Scan(&mark); err != nil {
		t.Fatal(err)
	}
	approved := s.byStatus(comment.Approved)
	ghost := s.rows[0]
	ghost.ID, ghost.Version = ghost.ID+1, ghost.Version+5
	damage := []struct {
		what string
		cql  string
		args []any
	}{
		{"a root lost from comments_by_video", `DELETE FROM comments_by_video WHERE video_id = ? AND bucket = ? AND id = ?`,
			[]any{s.video, comment.Bucket(approved[2]), approved[2]}},
		{"a root MySQL never had", `INSERT INTO comments_by_video (video_id, bucket, id, user_id, parent_id, content, created_at, reply_count, version)
			VALUES (?, ?, ?, ?, 0, ?, ?, 0, ?) USING TIMESTAMP ?`,
			[]any{s.video, comment.Bucket(ghost.ID), ghost.ID, ghost.UserID, "ghost", ghost.CreatedAt, ghost.Version, ghost.Version}},
		{"a like count a lost event left", `INSERT INTO comment_likes (comment_id, video_id, like_count, kafka_offset) VALUES (?, ?, 3, 1) USING TIMESTAMP 2`,
			[]any{approved[0], s.video}},
		{"a page's like count a lost event left", `INSERT INTO likes_by_bucket (video_id, bucket, id, like_count) VALUES (?, ?, ?, 5) USING TIMESTAMP 2`,
			[]any{s.video, comment.Bucket(approved[3]), approved[3]}},
		{"a stray hot entry", `INSERT INTO hot_by_video (video_id, band, like_count, id) VALUES (?, ?, 6, ?)`,
			[]any{s.video, comment.HotBand(6), approved[1]}},
		{"its band", `INSERT INTO video_hot_bands (video_id, band) VALUES (?, ?)`, []any{s.video, comment.HotBand(6)}},
		{"a wrong count", `UPDATE video_counts SET approved = 42 WHERE video_id = ?`, []any{s.video}},
		{"a pin MySQL never had", `INSERT INTO video_pins (video_id, comment_id, version) VALUES (?, ?, 5) USING TIMESTAMP 5`, []any{s.video, approved[0]}},
	}
	for _, d := range damage {
		if err := w.cass.Session.Query(d.cql, d.args...).Exec(); err != nil {
			t.Fatalf("%s: %v", d.what, err)
		}
	}
	if err := w.rdb.HSet(ctx, s.key("u:7"), fmt.Sprint(ghost.ID), inspect.PublicBody(ghost)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := w.rdb.HSet(ctx, s.key("meta"), "total", 9).Err(); err != nil {
		t.Fatal(err)
	}
	found := w.inspect(t, s.video)
	want := []inspect.Kind{inspect.CassMissing, inspect.CassNotApproved, inspect.CassLikes, inspect.CassHot, inspect.CassCount, inspect.CassPin,
		inspect.PendingStale, inspect.CacheTotal}
	for _, k := range want {
		if inspect.ByKind(found)[k] == 0 {
			t.Fatalf("the damage shows no %s: %v", k, found)
		}
	}
	if !slices.ContainsFunc(found, func(m inspect.Mismatch) bool {
		return m.Kind == inspect.CassLikes && m.ID == approved[3] && m.Where == "likes_by_bucket"
	}) {
		t.Fatalf("the page's like count of %d shows no %s in likes_by_bucket: %v", approved[3], inspect.CassLikes, found)
	}

	reg := prometheus.NewRegistry()
	done, err := inspect.NewRepairer(w.db, w.cache, nil, reg).Repair(ctx, found, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []inspect.Action{inspect.EraseGhost, inspect.TouchComment, inspect.TouchBuckets, inspect.Recount, inspect.Unpin, inspect.DropPending, inspect.DropPages} {
		if done.ByAction[a] == 0 {
			t.Errorf("no %s among the repairs %v", a, done.ByAction)
		}
	}
	for _, k := range want {
		if got := metricValue(t, reg, "cdc_inspector_repairs_total", "kind", string(k)); got < 1 {
			t.Errorf("cdc_inspector_repairs_total{kind=%s} = %v", k, got)
		}
	}
	t.Logf("repairs by action %v, by kind %v", done.ByAction, done.ByKind)
	w.applyOutbox(t, mark)

	if ms := w.inspect(t, s.video); len(ms) != 0 {
		t.Fatalf("after the repair and the syncer: %d mismatches: %v", len(ms), ms)
	}
	var n int
	if err := w.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM comments WHERE id = ?`, ghost.ID).Scan(&n); err != nil || n != 0 {
		t.Errorf("the repair wrote a row MySQL never had (%d, %v)", n, err)
	}
}

// applyOutbox applies the outbox rows after mark to the read model in
// order, as the relay and the syncer do: comment and pin events, then the
// likes, ordered by their outbox id as Kafka would by offset.
func (w *world) applyOutbox(t *testing.T, mark int64) {
	t.Helper()
	ctx := context.Background()
	rows, err := w.db.QueryContext(ctx, `SELECT id, payload FROM outbox WHERE id > ? ORDER BY id`, mark)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var (
		events []comment.Event
		likes  []readmodel.LikeEvent
	)
	for rows.Next() {
		var (
			id      int64
			payload []byte
		)
		if err := rows.Scan(&id, &payload); err != nil {
			t.Fatal(err)
		}
		e, err := comment.DecodeEvent(payload)
		if err != nil {
			t.Fatalf("outbox row %d: %v: %s", id, err, payload)
		}
		if e.Type == comment.EventLike {
			l := e.Like
			likes = append(likes, readmodel.LikeEvent{CommentID: l.CommentID, VideoID: l.VideoID, Delta: l.Delta, Recount: l.Recount, Count: l.Count, Stale: l.Stale, Offset: id})
			continue
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if err := w.w.Apply(ctx, events); err != nil {
		t.Fatal(err)
	}
	if _, err := w.w.ApplyLikes(ctx, likes); err != nil {
		t.Fatal(err)
	}
	t.Logf("applied %d events and %d likes from the outbox", len(events), len(likes))
}
