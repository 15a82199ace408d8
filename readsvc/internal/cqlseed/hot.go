package cqlseed

import (
	"context"
	"fmt"
	"math/bits"

	"github.com/vidcomments/vidcomments/internal/comment"
)

// The layout of docs/likes-hot-replies.md, as the syncer writes it.
const (
	insertLikes       = `INSERT INTO comment_likes (comment_id, video_id, like_count, kafka_offset) VALUES (?, ?, ?, ?) USING TIMESTAMP ?`
	insertBucketLikes = `INSERT INTO likes_by_bucket (video_id, bucket, id, like_count) VALUES (?, ?, ?, ?) USING TIMESTAMP ?`
	insertHot         = `INSERT INTO hot_by_video (video_id, band, like_count, id) VALUES (?, ?, ?, ?) USING TIMESTAMP ?`
	deleteHot         = `DELETE FROM hot_by_video USING TIMESTAMP ? WHERE video_id = ? AND band = ? AND like_count = ? AND id = ?`
	insertBand        = `INSERT INTO video_hot_bands (video_id, band) VALUES (?, ?) USING TIMESTAMP ?`
	insertReply       = `INSERT INTO replies_by_parent (parent_id, id, video_id, user_id, content, created_at, like_count, reply_count, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`
	insertReplyID     = `INSERT INTO comments_by_id (id, video_id, user_id, parent_id, content, status, created_at, like_count, reply_count, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`
	insertPin         = `INSERT INTO video_pins (video_id, comment_id, version) VALUES (?, ?, ?) USING TIMESTAMP ?`
)

func band(likes int64) int { return bits.Len64(uint64(likes)) }

// PutLikes writes comment id's like count as the syncer does: the
// absolute count in comment_likes and likes_by_bucket (timestamp
// offset+1), and the hot index
// row moved from its old count (old < 0: none) to the new one.
func (w *Writer) PutLikes(ctx context.Context, video, id, old, count, offset int64) error {
	ts := offset + 1
	if old >= 0 && old != count {
		if err := w.s.Query(deleteHot, ts, video, band(old), old, id).ExecContext(ctx); err != nil {
			return fmt.Errorf("seed hot index of %d: %w", id, err)
		}
	}
	for _, st := range []struct {
		q    string
		args []any
	}{
		{insertBucketLikes, []any{video, comment.Bucket(id), id, count, ts}},
		{insertLikes, []any{id, video, count, offset, ts}},
		{insertHot, []any{video, band(count), count, id, ts}},
		{insertBand, []any{video, band(count), ts}},
	} {
		if err := w.s.Query(st.q, st.args...).ExecContext(ctx); err != nil {
			return fmt.Errorf("seed likes of %d: %w", id, err)
		}
	}
	return nil
}

// PutReply writes an approved reply: replies_by_parent and comments_by_id.
func (w *Writer) PutReply(ctx context.Context, c comment.Comment) error {
	if err := w.s.Query(insertReply, c.ParentID, c.ID, c.VideoID, c.UserID, c.Content, c.CreatedAt, c.LikeCount, int(c.ReplyCount), c.Version, c.Version).ExecContext(ctx); err != nil {
		return fmt.Errorf("seed reply %d: %w", c.ID, err)
	}
	if err := w.s.Query(insertReplyID, c.ID, c.VideoID, c.UserID, c.ParentID, c.Content, string(c.Status), c.CreatedAt, c.LikeCount, int(c.ReplyCount), c.Version, c.Version).ExecContext(ctx); err != nil {
		return fmt.Errorf("seed reply %d: %w", c.ID, err)
	}
	return nil
}

// PutPin writes video_pins.
func (w *Writer) PutPin(ctx context.Context, video, id, version int64) error {
	if err := w.s.Query(insertPin, video, id, version, version).ExecContext(ctx); err != nil {
		return fmt.Errorf("seed pin of %d: %w", video, err)
	}
	return nil
}
