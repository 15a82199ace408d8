package main

// Tests of cdc as real processes against the real stack: built into
// t.TempDir(), started, stopped with SIGTERM and killed with SIGKILL.

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/cdc/binlog"
	"github.com/vidcomments/vidcomments/cdc/internal/cdctest"
	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/proctest"
	"github.com/vidcomments/vidcomments/internal/stacktest"
)

// cdcEnv points a cdc process at a private database and a Redis.
func cdcEnv(my *stacktest.MySQL, redisAddr string) []string {
	env := []string{
		"VC_MYSQL_DSN=" + my.Config.DSN,
		"VC_MYSQL_FLAVOR=" + my.Config.Flavor,
		"VC_CDC_ADMIN_ADDR=127.0.0.1:0",
		"VC_CDC_SERVER_ID=0", // derive one per process
	}
	if redisAddr != "" {
		env = append(env, "VC_REDIS_ADDR="+redisAddr)
	}
	return env
}

// proc is one cdc process and the address of its admin listener.
type proc struct {
	*proctest.Proc
	t     *testing.T
	admin string
}

func startCDC(t *testing.T, name, bin string, env []string, args ...string) *proc {
	t.Helper()
	return &proc{Proc: proctest.Start(t, name, bin, env, args...), t: t}
}

// waitAdmin waits for the admin listener's address.
func (p *proc) waitAdmin() {
	p.t.Helper()
	p.admin = p.Addr("admin")
}

// metric reads a metric from /metrics: the sum of its series.
func (p *proc) metric(name string) float64 {
	p.t.Helper()
	sum, _ := proctest.Metric(p.t, p.admin, name)
	return sum
}

// waitLeading waits until the process leads and follows the binlog from a
// saved position.
func (p *proc) waitLeading(db *sql.DB) {
	p.t.Helper()
	p.waitAdmin()
	cdctest.Eventually(p.t, 30*time.Second, p.Name+" leads", func() bool {
		_, saved, err := binlog.LoadPosition(context.Background(), db, binlog.PositionName)
		return err == nil && saved && p.metric("cdc_leader") == 1 && p.Logged("following the binlog") != nil
	})
}

// stop sends sig and waits for the exit; it returns the exit code (-1 for
// a death by signal).
func (p *proc) stop(sig syscall.Signal) int {
	p.t.Helper()
	_ = p.Signal(sig)
	return p.ExitCode()
}

// writer changes comment rows with plain SQL, as fast as MySQL takes them,
// until stopped: inserts (pending or approved), approvals, rejections,
// author deletions, edits, likes, hard deletes and two-row transactions.
type writer struct {
	ops  atomic.Int64
	stop chan struct{}
	done chan error
}

func startWriter(t *testing.T, db *sql.DB, videos []int64, firstID int64) *writer {
	w := &writer{stop: make(chan struct{}), done: make(chan error, 1)}
	go func() { w.done <- w.run(db, videos, firstID) }()
	t.Cleanup(func() { w.halt(t) })
	return w
}

func (w *writer) run(db *sql.DB, videos []int64, next int64) error {
	ctx := context.Background()
	ids := map[int64][]int64{}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for {
		select {
		case <-w.stop:
			return nil
		default:
		}
		video := videos[rng.IntN(len(videos))]
		pick := func() int64 {
			if len(ids[video]) == 0 {
				return 0
			}
			return ids[video][rng.IntN(len(ids[video]))]
		}
		var err error
		switch op := rng.IntN(20); {
		case op < 6 || pick() == 0:
			status := comment.Pending
			if rng.IntN(2) == 0 {
				status = comment.Approved
			}
			now := time.Now().UTC()
			_, err = db.ExecContext(ctx, `INSERT INTO comments (id, video_id, user_id, parent_id, content, status, created_at, updated_at, version)
				VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?)`, next, video, 4200+next%5, fmt.Sprintf("comment %d", next), string(status), now, now, now.UnixMicro())
			ids[video] = append(ids[video], next)
			next++
		case op < 10:
			_, err = db.ExecContext(ctx, `UPDATE comments SET status = 'approved' WHERE id = ?`, pick())
		case op < 13:
			_, err = db.ExecContext(ctx, `UPDATE comments SET status = 'rejected', reason = 'spam' WHERE id = ?`, pick())
		case op < 14:
			_, err = db.ExecContext(ctx, `UPDATE comments SET status = 'deleted' WHERE id = ?`, pick())
		case op < 16:
			_, err = db.ExecContext(ctx, `UPDATE comments SET content = CONCAT(content, ' (edited)') WHERE id = ?`, pick())
		case op < 18:
			_, err = db.ExecContext(ctx, `UPDATE comments SET like_count = like_count + 1 WHERE id = ?`, pick())
		case op < 19:
			_, err = db.ExecContext(ctx, `DELETE FROM comments WHERE id = ?`, pick())
		default:
			err = w.twoRowTx(ctx, db, pick(), pick())
		}
		if err != nil {
			return err
		}
		w.ops.Add(1)
		time.Sleep(time.Millisecond) // leave the two cores some air
	}
}

func (w *writer) twoRowTx(ctx context.Context, db *sql.DB, a, b int64) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE comments SET status = 'approved' WHERE id = ?`, a); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE comments SET status = 'rejected' WHERE id = ?`, b); err != nil {
		return err
	}
	return tx.Commit()
}

// waitOps waits until the writer has done n more operations.
func (w *writer) waitOps(t *testing.T, n int64) {
	t.Helper()
	target := w.ops.Load() + n
	cdctest.Eventually(t, 60*time.Second, fmt.Sprintf("writer reaches %d operations", target), func() bool {
		select {
		case err := <-w.done:
			t.Fatalf("writer stopped: %v", err)
		default:
		}
		return w.ops.Load() >= target
	})
}

func (w *writer) halt(t *testing.T) {
	select {
	case <-w.stop:
		return
	default:
	}
	close(w.stop)
	if err := <-w.done; err != nil {
		t.Errorf("writer: %v", err)
	}
}

// seed gives each video approved and pending comments and caches its
// window as readsvc would; it returns the newest version written.
func seed(t *testing.T, my *stacktest.MySQL, cache *pagecache.Cache, videos []int64) int64 {
	t.Helper()
	id := int64(1)
	for _, v := range videos {
		for i := 0; i < 15; i++ {
			status := comment.Approved
			if i%3 == 0 {
				status = comment.Pending
			}
			cdctest.Insert(t, my.DB, id, v, status, fmt.Sprintf("seed %d", id))
			id++
		}
	}
	var since int64
	if err := my.DB.QueryRow(`SELECT MAX(version) FROM comments`).Scan(&since); err != nil {
		t.Fatal(err)
	}
	for _, v := range videos {
		cdctest.Fill(t, cache, my.DB, v)
	}
	return since
}

func videos(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = cdctest.Video()
	}
	return out
}

// rig is one test's private database with videos seeded and cached on the
// shared Redis, and the cdc binary with the environment pointing at both.
type rig struct {
	my    *stacktest.MySQL
	cache *pagecache.Cache
	vs    []int64
	since int64 // the newest version seeded
	bin   string
	env   []string
}

func newRig(t *testing.T, n int) *rig {
	t.Helper()
	r := &rig{my: stacktest.NewMySQL(t), cache: pagecache.New(stacktest.Redis(t), pagecache.Options{}), vs: videos(n)}
	r.since = seed(t, r.my, r.cache, r.vs)
	r.bin, r.env = stacktest.Build(t, "./cdc"), cdcEnv(r.my, "")
	return r
}

// cdc restarted mid-stream — once gracefully, once killed — while plain-SQL
// writes flow, misses nothing: at the end every cached window and overlay
// agrees with MySQL.
func TestRestartMidStreamMissesNothing(t *testing.T) {
	r := newRig(t, 4)

	p := startCDC(t, "cdc#1", r.bin, r.env)
	p.waitLeading(r.my.DB)
	w := startWriter(t, r.my.DB, r.vs, 10_000)
	for i, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		// Changes flow through the running cdc until it has saved its
		// position mid-stream twice: the restart resumes from the middle.
		w.waitOps(t, 200)
		cdctest.Eventually(t, 30*time.Second, p.Name+" saves its position mid-stream", func() bool {
			return p.metric("cdc_position_saves_total") >= 2
		})
		code := p.stop(sig)
		if sig == syscall.SIGTERM && (code != 0 || p.Logged("stopped") == nil) {
			t.Fatalf("SIGTERM: exit code %d, want a clean stop\n%s", code, p.Log())
		}
		w.waitOps(t, 100) // changes made while no cdc runs
		p = startCDC(t, fmt.Sprintf("cdc#%d", i+2), r.bin, r.env)
		p.waitLeading(r.my.DB)
		t.Logf("%s resumes from %v", p.Name, p.Logged("following the binlog")["from"])
	}
	w.waitOps(t, 100)
	w.halt(t)
	t.Logf("%d plain-SQL changes across a SIGTERM and a SIGKILL restart", w.ops.Load())
	cdctest.WaitAgree(t, r.cache, r.my.DB, r.vs, r.since, 30*time.Second)
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("final SIGTERM: exit code %d", code)
	}
}

// Two cdc processes: one acts, the other stands by doing nothing; kill the
// active one and the other takes over without missing a change.
func TestStandbyTakesOverWhenTheLeaderDies(t *testing.T) {
	r := newRig(t, 3)

	a, b := startCDC(t, "cdc-a", r.bin, r.env), startCDC(t, "cdc-b", r.bin, r.env)
	a.waitAdmin()
	b.waitAdmin()
	var leader, standby *proc
	cdctest.Eventually(t, 30*time.Second, "exactly one leader", func() bool {
		la, lb := a.metric("cdc_leader"), b.metric("cdc_leader")
		switch {
		case la == 1 && lb == 0 && b.Logged("standing by: another cdc holds the leader lock") != nil:
			leader, standby = a, b
		case lb == 1 && la == 0 && a.Logged("standing by: another cdc holds the leader lock") != nil:
			leader, standby = b, a
		}
		return leader != nil
	})
	leader.waitLeading(r.my.DB)

	w := startWriter(t, r.my.DB, r.vs, 10_000)
	w.waitOps(t, 200)
	cdctest.Eventually(t, 10*time.Second, "the leader applies changes", func() bool { return leader.metric("cdc_row_changes_total") > 0 })
	if n, ev, l := standby.metric("cdc_row_changes_total"), standby.metric("cdc_binlog_row_events_total"), standby.metric("cdc_leader"); n != 0 || ev != 0 || l != 0 {
		t.Fatalf("the standby acted: %v changes, %v row events, leader=%v", n, ev, l)
	}

	killed := time.Now()
	leader.stop(syscall.SIGKILL)
	cdctest.Eventually(t, 30*time.Second, "the standby takes over", func() bool { return standby.metric("cdc_leader") == 1 })
	t.Logf("standby leads %v after the leader was killed", time.Since(killed).Round(time.Millisecond))
	w.waitOps(t, 200)
	w.halt(t)
	cdctest.WaitAgree(t, r.cache, r.my.DB, r.vs, r.since, 30*time.Second)
	if standby.metric("cdc_row_changes_total") == 0 {
		t.Error("the new leader applied no change")
	}

	// A standby stops cleanly on SIGTERM while it waits for the lock.
	c := startCDC(t, "cdc-c", r.bin, r.env)
	c.waitAdmin()
	cdctest.Eventually(t, 10*time.Second, "cdc-c stands by", func() bool {
		return c.Logged("standing by: another cdc holds the leader lock") != nil
	})
	if code := c.stop(syscall.SIGTERM); code != 0 || c.Logged("stopped") == nil {
		t.Errorf("standby SIGTERM: exit %d\n%s", code, c.Log())
	}
	if code := standby.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("leader SIGTERM: exit %d", code)
	}
}

// A saved position the server no longer has stops cdc with a message naming
// the recovery command; that command refuses while a cdc holds the lock,
// otherwise saves the current position and invalidates every cached video,
// after which cdc runs again.
func TestPurgedPositionAndItsRecovery(t *testing.T) {
	my := stacktest.NewMySQL(t)
	pr := stacktest.NewPrivateRedis(t) // reset-position invalidates every cached video
	redisAddr, rdb := pr.Addr, pr.Client
	cache := pagecache.New(rdb, pagecache.Options{})
	ctx := context.Background()
	vs := videos(2)
	seed(t, my, cache, vs)
	versions := map[int64]int64{}
	for _, v := range vs {
		versions[v], _ = cache.Version(ctx, v)
	}
	bin := stacktest.Build(t, "./cdc")
	env := cdcEnv(my, redisAddr)

	tests := []struct {
		name       string
		file, gtid string
		want       string
	}{
		{"binlog file gone", "binlog.000000", "", "binlog file binlog.000000 is no longer on the server"},
		// A GTID past the end of the binlog: the server refuses it with the
		// error a purged one gets (1236), which the stack cannot produce
		// without purging logs other tests use.
		{"GTID the binlog does not hold", "binlog.000000", "0-1-4000000000", "the server refused to send it (error 1236"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gtid := sql.NullString{String: tt.gtid, Valid: tt.gtid != ""}
			if _, err := my.DB.ExecContext(ctx, `REPLACE INTO cdc_position (name, binlog_file, binlog_pos, gtid_set, updated_at) VALUES (?, ?, 4, ?, NOW(6))`,
				binlog.PositionName, tt.file, gtid); err != nil {
				t.Fatal(err)
			}
			p := startCDC(t, "cdc", bin, env)
			_ = p.Wait(60 * time.Second)
			if code := p.ExitCode(); code != 1 {
				t.Fatalf("exit code %d, want 1\n%s", code, p.Log())
			}
			if l := p.Logged("stopped with error"); l != nil {
				t.Logf("cdc exits with: %v", l["err"])
			}
			for _, want := range []string{tt.want, "cannot be resumed", "`cdc reset-position`"} {
				if !strings.Contains(p.Log(), want) {
					t.Errorf("log lacks %q:\n%s", want, p.Log())
				}
			}
		})
	}

	reset := func() (int, string) { return proctest.Run(t, bin, env, resetSubcommand) }
	t.Run("reset refuses while a cdc holds the lock", func(t *testing.T) {
		before, _, err := binlog.LoadPosition(ctx, my.DB, binlog.PositionName)
		if err != nil {
			t.Fatal(err)
		}
		lock, err := binlog.TryLock(ctx, my.DB, binlog.LockName(my.Name))
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Release()
		if code, out := reset(); code == 0 || !strings.Contains(out, "a cdc is running") {
			t.Errorf("reset under a held lock: exit %d\n%s", code, out)
		}
		if p, _, _ := binlog.LoadPosition(ctx, my.DB, binlog.PositionName); p != before {
			t.Errorf("the refused reset moved the position to %+v", p)
		}
	})
	t.Run("reset saves the current position and invalidates every cached video", func(t *testing.T) {
		if code, out := reset(); code != 0 {
			t.Fatalf("reset: exit %d\n%s", code, out)
		}
		p, ok, err := binlog.LoadPosition(ctx, my.DB, binlog.PositionName)
		if err != nil || !ok {
			t.Fatalf("no position after the reset: %v", err)
		}
		files, err := binlog.BinaryLogs(ctx, my.DB)
		if err != nil || !strings.Contains(strings.Join(files, " "), p.File) {
			t.Errorf("reset position %+v is not on the server (%v, %v)", p, files, err)
		}
		for _, v := range vs {
			page, err := cache.Read(ctx, v, 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			if page.Cached || page.Version <= versions[v] {
				t.Errorf("video %d: cached=%v version %d (was %d): want pages dropped and the version bumped", v, page.Cached, page.Version, versions[v])
			}
		}
	})
	t.Run("cdc runs again and follows changes", func(t *testing.T) {
		p := startCDC(t, "cdc", bin, env)
		p.waitLeading(my.DB)
		if _, err := my.DB.ExecContext(ctx, `UPDATE comments SET status = 'rejected' WHERE id = 2`); err != nil {
			t.Fatal(err)
		}
		var version int64
		if err := my.DB.QueryRowContext(ctx, `SELECT version FROM comments WHERE id = 2`).Scan(&version); err != nil {
			t.Fatal(err)
		}
		cdctest.Eventually(t, 15*time.Second, "the change reaches the overlay", func() bool {
			ov, err := cache.Overlay(ctx, vs[0])
			return err == nil && ov[2].Version == version && !ov[2].Visible
		})
		if code := p.stop(syscall.SIGTERM); code != 0 {
			t.Errorf("SIGTERM: exit %d\n%s", code, p.Log())
		}
	})
}
