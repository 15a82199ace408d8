package binlog_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/vidcomments/vidcomments/cdc/binlog"
	"github.com/vidcomments/vidcomments/cdc/internal/cdctest"
	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/stacktest"
)

type follower struct {
	l   *binlog.Listener
	reg *prometheus.Registry
}

// follow starts an in-process listener on my's database and waits until it
// leads and has saved its start position: every write after it returns is
// in the range it follows.
func follow(t *testing.T, my *stacktest.MySQL, cache *pagecache.Cache) *follower {
	t.Helper()
	reg := prometheus.NewRegistry()
	l, err := binlog.New(binlog.Config{
		MySQL:        my.Config,
		ServerID:     cdctest.ServerID(),
		SaveInterval: 200 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Registry:     reg,
	}, my.DB, cache)
	if err != nil {
		t.Fatal(err)
	}
	l.Start()
	t.Cleanup(func() { l.Close() })
	f := &follower{l: l, reg: reg}
	cdctest.Eventually(t, 30*time.Second, "listener leads and saved its start position", func() bool {
		_, ok, err := binlog.LoadPosition(context.Background(), my.DB, binlog.PositionName)
		return err == nil && ok && f.metric(t, "cdc_leader") == 1
	})
	return f
}

// metric reads an unlabelled gauge or counter, or the sum over labels.
func (f *follower) metric(t testing.TB, name string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetGauge().GetValue() + m.GetCounter().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

func newCache(t *testing.T) (*pagecache.Cache, redis.UniversalClient) {
	rdb := stacktest.Redis(t)
	return pagecache.New(rdb, pagecache.Options{}), rdb
}

// subscribeInvalidations subscribes to the cache's invalidation channel
// and returns once Redis confirmed the subscription; it ends with the test.
func subscribeInvalidations(t *testing.T, ctx context.Context, rdb redis.UniversalClient) *redis.PubSub {
	t.Helper()
	sub := rdb.Subscribe(ctx, pagecache.InvalChannel)
	t.Cleanup(func() { _ = sub.Close() })
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	return sub
}

// present reports whether the cached window shows comment id, with the page
// read readsvc's Redis tier performs (cursor just above the id, limit 1).
func present(t testing.TB, cache *pagecache.Cache, video, id int64) (bool, []byte) {
	p, err := cache.Read(context.Background(), video, id+1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Cached {
		t.Fatalf("video %d is no longer cached: cdc must edit the window, not drop it", video)
	}
	if len(p.Entries) == 1 && p.Entries[0].ID == id {
		return true, p.Entries[0].Body
	}
	return false, nil
}

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Moderation is visible within milliseconds with no syncer running: from
// the MySQL commit until the Redis read readsvc performs no longer returns
// a rejected comment (p99 < 200 ms over 200 trials), or returns an approved
// one (p99 < 300 ms over 200 trials).
func TestModerationFreshnessWithoutTheSyncer(t *testing.T) {
	my := stacktest.NewMySQL(t)
	cache, rdb := newCache(t)
	ctx := context.Background()
	const trials = 200
	video := cdctest.Video()
	ids := make([]int64, trials)
	for i := range ids {
		ids[i] = cdctest.Insert(t, my.DB, int64(1000+i), video, comment.Approved, fmt.Sprintf("comment %d", i))
	}
	since := maxVersion(t, my.DB)
	cdctest.Fill(t, cache, my.DB, video)
	follow(t, my, cache)

	sub := subscribeInvalidations(t, ctx, rdb)
	// Wake-ups only (the loop polls too): drop what is not read at once, so
	// the subscription's goroutine never blocks on a full channel.
	inval := sub.Channel(redis.WithChannelSendTimeout(time.Millisecond))

	// measure runs one moderation change and times it until want(present):
	// from before the statement (its commit happens inside it) until the
	// cache read shows the change. It also returns how long the statement
	// itself took, to tell MySQL's share from cdc's.
	measure := func(id int64, status comment.Status, wantPresent bool) (total, commit time.Duration) {
		t.Helper()
		start := time.Now()
		if _, err := my.DB.ExecContext(ctx, `UPDATE comments SET status = ? WHERE id = ?`, string(status), id); err != nil {
			t.Fatal(err)
		}
		commit = time.Since(start)
		deadline := time.NewTimer(5 * time.Second)
		defer deadline.Stop()
		for {
			if ok, body := present(t, cache, video, id); ok == wantPresent {
				total = time.Since(start)
				if ok && !strings.Contains(string(body), fmt.Sprintf(`"id":"%d"`, id)) {
					t.Fatalf("comment %d reappeared with body %s", id, body)
				}
				return total, commit
			}
			select { // wake on the bump cdc publishes, or poll
			case <-inval:
			case <-time.After(2 * time.Millisecond):
			case <-deadline.C:
				t.Fatalf("comment %d: %s not reflected in the cache within 5s", id, status)
			}
		}
	}
	report := func(name string, d, commits []time.Duration, limit time.Duration) {
		slices.Sort(d)
		slices.Sort(commits)
		p50, p99 := percentile(d, 0.50), percentile(d, 0.99)
		t.Logf("%s: n=%d p50=%v p99=%v max=%v (limit p99 < %v); the UPDATE's own commit: p50=%v p99=%v max=%v",
			name, len(d), p50, p99, d[len(d)-1], limit, percentile(commits, 0.50), percentile(commits, 0.99), commits[len(commits)-1])
		if p99 >= limit {
			t.Errorf("%s p99 %v, want < %v", name, p99, limit)
		}
	}
	run := func(status comment.Status, wantPresent bool) (d, commits []time.Duration) {
		for _, id := range ids {
			total, commit := measure(id, status, wantPresent)
			d, commits = append(d, total), append(commits, commit)
		}
		return d, commits
	}
	// follow returns once cdc leads and saved its start position, which is
	// before canal has connected and asked for the stream. Wait until a
	// first change has come through: what follows measures freshness, not
	// how long a new leader takes to start.
	warm := cdctest.Insert(t, my.DB, 999, video, comment.Approved, "warm-up")
	cdctest.Eventually(t, 30*time.Second, "the stream is live", func() bool {
		ok, _ := present(t, cache, video, warm)
		return ok
	})

	rejects, rejectCommits := run(comment.Rejected, false)
	approves, approveCommits := run(comment.Approved, true)
	report("reject → gone from the cached window", rejects, rejectCommits, 200*time.Millisecond)
	report("approve → in the cached window", approves, approveCommits, 300*time.Millisecond)
	cdctest.WaitAgree(t, cache, my.DB, []int64{video}, since, 10*time.Second)
}

// A change made with plain SQL reaches the cache exactly as one made
// through writesvc's moderation transaction does.
func TestPlainSQLChangesInvalidateLikeTheAPI(t *testing.T) {
	my := stacktest.NewMySQL(t)
	cache, rdb := newCache(t)
	ctx := context.Background()
	video, other := cdctest.Video(), cdctest.Video()
	for i := int64(1); i <= 12; i++ {
		cdctest.Insert(t, my.DB, i, video, comment.Approved, fmt.Sprintf("comment %d", i))
	}
	cdctest.Insert(t, my.DB, 20, video, comment.Pending, "waiting")
	cdctest.Insert(t, my.DB, 40, other, comment.Approved, "elsewhere")
	since := maxVersion(t, my.DB)
	cdctest.Fill(t, cache, my.DB, video)
	cdctest.Fill(t, cache, my.DB, other)
	follow(t, my, cache)

	sub := subscribeInvalidations(t, ctx, rdb)

	// apiReject is writesvc's moderation transaction (writesvc/store):
	// read the row under lock, write status, reason and the next version,
	// and an outbox event, in one commit.
	apiReject := func(db *sql.DB, id int64) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		var prev int64
		if err := tx.QueryRowContext(ctx, `SELECT version FROM comments WHERE id = ? FOR UPDATE`, id).Scan(&prev); err != nil {
			return err
		}
		now := time.Now().UTC()
		next := comment.NextVersion(prev, now)
		if _, err := tx.ExecContext(ctx, `UPDATE comments SET status = ?, reason = ?, updated_at = ?, version = ? WHERE id = ?`,
			string(comment.Rejected), "spam", now, next, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (video_id, comment_id, version, event_type, payload, created_at) VALUES (?, ?, ?, 'rejected', '{}', ?)`,
			video, id, next, now); err != nil {
			return err
		}
		return tx.Commit()
	}
	exec := func(query string, args ...any) func(*sql.DB, int64) error {
		return func(db *sql.DB, _ int64) error {
			_, err := db.ExecContext(ctx, query, args...)
			return err
		}
	}
	tests := []struct {
		name    string
		id      int64 // the comment that changes
		change  func(*sql.DB, int64) error
		visible bool // after the change
		total   int64
	}{
		{"reject through the API's transaction", 1, apiReject, false, 11},
		{"reject with a plain UPDATE", 2, exec(`UPDATE comments SET status = 'rejected' WHERE id = 2`), false, 10},
		{"approve with a plain UPDATE", 20, exec(`UPDATE comments SET status = 'approved' WHERE id = 20`), true, 11},
		{"edit content with a plain UPDATE", 3, exec(`UPDATE comments SET content = 'edited by hand' WHERE id = 3`), true, 11},
		{"like count with a plain UPDATE", 4, exec(`UPDATE comments SET like_count = like_count + 3 WHERE id = 4`), true, 11},
		{"hard DELETE", 5, exec(`DELETE FROM comments WHERE id = 5`), false, 10},
		{"insert already approved", 30, func(db *sql.DB, id int64) error {
			cdctest.Insert(t, db, id, video, comment.Approved, "post-moderated")
			return nil
		}, true, 11},
		{"one UPDATE over many rows", 6, exec(`UPDATE comments SET status = 'rejected' WHERE video_id = ? AND id IN (6, 7, 8)`, video), false, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := cache.Version(ctx, video)
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.change(my.DB, tt.id); err != nil {
				t.Fatal(err)
			}
			var published int64
			for published == 0 {
				msg, err := sub.ReceiveMessage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if v, ver, err := pagecache.ParseInval(msg.Payload); err == nil && v == video && ver > before {
					published = ver
				}
			}
			// The edit and the bump are one Lua call: once published, it is there.
			if ok, _ := present(t, cache, video, tt.id); ok != tt.visible {
				t.Errorf("comment %d visible=%v in the window, want %v", tt.id, ok, tt.visible)
			}
			// A multi-row UPDATE publishes once per row: let the rest land.
			cdctest.WaitAgree(t, cache, my.DB, []int64{video}, since, 5*time.Second)
			p, err := cache.Read(ctx, video, 0, 1)
			if err != nil || p.Total != tt.total {
				t.Errorf("total %d (%v), want %d", p.Total, err, tt.total)
			}
			ov, err := cache.Overlay(ctx, video)
			if err != nil {
				t.Fatal(err)
			}
			if e, ok := ov[tt.id]; !ok || e.Visible != tt.visible {
				t.Errorf("overlay entry of %d = %+v (present %v), want visible=%v", tt.id, e, ok, tt.visible)
			}
		})
	}
	if d, err := cdctest.Diff(ctx, cache, my.DB, other, since); err != nil || d != "" {
		t.Errorf("an untouched video changed: %s %v", d, err)
	}
}

func maxVersion(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	var v sql.NullInt64
	if err := db.QueryRow(`SELECT MAX(version) FROM comments`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v.Int64
}

// A listener whose lock connection is killed stops acting, and (alone)
// takes the lock again and carries on without missing a change.
func TestLosingTheLockConnectionStopsActing(t *testing.T) {
	my := stacktest.NewMySQL(t)
	cache, _ := newCache(t)
	ctx := context.Background()
	video := cdctest.Video()
	cdctest.Insert(t, my.DB, 1, video, comment.Approved, "one")
	since := maxVersion(t, my.DB)
	cdctest.Fill(t, cache, my.DB, video)
	f := follow(t, my, cache)

	var holder int64
	if err := my.DB.QueryRowContext(ctx, `SELECT IS_USED_LOCK(?)`, binlog.LockName(my.Name)).Scan(&holder); err != nil {
		t.Fatal(err)
	}
	if _, err := my.DB.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", holder)); err != nil {
		t.Fatal(err)
	}
	cdctest.Eventually(t, 15*time.Second, "the listener notices and leads again", func() bool {
		return f.metric(t, "cdc_leader_acquired_total") == 2 && f.metric(t, "cdc_leader") == 1
	})
	var now int64
	if err := my.DB.QueryRowContext(ctx, `SELECT IS_USED_LOCK(?)`, binlog.LockName(my.Name)).Scan(&now); err != nil || now == holder {
		t.Fatalf("lock held by connection %d (%v), want a new one", now, err)
	}
	cdctest.Insert(t, my.DB, 2, video, comment.Approved, "two")
	if _, err := my.DB.ExecContext(ctx, `UPDATE comments SET status = 'rejected' WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	cdctest.WaitAgree(t, cache, my.DB, []int64{video}, since, 15*time.Second)
}

// The position is saved only while the saver holds the lock: a connection
// that does not hold it cannot move it.
func TestSavePositionIsFenced(t *testing.T) {
	my := stacktest.NewMySQL(t)
	ctx := context.Background()
	name := binlog.LockName(my.Name)
	lock, err := binlog.TryLock(ctx, my.DB, name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := binlog.MasterPosition(ctx, my.DB, my.Config.Flavor)
	if err != nil {
		t.Fatal(err)
	}
	if p.File == "" || (my.Config.Flavor == "mariadb" && p.GTID == "") {
		t.Fatalf("master position %+v: want a file and, on MariaDB, a GTID", p)
	}
	if err := lock.SavePosition(ctx, binlog.PositionName, p); err != nil {
		t.Fatal(err)
	}
	if _, err := binlog.TryLock(ctx, my.DB, name); !errors.Is(err, binlog.ErrLockHeld) {
		t.Fatalf("second TryLock: %v, want ErrLockHeld", err)
	}
	got, ok, err := binlog.LoadPosition(ctx, my.DB, binlog.PositionName)
	if err != nil || !ok || got != p {
		t.Fatalf("loaded %+v %v %v, want %+v", got, ok, err, p)
	}
	files, err := binlog.BinaryLogs(ctx, my.DB)
	if err != nil || !slices.Contains(files, p.File) {
		t.Errorf("binary logs %v (%v) lack the master's file %s", files, err, p.File)
	}
	lock.Release()

	// A lock taken and lost: its connection is gone, its saves fail.
	stale, err := binlog.TryLock(ctx, my.DB, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := my.DB.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", stale.ConnectionID())); err != nil {
		t.Fatal(err)
	}
	later := binlog.Position{File: p.File, Offset: p.Offset + 1000}
	if err := stale.SavePosition(ctx, binlog.PositionName, later); !errors.Is(err, binlog.ErrLockLost) {
		t.Errorf("save after the lock's connection died: %v, want ErrLockLost", err)
	}
	if err := stale.Check(ctx); !errors.Is(err, binlog.ErrLockLost) {
		t.Errorf("check after the lock's connection died: %v, want ErrLockLost", err)
	}
	stale.Release()
	if got, _, _ := binlog.LoadPosition(ctx, my.DB, binlog.PositionName); got != p {
		t.Errorf("position moved to %+v by a process without the lock", got)
	}
}

func TestCheckServerRefusesItsOwnServerID(t *testing.T) {
	my := stacktest.NewMySQL(t)
	ctx := context.Background()
	var id uint32
	if err := my.DB.QueryRowContext(ctx, `SELECT @@GLOBAL.server_id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if err := binlog.CheckServer(ctx, my.DB, id+1); err != nil {
		t.Errorf("the stack's server (ROW, FULL) refused: %v", err)
	}
	if err := binlog.CheckServer(ctx, my.DB, id); err == nil || !strings.Contains(err.Error(), "server_id") {
		t.Errorf("cdc with the server's own id: %v, want a refusal naming server_id", err)
	}
}
