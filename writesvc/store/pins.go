package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/vidcomments/vidcomments/internal/comment"
)

// The statements of pins (schema/mysql/040).
const (
	selectPinVersion   = `SELECT version FROM video_pins WHERE video_id = ?`
	selectPinForUpdate = `SELECT comment_id, version FROM video_pins WHERE video_id = ? FOR UPDATE`
	upsertPin          = `INSERT INTO video_pins (video_id, comment_id, pinned_by, updated_at, version) VALUES (?, ?, ?, ?, ?)
		ON DUPLICATE KEY UPDATE comment_id = VALUES(comment_id), pinned_by = VALUES(pinned_by),
		updated_at = VALUES(updated_at), version = VALUES(version)`
)

// Errors of Pin beyond ErrNotFound.
var (
	ErrPinOtherVideo  = errors.New("the comment belongs to another video")
	ErrPinNotRoot     = errors.New("only a root comment can be pinned")
	ErrPinNotApproved = errors.New("only an approved comment can be pinned")
)

// PinChange pins CommentID on VideoID, or unpins (CommentID 0).
type PinChange struct {
	VideoID   int64
	CommentID int64 // 0: unpin
	ActorID   int64
}

// Pinned is the outcome of Pin.
type Pinned struct {
	Pin     comment.Pin // the video's pin after the call
	Changed bool        // false: it was already so; no event written
}

// Pin sets the video's one pinned comment, replacing the previous one, in
// one transaction with its "pinned" event. The comment must be an approved
// root comment of the video. Pinning what is pinned already, or unpinning
// a video without a pin, changes nothing.
func (s *Store) Pin(ctx context.Context, p PinChange) (Pinned, error) {
	return inTx(ctx, s, func(tx *sql.Tx) (Pinned, error) { return s.pin(ctx, tx, p) })
}

func (s *Store) pin(ctx context.Context, tx *sql.Tx, p PinChange) (Pinned, error) {
	if p.CommentID != 0 {
		c, err := lockComment(ctx, tx, selectCommentForShare, p.CommentID)
		switch {
		case err != nil:
			return Pinned{}, err
		case c.VideoID != p.VideoID:
			return Pinned{}, ErrPinOtherVideo
		case c.ParentID != 0:
			return Pinned{}, ErrPinNotRoot
		case c.Status != comment.Approved:
			return Pinned{}, ErrPinNotApproved
		}
	}
	var cur comment.Pin
	err := tx.QueryRowContext(ctx, selectPinForUpdate, p.VideoID).Scan(&cur.CommentID, &cur.Version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return Pinned{}, fmt.Errorf("read pin of video %d: %w", p.VideoID, err)
	}
	cur.VideoID = p.VideoID
	if cur.CommentID == p.CommentID {
		return Pinned{Pin: cur}, nil
	}
	now := s.clock()
	next := comment.Pin{VideoID: p.VideoID, CommentID: p.CommentID, Version: comment.NextVersion(cur.Version, now)}
	if _, err := tx.ExecContext(ctx, upsertPin, next.VideoID, next.CommentID, p.ActorID, now, next.Version); err != nil {
		return Pinned{}, fmt.Errorf("write pin of video %d: %w", p.VideoID, err)
	}
	// video_pins_version_bump may have moved the version further; the
	// trigger's event carries the row's.
	if err := tx.QueryRowContext(ctx, selectPinVersion, p.VideoID).Scan(&next.Version); err != nil {
		return Pinned{}, fmt.Errorf("read pin of video %d: %w", p.VideoID, err)
	}
	return Pinned{Pin: next, Changed: true}, nil
}
