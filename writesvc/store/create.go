package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/vidcomments/vidcomments/internal/comment"
)

// Post is a new comment to create.
type Post struct {
	VideoID  int64
	UserID   int64
	ParentID int64 // 0 for a root comment
	Content  string
	Status   comment.Status // Pending (pre-moderation) or Approved (post-moderation), or Pending when held
	Safety   Safety         // the content-safety verdict it was staged with (zero: allowed, nothing to say)

	// IdempotencyKey, when not "", binds this post to the key: RequestHash
	// identifies the request, and Response renders the response stored for
	// replays (called inside the transaction, with the row about to commit).
	IdempotencyKey string
	RequestHash    [32]byte
	Response       func(comment.Comment) (code int, body []byte)
}

// Created is the outcome of Create.
type Created struct {
	Comment  comment.Comment // zero when Replayed
	Replayed bool            // the key was used before for the same request
	Code     int             // the stored response, when Replayed or when Response was given
	Body     []byte
}

// Stored is the first response to a post made with an idempotency key.
type Stored struct {
	RequestHash []byte
	Code        int
	Body        []byte
}

// Matches reports whether a request with hash h is the stored one.
func (s Stored) Matches(h [32]byte) bool { return equalHash(s.RequestHash, h[:]) }

// Idempotent returns the stored response of userID's request with key, if
// there is one.
func (s *Store) Idempotent(ctx context.Context, userID int64, key string) (Stored, bool, error) {
	var st Stored
	err := s.db.QueryRowContext(ctx, selectIdempotent, userID, key).Scan(&st.RequestHash, &st.Code, &st.Body)
	if errors.Is(err, sql.ErrNoRows) {
		return Stored{}, false, nil
	}
	if err != nil {
		return Stored{}, false, fmt.Errorf("read idempotency key: %w", err)
	}
	return st, true, nil
}

// Create stores a new comment with its "created" event, unless the author
// is banned (ErrBanned) or the parent, if any, is not an approved comment
// of the same video. A reply to a reply is attached to that reply's root
// (two levels, as large video sites show them): the stored parent_id is
// the root's. If the idempotency key was used before, it
// returns the stored response (same request) or ErrIdempotencyConflict.
func (s *Store) Create(ctx context.Context, p Post) (Created, error) {
	for range txAttempts {
		id, err := s.ids.NextID()
		if err != nil {
			return Created{}, fmt.Errorf("comment id: %w", err)
		}
		out, err := inTx(ctx, s, func(tx *sql.Tx) (Created, error) { return s.create(ctx, tx, id, p) })
		var dup *duplicateError
		if !errors.As(err, &dup) {
			return out, err
		}
		switch dup.key {
		case "PRIMARY":
			continue // a reused node minted an id that exists: take a fresh one
		case "comments_idempotency":
		default:
			return Created{}, dup
		}
		// The key was committed by a concurrent request meanwhile (InnoDB
		// made this insert wait for it): answer as a replay would.
		st, ok, err := s.Idempotent(ctx, p.UserID, p.IdempotencyKey)
		if err != nil {
			return Created{}, err
		}
		if !ok {
			return Created{}, fmt.Errorf("idempotency key %q: duplicate without a stored response", p.IdempotencyKey)
		}
		if !st.Matches(p.RequestHash) {
			return Created{}, ErrIdempotencyConflict
		}
		return Created{Replayed: true, Code: st.Code, Body: st.Body}, nil
	}
	return Created{}, fmt.Errorf("insert comment: %d fresh ids collided", txAttempts)
}

// duplicateError is an insert into comments that hit the unique key named
// key.
type duplicateError struct {
	key string
	err error
}

func (e *duplicateError) Error() string {
	return "insert comment: duplicate " + e.key + ": " + e.err.Error()
}
func (e *duplicateError) Unwrap() error { return e.err }

func (s *Store) create(ctx context.Context, tx *sql.Tx, id int64, p Post) (Created, error) {
	var parent comment.Comment
	if p.ParentID != 0 {
		var err error
		if parent, err = s.lockParent(ctx, tx, p); err != nil {
			return Created{}, err
		}
		p.ParentID = parent.ID // a reply to a reply hangs under the root
	}
	now := s.clock()
	c := comment.Comment{
		ID: id, VideoID: p.VideoID, UserID: p.UserID, ParentID: p.ParentID, Content: p.Content,
		Status: p.Status, CreatedAt: now, Version: comment.NextVersion(0, now),
	}
	var key, hash any // NULL without a key
	if p.IdempotencyKey != "" {
		key, hash = p.IdempotencyKey, p.RequestHash[:]
	}
	res, err := tx.ExecContext(ctx, insertComment, c.ID, c.VideoID, c.UserID, c.ParentID, c.Content, string(c.Status),
		key, hash, now, now, c.Version, p.Safety.verdict(), p.Safety.Reason, p.Safety.Detail, c.UserID)
	if err != nil {
		if k := duplicateKey(err); k != "" {
			return Created{}, &duplicateError{key: k, err: err}
		}
		return Created{}, fmt.Errorf("insert comment: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return Created{}, fmt.Errorf("insert comment: %w", err)
	} else if n == 0 {
		return Created{}, ErrBanned
	}
	out := Created{Comment: c}
	if p.Response != nil {
		out.Code, out.Body = p.Response(c)
	}
	if p.IdempotencyKey != "" {
		if _, err := tx.ExecContext(ctx, insertIdempotent, p.UserID, p.IdempotencyKey, p.RequestHash[:], c.ID,
			out.Code, out.Body, now); err != nil {
			return Created{}, fmt.Errorf("store idempotent response: %w", err)
		}
	}
	if p.ParentID != 0 && c.Status == comment.Approved {
		if err := s.bumpReplies(ctx, tx, parent, +1, now); err != nil {
			return Created{}, err
		}
	}
	return out, nil
}

// lockParent reads the parent of a new reply under a lock and checks it: it
// exists, belongs to the post's video and is approved. When it is itself a
// reply, its root is returned instead (checked the same way). An approved
// reply changes the root's reply_count: the root is locked for update now
// rather than a shared lock upgraded later (deadlock).
func (s *Store) lockParent(ctx context.Context, tx *sql.Tx, p Post) (comment.Comment, error) {
	q := selectCommentForShare
	if p.Status == comment.Approved {
		q = selectCommentForUpdate
	}
	id := p.ParentID
	for depth := 0; ; depth++ {
		parent, err := lockComment(ctx, tx, q, id)
		switch {
		case errors.Is(err, ErrNotFound):
			return comment.Comment{}, ErrParentNotFound
		case err != nil:
			return comment.Comment{}, err
		case parent.VideoID != p.VideoID:
			return comment.Comment{}, ErrParentOtherVideo
		case parent.Status == comment.Deleted || parent.Status == comment.Rejected:
			return comment.Comment{}, ErrParentNotFound
		case parent.Status != comment.Approved:
			return comment.Comment{}, ErrParentNotApproved
		case parent.ParentID == 0:
			return parent, nil
		case depth > 0:
			// Rows written by hand may nest deeper; never walk further.
			return comment.Comment{}, fmt.Errorf("%w: comment %d nests deeper than two levels", ErrParentNotFound, parent.ID)
		}
		id = parent.ParentID
	}
}
