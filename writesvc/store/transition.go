package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/vidcomments/vidcomments/internal/comment"
)

// Action is a moderation action on one comment.
type Action string

// The actions.
const (
	Approve Action = "approve"
	Reject  Action = "reject"
	Delete  Action = "delete"
)

// ParseAction returns the Action named s.
func ParseAction(s string) (Action, bool) {
	switch a := Action(s); a {
	case Approve, Reject, Delete:
		return a, true
	}
	return "", false
}

// Next returns the status after applying a to a comment in status from;
// changed is false when the comment is already there (the action is then a
// no-op, answered with success). ErrInvalidTransition: a deleted comment
// can only be deleted again.
//
//	from \ action   approve    reject     delete
//	pending         approved   rejected   deleted
//	approved        (no-op)    rejected   deleted
//	rejected        approved   (no-op)    deleted
//	deleted         409        409        (no-op)
func Next(from comment.Status, a Action) (to comment.Status, changed bool, err error) {
	switch a {
	case Approve:
		to = comment.Approved
	case Reject:
		to = comment.Rejected
	case Delete:
		to = comment.Deleted
	default:
		return "", false, fmt.Errorf("unknown action %q", a)
	}
	switch {
	case from == to:
		return to, false, nil
	case from == comment.Deleted:
		return "", false, fmt.Errorf("%w: %s a deleted comment", ErrInvalidTransition, a)
	}
	return to, true, nil
}

// Change is one moderation action on one comment.
type Change struct {
	CommentID  int64
	Action     Action
	ActorID    int64
	ActorRole  string // recorded in moderation_log
	Reason     string // stored on the comment for reject and delete; cleared by approve
	AuthorOnly bool   // the actor must be the author (a user deleting their own comment)
}

// Changed is the outcome of Transition.
type Changed struct {
	Comment comment.Comment // the row after the change (or as it was, for a no-op)
	Changed bool
}

// Transition applies one change in one transaction: the row (locked, its
// version moved on), its event in the outbox, a moderation_log entry, and
// the parent's reply_count when a reply appears or disappears.
func (s *Store) Transition(ctx context.Context, ch Change) (Changed, error) {
	return s.changeComment(ctx, ch.CommentID, func(tx *sql.Tx, c comment.Comment) (Changed, error) {
		return s.transition(ctx, tx, c, ch)
	})
}

// changeComment runs fn in a transaction (inTx) on comment id, read under a
// lock for update (ErrNotFound when there is no such comment).
func (s *Store) changeComment(ctx context.Context, id int64, fn func(*sql.Tx, comment.Comment) (Changed, error)) (Changed, error) {
	return inTx(ctx, s, func(tx *sql.Tx) (Changed, error) {
		c, err := lockComment(ctx, tx, selectCommentForUpdate, id)
		if err != nil {
			return Changed{}, err
		}
		return fn(tx, c)
	})
}

func (s *Store) transition(ctx context.Context, tx *sql.Tx, c comment.Comment, ch Change) (Changed, error) {
	if ch.AuthorOnly && c.UserID != ch.ActorID {
		return Changed{}, ErrNotAuthor
	}
	to, changed, err := Next(c.Status, ch.Action)
	if err != nil || !changed {
		return Changed{Comment: c}, err
	}
	var reason any // NULL
	if ch.Action != Approve && ch.Reason != "" {
		reason = ch.Reason
	}
	now := s.clock()
	if _, err := tx.ExecContext(ctx, updateStatus, string(to), reason, now, comment.NextVersion(c.Version, now), c.ID); err != nil {
		return Changed{}, fmt.Errorf("update comment %d: %w", c.ID, err)
	}
	after, err := lockComment(ctx, tx, selectComment, c.ID) // the trigger may have moved version further
	if err != nil {
		return Changed{}, err
	}
	if _, err := tx.ExecContext(ctx, insertModerationLog, c.ID, ch.ActorID, ch.ActorRole, string(ch.Action),
		string(c.Status), string(to), reason, after.Version, now); err != nil {
		return Changed{}, fmt.Errorf("moderation log: %w", err)
	}
	if was, is := c.Status == comment.Approved, to == comment.Approved; c.ParentID != 0 && was != is {
		delta := -1
		if is {
			delta = +1
		}
		parent, err := lockComment(ctx, tx, selectCommentForUpdate, c.ParentID)
		switch {
		case errors.Is(err, ErrNotFound): // the parent row is gone (removed by hand): nothing to count
		case err != nil:
			return Changed{}, err
		default:
			if err := s.bumpReplies(ctx, tx, parent, delta, now); err != nil {
				return Changed{}, err
			}
		}
	}
	return Changed{Comment: after, Changed: true}, nil
}
