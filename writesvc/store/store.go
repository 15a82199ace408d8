// Package store is writesvc's access to MySQL: it creates comments, moves
// them between moderation states, lists the moderation queue and keeps the
// ban list. Every change is one transaction that locks the row it changes,
// moves its version forward (comment.NextVersion, then read back, since the
// table's trigger may move it further). The outbox event of the change is
// written by the database itself, in the same transaction, by the triggers
// of schema/mysql/050_change_log.sql — for writesvc's changes and a hand-
// written statement's alike — so a commit always carries its event and a
// rollback leaves nothing half-written.
//
// A comment's reply_count is the number of its approved replies; a change
// that makes a reply visible or invisible also updates the parent, in the
// same transaction, with its own version bump and "edited" event. Locks are
// taken child first, then parent, in every path. Replies are two levels
// deep: a reply to a reply is stored under that reply's root.
//
// Likes (likes.go) never lock or change the comments row: a like is a row
// of comment_likes plus a "like" event, written only when the row appeared
// or went away, so a like storm on one comment contends on nothing but
// distinct primary keys. Pins (pins.go) are one video_pins row per video
// with its own version; edits (edit.go) change the content within the edit
// window.
package store

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/vidcomments/vidcomments/internal/comment"
)

// The statements of this package.
// InsertComment is a post's one statement (its transaction is BEGIN, this,
// COMMIT when the post has no idempotency key and no parent): it inserts
// nothing when the author is banned, which saves the round trip of a
// separate ban check (rows affected tells). Exported for the write
// benchmark's bare loop, which runs the same transaction.
// Arguments: id, video, user, parent, content, status, idempotency key,
// request hash, created_at, updated_at, version, safety verdict, reason and
// detail, user.
const InsertComment = `INSERT INTO comments
		(id, video_id, user_id, parent_id, content, status, idempotency_key, request_hash, created_at, updated_at, version,
		safety_verdict, safety_reason, safety_detail)
		SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM DUAL
		WHERE NOT EXISTS (SELECT 1 FROM user_bans WHERE user_id = ? AND (expires_at IS NULL OR expires_at > NOW(6)))`

const (
	commentColumns = `id, video_id, user_id, parent_id, content, status, created_at, edited_at, like_count, reply_count, version`

	selectComment          = `SELECT ` + commentColumns + ` FROM comments WHERE id = ?`
	selectCommentForUpdate = selectComment + ` FOR UPDATE`
	selectCommentForShare  = selectComment + ` LOCK IN SHARE MODE`
	insertComment          = InsertComment
	updateStatus           = `UPDATE comments SET status = ?, reason = ?, updated_at = ?, version = ? WHERE id = ?`
	updateReplies          = `UPDATE comments SET reply_count = GREATEST(reply_count + ?, 0), updated_at = ?, version = ?
		WHERE id = ?`
	insertModerationLog = `INSERT INTO moderation_log
		(comment_id, actor_id, actor_role, action, from_status, to_status, reason, version, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

	upsertBan = `INSERT INTO user_bans (user_id, reason, banned_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?)
		ON DUPLICATE KEY UPDATE reason = VALUES(reason), banned_by = VALUES(banned_by),
		created_at = VALUES(created_at), expires_at = VALUES(expires_at)`
	deleteBan = `DELETE FROM user_bans WHERE user_id = ?`

	insertIdempotent = `INSERT INTO idempotency_responses
		(user_id, idempotency_key, request_hash, comment_id, status_code, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`
	selectIdempotent = `SELECT request_hash, status_code, body FROM idempotency_responses
		WHERE user_id = ? AND idempotency_key = ?`

	queueColumns       = commentColumns + `, safety_verdict, safety_reason, safety_detail`
	selectQueue        = `SELECT ` + queueColumns + ` FROM comments WHERE status = 'pending' AND id > ? ORDER BY id LIMIT ?`
	selectQueueByVideo = `SELECT ` + queueColumns + ` FROM comments
		WHERE video_id = ? AND status = 'pending' AND id > ? ORDER BY id LIMIT ?`
)

// Errors the API maps to client errors. Anything else is the database
// failing.
var (
	ErrNotFound            = errors.New("comment not found")
	ErrNotAuthor           = errors.New("only the author or a moderator may change this comment")
	ErrInvalidTransition   = errors.New("invalid status transition")
	ErrBanned              = errors.New("user is banned")
	ErrParentNotFound      = errors.New("parent comment not found")
	ErrParentNotApproved   = errors.New("parent comment is not approved")
	ErrParentOtherVideo    = errors.New("parent comment belongs to another video")
	ErrIdempotencyConflict = errors.New("idempotency key already used for another request")
)

// IDSource mints comment ids (the node lease).
type IDSource interface {
	NextID() (int64, error)
}

// Store is writesvc's MySQL access. Safe for concurrent use.
type Store struct {
	db  *sql.DB
	ids IDSource
	now func() time.Time
}

// New returns a Store on db minting ids from ids.
func New(db *sql.DB, ids IDSource) *Store {
	return &Store{db: db, ids: ids, now: time.Now}
}

// txAttempts bounds the retries of a transaction that lost a deadlock or a
// lock wait, and of an insert whose fresh id collided.
const txAttempts = 3

// inTx runs fn in a transaction and commits it, retrying deadlocks and lock
// wait timeouts. It returns what fn returned in the attempt that committed,
// or the zero T and the error.
func inTx[T any](ctx context.Context, s *Store, fn func(tx *sql.Tx) (T, error)) (T, error) {
	var out T
	var err error
	for range txAttempts {
		out, err = tryTx(ctx, s.db, fn)
		if !isRetryable(err) {
			break
		}
	}
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

func tryTx[T any](ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) (T, error)) (T, error) {
	var zero T
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return zero, fmt.Errorf("begin: %w", err)
	}
	out, err := fn(tx)
	if err != nil {
		_ = tx.Rollback()
		return zero, err
	}
	if err := tx.Commit(); err != nil {
		return zero, fmt.Errorf("commit: %w", err)
	}
	return out, nil
}

func mysqlErr(err error) (uint16, string) {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number, me.Message
	}
	return 0, ""
}

func isRetryable(err error) bool {
	n, _ := mysqlErr(err)
	return n == 1213 || n == 1205 // deadlock, lock wait timeout
}

// duplicateKey reports which unique key a 1062 error names: "PRIMARY",
// "comments_idempotency", … or "" for another error.
func duplicateKey(err error) string {
	n, msg := mysqlErr(err)
	if n != 1062 {
		return ""
	}
	// "Duplicate entry '…' for key 'comments_idempotency'" (MySQL 8 says
	// 'comments.comments_idempotency').
	i := strings.LastIndex(msg, "for key '")
	if i < 0 {
		return "?"
	}
	key := strings.TrimSuffix(msg[i+len("for key '"):], "'")
	if j := strings.LastIndexByte(key, '.'); j >= 0 {
		key = key[j+1:]
	}
	return key
}

type scanner interface{ Scan(dest ...any) error }

// scanComment reads a row of commentColumns, then extra columns into extra.
func scanComment(r scanner, extra ...any) (comment.Comment, error) {
	var c comment.Comment
	var status string
	var edited sql.NullTime
	dest := []any{&c.ID, &c.VideoID, &c.UserID, &c.ParentID, &c.Content, &status, &c.CreatedAt, &edited,
		&c.LikeCount, &c.ReplyCount, &c.Version}
	if err := r.Scan(append(dest, extra...)...); err != nil {
		return comment.Comment{}, err
	}
	if edited.Valid {
		c.EditedAt = edited.Time.UTC()
	}
	st, err := comment.ParseStatus(status)
	if err != nil {
		return comment.Comment{}, err
	}
	c.Status = st
	c.CreatedAt = c.CreatedAt.UTC()
	return c, nil
}

// lockComment reads a comment under a row lock.
func lockComment(ctx context.Context, tx *sql.Tx, query string, id int64) (comment.Comment, error) {
	c, err := scanComment(tx.QueryRowContext(ctx, query, id))
	if errors.Is(err, sql.ErrNoRows) {
		return comment.Comment{}, ErrNotFound
	}
	if err != nil {
		return comment.Comment{}, fmt.Errorf("read comment %d: %w", id, err)
	}
	return c, nil
}

// Get returns a comment as MySQL holds it now.
func (s *Store) Get(ctx context.Context, id int64) (comment.Comment, error) {
	c, err := scanComment(s.db.QueryRowContext(ctx, selectComment, id))
	if errors.Is(err, sql.ErrNoRows) {
		return comment.Comment{}, ErrNotFound
	}
	if err != nil {
		return comment.Comment{}, fmt.Errorf("read comment %d: %w", id, err)
	}
	return c, nil
}

// clock returns the store's clock at the precision MySQL keeps.
func (s *Store) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// bumpReplies moves parent's reply_count by delta (the parent is locked by
// the caller), bumps its version, and writes its "edited" event.
func (s *Store) bumpReplies(ctx context.Context, tx *sql.Tx, parent comment.Comment, delta int, now time.Time) error {
	v := comment.NextVersion(parent.Version, now)
	if _, err := tx.ExecContext(ctx, updateReplies, delta, now, v, parent.ID); err != nil {
		return fmt.Errorf("update reply count of %d: %w", parent.ID, err)
	}
	return nil
}

// equalHash compares request hashes in constant time.
func equalHash(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// TuneDSN returns dsn with the driver settings writesvc runs with:
// interpolateParams, so each parameterised statement is one round trip
// instead of a server-side prepare, execute and close. Every statement here
// runs once per request with placeholders only, so nothing is lost by not
// preparing; the driver escapes with the connection's character set and
// refuses collations for which that is unsafe.
func TuneDSN(dsn string) (string, error) {
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", fmt.Errorf("mysql dsn: %w", err)
	}
	c.InterpolateParams = true
	return c.FormatDSN(), nil
}
