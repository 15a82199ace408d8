package binlog

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/vidcomments/vidcomments/cdc/rowmap"
	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/pagecache"
)

// EpochCheckEvery is how often the applier reads Redis' epoch while changes
// flow or the binlog is idle: it bounds how long edits can land on windows
// refilled after a data loss before the loss is seen (those windows are
// dropped when it is).
const EpochCheckEvery = 100 * time.Millisecond

// EpochCache is what recovery needs of the page cache beyond Cache.
type EpochCache interface {
	Epoch(ctx context.Context) (string, error)
	SetEpoch(ctx context.Context, state string) error
	ScanVideos(ctx context.Context, fn func(video int64) error) error
	Invalidate(ctx context.Context, video int64) (int64, error)
	SetPending(ctx context.Context, video, user, id int64, body []byte) error
}

// lossGuard notices that Redis lost its data and carries cdc through it
// (the protocol is in internal/pagecache's package doc, "Redis data loss").
type lossGuard interface {
	// State is the epoch: pagecache.EpochOK, EpochRecovering or "" (lost).
	State(ctx context.Context) (string, error)
	// Begin marks the recovery in Redis, drops every cached video, puts the
	// pending comments back into their authors' views and returns the end
	// of the binlog: changes up to it are recorded with Change.Recovering.
	Begin(ctx context.Context) (Position, error)
	// Reached reports whether everything up to target has been applied once
	// the applier's position is p.
	Reached(p, target Position) bool
	// Durable reports whether the saved position is at or past target: a
	// restart from an earlier one would replay, without Recovering,
	// changes older than the loss, so the epoch is marked ok only then.
	Durable(ctx context.Context, target Position) (bool, error)
	// Finish marks Redis' memory whole again.
	Finish(ctx context.Context) error
}

// redisRecovery is the lossGuard of a running cdc.
type redisRecovery struct {
	cache  EpochCache
	db     *sql.DB
	flavor string
	m      *metrics
	log    *slog.Logger
}

func (r *redisRecovery) State(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	return r.cache.Epoch(ctx)
}

func (r *redisRecovery) Begin(ctx context.Context) (Position, error) {
	start := time.Now()
	if err := r.cache.SetEpoch(ctx, pagecache.EpochRecovering); err != nil {
		return Position{}, err
	}
	// The end of the binlog is read before anything is dropped: every change
	// committed before the loss was seen lies below it.
	end, err := MasterPosition(ctx, r.db, r.flavor)
	if err != nil {
		return Position{}, err
	}
	videos := 0
	if err := r.cache.ScanVideos(ctx, func(video int64) error {
		videos++
		_, err := r.cache.Invalidate(ctx, video)
		return err
	}); err != nil {
		return Position{}, err
	}
	pending, err := r.rebuildPending(ctx)
	if err != nil {
		return Position{}, err
	}
	r.log.Warn("redis lost its data: dropped every cached video, rebuilt the pending views; recording changes up to the binlog's end without editing windows",
		"videos_dropped", videos, "pending_rebuilt", pending, "until", end.String(), "took", time.Since(start))
	return end, nil
}

// selectPending reads the pending comments after an id, in id order.
const selectPending = `SELECT id, video_id, user_id, parent_id, content, status, created_at, edited_at, like_count, reply_count, version
	FROM comments WHERE status = 'pending' AND id > ? ORDER BY id LIMIT 1000`

// rebuildPending puts every pending comment into its author's private view,
// as Record would have. Changes replayed after it converge on the rows'
// current state, whatever their order relative to this read: each comment's
// later change takes it out again.
func (r *redisRecovery) rebuildPending(ctx context.Context) (int, error) {
	n := 0
	for after := int64(0); ; {
		rows, err := r.db.QueryContext(ctx, selectPending, after)
		if err != nil {
			return n, fmt.Errorf("read pending comments: %w", err)
		}
		var batch []comment.Comment
		for rows.Next() {
			var (
				c      comment.Comment
				status string
				edited sql.NullTime
			)
			if err := rows.Scan(&c.ID, &c.VideoID, &c.UserID, &c.ParentID, &c.Content, &status, &c.CreatedAt, &edited,
				&c.LikeCount, &c.ReplyCount, &c.Version); err != nil {
				rows.Close()
				return n, fmt.Errorf("read pending comments: %w", err)
			}
			c.Status = comment.Status(status)
			c.CreatedAt = c.CreatedAt.UTC()
			if edited.Valid {
				c.EditedAt = edited.Time.UTC()
			}
			batch = append(batch, c)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return n, fmt.Errorf("read pending comments: %w", err)
		}
		for _, c := range batch {
			if err := r.cache.SetPending(ctx, c.VideoID, c.UserID, c.ID, rowmap.Body(c)); err != nil {
				return n, err
			}
			n++
			r.m.pendingRebuilt.Inc()
		}
		if len(batch) < 1000 {
			return n, nil
		}
		after = batch[len(batch)-1].ID
	}
}

func (r *redisRecovery) Reached(p, target Position) bool {
	if p.GTID != "" && target.GTID != "" {
		ps, err1 := gomysql.ParseGTIDSet(r.flavor, p.GTID)
		ts, err2 := gomysql.ParseGTIDSet(r.flavor, target.GTID)
		if err1 == nil && err2 == nil {
			return ps.Contain(ts)
		}
	}
	return atOrPast(p, target)
}

func (r *redisRecovery) Durable(ctx context.Context, target Position) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	p, ok, err := LoadPosition(ctx, r.db, PositionName)
	if err != nil || !ok {
		return false, err
	}
	return r.Reached(p, target), nil
}

func (r *redisRecovery) Finish(ctx context.Context) error {
	return r.cache.SetEpoch(ctx, pagecache.EpochOK)
}

// atOrPast compares binlog file and offset: file names of one server
// number up.
func atOrPast(p, target Position) bool {
	pf, tf := p.FileNumber(), target.FileNumber()
	if pf < 0 || tf < 0 {
		if p.File != target.File {
			return p.File > target.File
		}
	} else if pf != tf {
		return pf > tf
	}
	return p.Offset >= target.Offset
}
