// Package outbox is writesvc's transactional outbox: Write records a comment
// event in the transaction that changes the comment, and Relay publishes
// unsent rows to Kafka and marks them sent.
//
// # The ordering rule
//
// Exactly one Relay across all writesvc instances publishes at any time: the
// one holding the MySQL named lock "vidcomments.outbox.<database>"
// (GET_LOCK, on a connection it keeps for as long as it leads). Inside that
// process one goroutine publishes, in outbox id order, rows it reads back
// from the table. The request path never publishes by itself; after a commit
// it only calls Notify, which wakes the local relay at once (other instances
// are picked up by the leader's next poll, every Config.Poll). So all events
// reach Kafka as a single stream, and:
//
//   - For one comment, events reach Kafka in version order. Changes to a
//     comment serialise on its row lock (SELECT … FOR UPDATE), so a later
//     change inserts its outbox row only after the earlier change committed:
//     no scan can see the later row without the earlier one having been
//     visible first, and each scan publishes in id order.
//   - For one video (one Kafka key, one partition), events are published in
//     the order of the relay's scans, each in id order. Outbox ids are taken
//     at INSERT, not at COMMIT, so two transactions on different comments can
//     become visible out of id order; their relative order was never defined,
//     and consumers apply each comment by version (state transfer).
//   - Nothing is lost: a row is marked sent only after Kafka acknowledged it
//     (acks=all, idempotent producer), by id list — never by id range, which
//     could mark a row that committed after the scan.
//   - Duplicates happen when a leader dies between Kafka's ack and the
//     UPDATE, or when a send fails half-way and the batch is sent again.
//     Consumers are idempotent by version.
//
// A leader that cannot publish (Kafka down, producer errors, the lock
// connection lost) closes its lock connection — which releases the lock —
// and backs off exponentially before competing again, so an instance that
// can reach Kafka takes over.
package outbox

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/vidcomments/vidcomments/internal/comment"
)

// The statements of this package, on table outbox (schema/mysql/001).
const (
	insertEvent = `INSERT INTO outbox (video_id, comment_id, version, event_type, payload, created_at)
		VALUES (?, ?, ?, ?, ?, NOW(6))`
	selectUnsent = `SELECT id, video_id, comment_id, version, payload, TIMESTAMPDIFF(MICROSECOND, created_at, NOW(6))
		FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT ?`
	markSentPrefix = `UPDATE outbox SET sent_at = NOW(6) WHERE sent_at IS NULL AND id IN (`
	selectBacklog  = `SELECT COUNT(*), COALESCE(TIMESTAMPDIFF(MICROSECOND, MIN(created_at), NOW(6)), 0)
		FROM outbox WHERE sent_at IS NULL`
	pruneSent = `DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < NOW(6) - INTERVAL ? SECOND
		ORDER BY sent_at LIMIT ?`
	selectDatabase = `SELECT DATABASE()`
	getLock        = `SELECT GET_LOCK(?, 0)`
	// minimalRowImage is for the leader's own connection (Relay.acquire).
	minimalRowImage = `SET SESSION binlog_row_image = 'MINIMAL'`
)

// Execer is what Write needs of a transaction.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Write records the event "t happened to c" in tx and returns the outbox
// id. The payload is exactly comment.NewEvent(t, c).Encode().
func Write(ctx context.Context, tx Execer, t comment.EventType, c comment.Comment) (int64, error) {
	return WriteEvent(ctx, tx, comment.NewEvent(t, c))
}

// WriteEvent records any event (a comment change, a like, a pin) in tx and
// returns the outbox id. The row's comment_id and version are the event's
// (0 for a like's version, the pinned comment for a pin).
func WriteEvent(ctx context.Context, tx Execer, e comment.Event) (int64, error) {
	t := e.Type
	payload, err := e.Encode()
	if err != nil {
		return 0, fmt.Errorf("outbox: encode %s event of comment %d: %w", t, e.CommentID(), err)
	}
	res, err := tx.ExecContext(ctx, insertEvent, e.VideoID(), e.CommentID(), e.Version, string(t), payload)
	if err != nil {
		return 0, fmt.Errorf("outbox: insert %s event of comment %d: %w", t, e.CommentID(), err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("outbox: insert id: %w", err)
	}
	return id, nil
}
