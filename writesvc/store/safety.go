package store

import (
	"context"
	"fmt"
	"time"

	"github.com/vidcomments/vidcomments/internal/comment"
)

// Safety is the content-safety verdict a comment was staged with
// (writesvc/safety), kept in its row (schema/mysql/070_safety.sql).
type Safety struct {
	Verdict string // "allow" or "hold"; "" is "allow"
	Reason  string // the reason code; "" when no rule had anything to say
	Detail  string // for moderators, ≤ 255 bytes
}

func (s Safety) verdict() string {
	if s.Verdict == "" {
		return "allow"
	}
	return s.Verdict
}

// Queued is a comment of the moderation queue with its safety verdict.
type Queued struct {
	comment.Comment
	Safety Safety
}

func scanQueued(r scanner) (Queued, error) {
	var q Queued
	c, err := scanComment(r, &q.Safety.Verdict, &q.Safety.Reason, &q.Safety.Detail)
	q.Comment = c
	return q, err
}

// selectPostedSince is the duplicate rule's question, answered from the
// author's own rows of the video (index comments_by_video_user). A comment
// the author deleted does not count.
const selectPostedSince = `SELECT 1 FROM comments
		WHERE video_id = ? AND user_id = ? AND parent_id = ? AND status <> 'deleted' AND created_at >= ?
		AND content = ? COLLATE utf8mb4_bin LIMIT 1` // exactly: the column collation ignores case and accents

// PostedSince reports whether userID posted exactly content on videoID
// under parentID (0: a root comment) at or after since: safety.Recent, for
// the duplicate rule. parentID is compared with the stored parent_id, the
// root's for a reply to a reply.
func (s *Store) PostedSince(ctx context.Context, userID, videoID, parentID int64, content string, since time.Time) (bool, error) {
	rows, err := s.db.QueryContext(ctx, selectPostedSince, videoID, userID, parentID, since.UTC(), content)
	if err != nil {
		return false, fmt.Errorf("read recent posts: %w", err)
	}
	defer rows.Close()
	found := rows.Next()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("read recent posts: %w", err)
	}
	return found, nil
}
