package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// QueueQuery selects a page of the moderation queue.
type QueueQuery struct {
	VideoID int64 // 0: every video
	AfterID int64 // the page starts after this id (0: from the oldest)
	Limit   int
}

// Queue returns pending comments, oldest (lowest id) first.
func (s *Store) Queue(ctx context.Context, q QueueQuery) ([]Queued, error) {
	var rows *sql.Rows
	var err error
	if q.VideoID != 0 {
		rows, err = s.db.QueryContext(ctx, selectQueueByVideo, q.VideoID, q.AfterID, q.Limit)
	} else {
		rows, err = s.db.QueryContext(ctx, selectQueue, q.AfterID, q.Limit)
	}
	if err != nil {
		return nil, fmt.Errorf("read queue: %w", err)
	}
	defer rows.Close()
	out := []Queued{}
	for rows.Next() {
		q, err := scanQueued(rows)
		if err != nil {
			return nil, fmt.Errorf("read queue: %w", err)
		}
		out = append(out, q)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read queue: %w", err)
	}
	return out, nil
}

// Ban is one user's ban.
type Ban struct {
	UserID    int64
	Reason    string
	BannedBy  int64
	CreatedAt time.Time
	ExpiresAt *time.Time // nil: permanent
}

// Ban bans a user from posting (replacing an earlier ban of theirs).
func (s *Store) Ban(ctx context.Context, b Ban) (Ban, error) {
	b.CreatedAt = s.clock()
	var exp any
	if b.ExpiresAt != nil {
		t := b.ExpiresAt.UTC().Truncate(time.Microsecond)
		b.ExpiresAt, exp = &t, t
	}
	if _, err := s.db.ExecContext(ctx, upsertBan, b.UserID, b.Reason, b.BannedBy, b.CreatedAt, exp); err != nil {
		return Ban{}, fmt.Errorf("ban user %d: %w", b.UserID, err)
	}
	return b, nil
}

// Unban lifts a user's ban; it reports whether there was one.
func (s *Store) Unban(ctx context.Context, userID int64) (bool, error) {
	res, err := s.db.ExecContext(ctx, deleteBan, userID)
	if err != nil {
		return false, fmt.Errorf("unban user %d: %w", userID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("unban user %d: %w", userID, err)
	}
	return n > 0, nil
}
