package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/vidcomments/vidcomments/internal/comment"
)

// updateContent is an edit: new content, edited_at, a version bump. The
// status is left as it is.
const updateContent = `UPDATE comments SET content = ?, edited_at = ?, updated_at = ?, version = ? WHERE id = ?`

// Errors of Edit beyond ErrNotFound, ErrNotAuthor and ErrBanned.
var (
	ErrEditWindowClosed = errors.New("the edit window of this comment has closed")
	ErrNotEditable      = errors.New("a rejected or deleted comment cannot be edited")
)

// Edit is an author changing their comment's content.
type Edit struct {
	CommentID int64
	UserID    int64
	Content   string        // validated and normalised
	Window    time.Duration // how long after created_at edits are allowed
}

// Edit replaces the content of the author's comment within the edit window,
// with an "edited" event, in one transaction. The same content again is a
// no-op (Changed false, no event). Pending and approved comments can be
// edited; the status does not change.
func (s *Store) Edit(ctx context.Context, e Edit) (Changed, error) {
	return s.changeComment(ctx, e.CommentID, func(tx *sql.Tx, c comment.Comment) (Changed, error) {
		return s.edit(ctx, tx, c, e)
	})
}

func (s *Store) edit(ctx context.Context, tx *sql.Tx, c comment.Comment, e Edit) (Changed, error) {
	now := s.clock()
	switch {
	case c.UserID != e.UserID:
		return Changed{}, ErrNotAuthor
	case c.Status != comment.Pending && c.Status != comment.Approved:
		return Changed{}, ErrNotEditable
	case now.Sub(c.CreatedAt) > e.Window:
		return Changed{}, ErrEditWindowClosed
	case c.Content == e.Content:
		return Changed{Comment: c}, nil
	}
	var banned int
	if err := tx.QueryRowContext(ctx, selectBanned, e.UserID).Scan(&banned); err != nil {
		return Changed{}, fmt.Errorf("read bans: %w", err)
	}
	if banned > 0 {
		return Changed{}, ErrBanned
	}
	if _, err := tx.ExecContext(ctx, updateContent, e.Content, now, now, comment.NextVersion(c.Version, now), c.ID); err != nil {
		return Changed{}, fmt.Errorf("edit comment %d: %w", c.ID, err)
	}
	after, err := lockComment(ctx, tx, selectComment, c.ID) // the trigger may have moved version further
	if err != nil {
		return Changed{}, err
	}
	return Changed{Comment: after, Changed: true}, nil
}
