package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/pagecache"
)

// chaosFlush is the kill kind that empties Redis with FLUSHALL while
// everything keeps running: the data loss cdc must see (its epoch key
// vc:epoch disappears) and recover from (internal/pagecache, "Redis data
// loss").
const chaosFlush = "flushall"

// The plain-SQL statement kinds, in the order the SQL writer cycles
// through them (a delete first, so even a short run has one early).
var sqlKinds = []string{"delete", "reject", "edit", "insert", "multi"}

// tracked is what the run knows a comment must be in MySQL: what was
// acknowledged last, by writesvc (post, moderation) or by a plain SQL
// statement that committed.
type tracked struct {
	ID, Video int64
	Key       string // Idempotency-Key of the post; "" for a plain-SQL insert
	Posted    string // content as posted (or inserted)
	Content   string // content expected now (Posted, or a plain-SQL edit)
	// Status expected now: "pending" after the post, then the last
	// acknowledged moderation action or statement. StatusUnknown: a
	// moderation request was given up unanswered, so it may or may not
	// have been applied.
	Status        string
	StatusUnknown bool
	LastBy        string // "post", "api" (moderation) or "sql": who set Status
	Mod           string // last acknowledged moderation action through the API
	Gone          bool   // hard-deleted by plain SQL: the row must be absent
	BySQL         bool   // inserted by plain SQL
	SQLOwned      bool   // status set by plain SQL: the moderators leave it alone
	EditedBySQL   bool
	// Uncertain: a plain-SQL statement on it was given up without an
	// answer; its expected state is unknown and it is not checked.
	Uncertain bool
	busy      bool // a moderator or the SQL writer is acting on it
}

// sqlStats counts what the plain-SQL writers committed.
type sqlStats struct {
	ByKind  map[string]int // statements acknowledged, by kind
	Rows    int64          // rows they changed (RowsAffected)
	GivenUp int            // statements given up without an answer (their comments are not checked)
	Retries int            // failed attempts retried (MariaDB restarts)
	Skipped int            // turns with nothing fitting to change
}

// sqlWriter runs hand-written statements against the run's MySQL database,
// as an operator would, mixed with the API writers and the moderators:
// DELETE of one comment, UPDATE status='rejected', UPDATE content, INSERT of
// an approved row (version left out: the trigger starts it), and multi-row
// UPDATEs (reject, edit or approve a few comments of one video at once).
// Every change reaches Kafka, Cassandra and Redis through MySQL's triggers
// and binlog only. A statement and the moderators never act on one
// comment at once (tracked.busy), so the last acknowledged change is what
// MySQL must hold.
func (r *chaosRun) sqlWriter(load, hardCtx context.Context, w int) {
	ids, err := comment.NewIDGenerator(comment.MaxNode-w, time.Now) // node numbers writesvc claims last
	if err != nil {
		r.logger.Error("sql writer ids", "err", err)
		return
	}
	multi := 0
	for n := w; load.Err() == nil; n++ {
		_ = sleepCtx(load, r.cfg.SQLGap)
		if load.Err() != nil {
			return
		}
		kind := sqlKinds[n%len(sqlKinds)]
		var ts []*tracked
		var q string
		var args []any
		var apply func(*tracked)
		approved := func(t *tracked) bool { return t.Status == "approved" }
		known := func(t *tracked) bool { return t.Status != "" }
		pending := func(t *tracked) bool { return t.Status == "pending" && !t.SQLOwned }
		r.mu.Lock()
		switch kind {
		case "delete":
			if ts = r.pickLocked(1, approved); ts == nil {
				ts = r.pickLocked(1, known)
			}
			if ts != nil {
				q, args = `DELETE FROM comments WHERE id = ?`, []any{ts[0].ID}
				apply = func(t *tracked) { t.Gone, t.LastBy = true, "sql" }
			}
		case "reject":
			if ts = r.pickLocked(1, approved); ts != nil {
				q, args = `UPDATE comments SET status = 'rejected', reason = 'plain sql' WHERE id = ?`, []any{ts[0].ID}
				apply = func(t *tracked) { t.Status, t.SQLOwned, t.LastBy = "rejected", true, "sql" }
			}
		case "edit":
			if ts = r.pickLocked(1, approved); ts == nil {
				ts = r.pickLocked(1, known)
			}
			if ts != nil {
				content := fmt.Sprintf("chaos %s sql edit %d #%d", r.runID, ts[0].ID, n)
				q, args = `UPDATE comments SET content = ? WHERE id = ?`, []any{content, ts[0].ID}
				apply = func(t *tracked) { t.Content, t.EditedBySQL = content, true }
			}
		case "insert":
			id, err := ids.Next()
			if err != nil {
				r.mu.Unlock()
				continue
			}
			now := time.Now().UTC().Truncate(time.Microsecond)
			t := &tracked{ID: id, Video: r.videos[rand.IntN(len(r.videos))], Status: "approved", LastBy: "sql", BySQL: true, SQLOwned: true, busy: true}
			t.Posted = fmt.Sprintf("chaos %s sql insert %d", r.runID, n)
			t.Content = t.Posted
			ts = []*tracked{t}
			q = `INSERT INTO comments (id, video_id, user_id, parent_id, content, status, created_at, updated_at) VALUES (?, ?, ?, 0, ?, 'approved', ?, ?)`
			args = []any{t.ID, t.Video, 900 + w, t.Posted, now, now}
			apply = func(t *tracked) {
				r.comments = append(r.comments, t)
				r.byID[t.ID] = t
				r.sqlInserted++
			}
		case "multi":
			size := 2 + rand.IntN(3)
			variant := []string{"reject", "edit", "approve"}[multi%3]
			multi++
			switch variant {
			case "reject":
				ts = r.pickLocked(size, approved)
				apply = func(t *tracked) { t.Status, t.SQLOwned, t.LastBy = "rejected", true, "sql" }
				q = `UPDATE comments SET status = 'rejected', reason = 'plain sql batch', updated_at = UTC_TIMESTAMP(6) WHERE id IN (%s)`
			case "edit":
				ts = r.pickLocked(size, known)
				tag := fmt.Sprintf("%s #%d", r.runID, n)
				apply = func(t *tracked) {
					t.Content, t.EditedBySQL = fmt.Sprintf("chaos sql batch edit %d %s", t.ID, tag), true
				}
				q = `UPDATE comments SET content = CONCAT('chaos sql batch edit ', id, ' ', ?), edited_at = UTC_TIMESTAMP(6), updated_at = UTC_TIMESTAMP(6) WHERE id IN (%s)`
				args = append(args, tag)
			case "approve":
				ts = r.pickLocked(size, pending)
				apply = func(t *tracked) { t.Status, t.SQLOwned, t.LastBy = "approved", true, "sql" }
				q = `UPDATE comments SET status = 'approved', reason = NULL WHERE id IN (%s)`
			}
			if ts != nil {
				q = fmt.Sprintf(q, strings.TrimSuffix(strings.Repeat("?, ", len(ts)), ", "))
				for _, t := range ts {
					args = append(args, t.ID)
				}
			}
		}
		if ts == nil {
			r.sql.Skipped++
			r.mu.Unlock()
			continue
		}
		r.mu.Unlock()
		rows, ok := r.execSQL(hardCtx, kind == "insert", q, args...)
		r.mu.Lock()
		for _, t := range ts {
			t.busy = false
			switch {
			case ok:
				apply(t)
			case kind == "insert": // the row may or may not exist
				t.Uncertain = true
				r.comments = append(r.comments, t)
				r.byID[t.ID] = t
			default:
				t.Uncertain = true
			}
		}
		if ok {
			r.sql.ByKind[kind]++
			r.sql.Rows += rows
		} else {
			r.sql.GivenUp++
			r.logger.Warn("plain SQL statement given up", "kind", kind, "query", q)
		}
		r.mu.Unlock()
	}
}

// pickLocked returns up to n comments of one video that fit and that no one
// is acting on, marked busy (r.mu held).
func (r *chaosRun) pickLocked(n int, fit func(*tracked) bool) []*tracked {
	if len(r.comments) == 0 {
		return nil
	}
	start := rand.IntN(len(r.comments))
	var out []*tracked
	for i := range len(r.comments) {
		t := r.comments[(start+i)%len(r.comments)]
		if t.busy || t.Gone || t.Uncertain || t.StatusUnknown || !fit(t) || (len(out) > 0 && t.Video != out[0].Video) {
			continue
		}
		out = append(out, t)
		if len(out) == n {
			break
		}
	}
	for _, t := range out {
		t.busy = true
	}
	return out
}

// execSQL runs one autocommit statement until MySQL answers it, retrying
// through restarts for up to RetryFor: every statement the writer sends is
// idempotent in its end state (a retried INSERT that finds its id taken
// committed the first time: the ids are the writer's own). ok false: given
// up, the outcome is unknown.
func (r *chaosRun) execSQL(ctx context.Context, insert bool, q string, args ...any) (int64, bool) {
	deadline := time.Now().Add(r.cfg.RetryFor)
	backoff := 100 * time.Millisecond
	for tries := 0; ; tries++ {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		res, err := r.c.DB.ExecContext(sctx, q, args...)
		cancel()
		if err == nil {
			n, _ := res.RowsAffected()
			return n, true
		}
		var me *mysql.MySQLError
		if errors.As(err, &me) {
			switch {
			case me.Number == 1062 && insert && tries > 0:
				return 1, true // the first attempt committed
			case me.Number == 1064 || me.Number == 1054 || me.Number == 1146 || me.Number == 1062 || me.Number == 3819 || me.Number == 4025:
				r.logger.Error("plain SQL statement refused", "query", q, "err", err)
				return 0, false
			}
		}
		r.mu.Lock()
		r.sql.Retries++
		r.mu.Unlock()
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, false
		}
		_ = sleepCtx(ctx, backoff)
		backoff = min(2*backoff, time.Second)
	}
}

// flushRedis empties the run's Redis with FLUSHALL (every master of a
// Redis Cluster), then waits until cdc has seen the loss and recovered.
func (r *chaosRun) flushRedis(ctx context.Context) error {
	var err error
	if cc, ok := r.c.Redis.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return m.FlushAll(ctx).Err() })
	} else {
		err = r.c.Redis.FlushAll(ctx).Err()
	}
	if err != nil {
		return fmt.Errorf("FLUSHALL: %w", err)
	}
	r.waitEpoch(ctx, chaosFlush)
	return nil
}

// waitEpoch waits (up to a minute) until Redis' epoch is "ok" again after a
// data loss: cdc has seen it and recovered. Informative: a slow recovery is
// logged, the final checks judge the outcome.
func (r *chaosRun) waitEpoch(ctx context.Context, what string) {
	pc := pagecache.New(r.c.Redis, pagecache.Options{})
	start := time.Now()
	for time.Since(start) < time.Minute && ctx.Err() == nil {
		if st, err := pc.Epoch(ctx); err == nil && st == pagecache.EpochOK {
			took := time.Since(start)
			r.mu.Lock()
			r.losses[what]++
			r.recoverMax = max(r.recoverMax, took)
			r.mu.Unlock()
			r.logger.Info("cdc recovered from the Redis data loss", "after", what, "took", took.Round(time.Millisecond))
			return
		}
		_ = sleepCtx(ctx, 50*time.Millisecond)
	}
	r.logger.Warn("Redis epoch not ok a minute after the data loss", "after", what)
	r.mu.Lock()
	r.losses[what+" (not recovered in 1m)"]++
	r.mu.Unlock()
}
