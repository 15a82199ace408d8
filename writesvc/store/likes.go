package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/vidcomments/vidcomments/internal/comment"
)

// The statements of likes. None locks or changes the comments row: the
// status check is a plain consistent read, so a like storm on one comment
// only ever inserts distinct comment_likes keys.
const (
	selectLikeTarget = `SELECT video_id, status FROM comments WHERE id = ?`
	// insertLike inserts nothing when the user already likes the comment
	// (INSERT IGNORE on the primary key) or is banned.
	insertLike = `INSERT IGNORE INTO comment_likes (comment_id, user_id, video_id, created_at)
		SELECT ?, ?, ?, ? FROM DUAL
		WHERE NOT EXISTS (SELECT 1 FROM user_bans WHERE user_id = ? AND (expires_at IS NULL OR expires_at > NOW(6)))`
	deleteLike   = `DELETE FROM comment_likes WHERE comment_id = ? AND user_id = ?`
	selectBanned = `SELECT COUNT(*) FROM user_bans WHERE user_id = ? AND (expires_at IS NULL OR expires_at > NOW(6))`
)

// Like is one user liking or unliking a comment.
type Like struct {
	CommentID int64
	UserID    int64
	Liked     bool // true: like (PUT), false: unlike (DELETE)
}

// Liked is the outcome of SetLike.
type Liked struct {
	VideoID int64
	Changed bool // a comment_likes row was inserted or deleted, and a "like" event written
}

// SetLike makes the user like (or not like) the comment. Only an approved
// comment can be liked or unliked (ErrNotFound otherwise); a banned user
// cannot like (ErrBanned) but may still take a like back. Repeating a call
// changes nothing and writes no event.
func (s *Store) SetLike(ctx context.Context, l Like) (Liked, error) {
	return inTx(ctx, s, func(tx *sql.Tx) (Liked, error) { return s.setLike(ctx, tx, l) })
}

func (s *Store) setLike(ctx context.Context, tx *sql.Tx, l Like) (Liked, error) {
	var video int64
	var status string
	err := tx.QueryRowContext(ctx, selectLikeTarget, l.CommentID).Scan(&video, &status)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Liked{}, ErrNotFound
	case err != nil:
		return Liked{}, fmt.Errorf("read comment %d: %w", l.CommentID, err)
	case comment.Status(status) != comment.Approved:
		return Liked{}, ErrNotFound
	}
	var res sql.Result
	if l.Liked {
		res, err = tx.ExecContext(ctx, insertLike, l.CommentID, l.UserID, video, s.clock(), l.UserID)
	} else {
		res, err = tx.ExecContext(ctx, deleteLike, l.CommentID, l.UserID)
	}
	if err != nil {
		return Liked{}, fmt.Errorf("like comment %d: %w", l.CommentID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return Liked{}, fmt.Errorf("like comment %d: %w", l.CommentID, err)
	}
	if n == 0 {
		if l.Liked {
			var banned int
			if err := tx.QueryRowContext(ctx, selectBanned, l.UserID).Scan(&banned); err != nil {
				return Liked{}, fmt.Errorf("read bans: %w", err)
			}
			if banned > 0 {
				return Liked{}, ErrBanned
			}
		}
		return Liked{VideoID: video}, nil
	}
	return Liked{VideoID: video, Changed: true}, nil
}
