package readmodel

import (
	"context"
	"errors"
	"fmt"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/vidcomments/vidcomments/internal/comment"
)

// The statements of likes and the hot index (schema/cql/040 and 050).
const (
	selectLikes = `SELECT like_count, kafka_offset FROM comment_likes WHERE comment_id = ?`
	// writeLikes is written USING TIMESTAMP <kafka_offset + 1>: an older
	// base (a zombie consumer, a replay) writes an older timestamp and loses.
	writeLikes = `INSERT INTO comment_likes (comment_id, video_id, like_count, kafka_offset) VALUES (?, ?, ?, ?) USING TIMESTAMP ?`
	// writeBucketLikes puts the same count beside the comment's row in
	// likes_by_bucket (schema/cql/050), where a page reads it.
	writeBucketLikes = `INSERT INTO likes_by_bucket (video_id, bucket, id, like_count) VALUES (?, ?, ?, ?) USING TIMESTAMP ?`
	selectShape      = `SELECT video_id, parent_id, status FROM comments_by_id WHERE id = ?`
	insertHot        = `INSERT INTO hot_by_video (video_id, band, like_count, id) VALUES (?, ?, ?, ?) USING TIMESTAMP ?`
	deleteHot        = `DELETE FROM hot_by_video USING TIMESTAMP ? WHERE video_id = ? AND band = ? AND like_count = ? AND id = ?`
	insertBand       = `INSERT INTO video_hot_bands (video_id, band) VALUES (?, ?)`
)

// LikeEvent is one like event with where it sits in Kafka: a comment's like
// events all live in one partition (key = video), so Offset orders them.
type LikeEvent struct {
	CommentID int64
	VideoID   int64
	Delta     int64 // +1 or −1; 0 for a recount
	// Recount sets the count to Count instead of adding Delta, and drops
	// the hot index entry at Stale too (comment.Like).
	Recount      bool
	Count, Stale int64
	Partition    int32
	Offset       int64
}

// LikeCount is a comment's absolute like count as comment_likes holds it
// after ApplyLikes: Offset is the Kafka offset of the newest like event it
// includes (−1: none). Changed says whether this call moved it.
type LikeCount struct {
	CommentID int64
	VideoID   int64
	Count     int64
	Offset    int64
	Changed   bool
}

// Band is the hot_by_video band of a like count (comment.HotBand).
func Band(count int64) int32 { return comment.HotBand(count) }

// ApplyLikes aggregates like events per comment and writes absolute counts
// (docs/likes-hot-replies.md): the comment's stored (like_count,
// kafka_offset) is read, the deltas of events above the stored offset are
// added, and the new pair is written USING TIMESTAMP offset+1. A replayed
// event adds nothing; a writer that computed from an older base loses. The
// hot index follows the count for a visible root comment: (old count, id)
// out, (new count, id) in. It returns every comment's count after the call,
// in order of first appearance.
func (w *Writer) ApplyLikes(ctx context.Context, likes []LikeEvent) ([]LikeCount, error) {
	idx := map[int64]int{}
	var groups [][]LikeEvent
	for _, l := range likes {
		i, ok := idx[l.CommentID]
		if !ok {
			i = len(groups)
			idx[l.CommentID] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], l)
	}
	out := make([]LikeCount, len(groups))
	err := w.each(ctx, len(groups), func(ctx context.Context, i int) error {
		var err error
		out[i], err = w.applyCommentLikes(ctx, groups[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// storedLikes is a comment's comment_likes row; offset −1 when it has none.
func (w *Writer) storedLikes(ctx context.Context, id int64) (count, offset int64, err error) {
	var c, o *int64
	err = w.s.Query(selectLikes, id).ScanContext(ctx, &c, &o)
	if errors.Is(err, gocql.ErrNotFound) {
		return 0, -1, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read comment_likes %d: %w", id, err)
	}
	offset = -1
	if c != nil {
		count = *c
	}
	if o != nil {
		offset = *o
	}
	return count, offset, nil
}

func (w *Writer) applyCommentLikes(ctx context.Context, evs []LikeEvent) (LikeCount, error) {
	id, video := evs[0].CommentID, evs[0].VideoID
	base, baseOffset, err := w.storedLikes(ctx, id)
	if err != nil {
		return LikeCount{}, err
	}
	count, offset := base, baseOffset
	var stale []int64 // hot index counts a recount says the comment may stand at
	for _, e := range evs {
		if e.Offset <= baseOffset {
			continue
		}
		if e.Recount {
			count = e.Count
			stale = append(stale, e.Stale)
		} else {
			count += e.Delta
		}
		offset = max(offset, e.Offset)
	}
	count = max(count, 0) // only a lost event could take it below zero
	out := LikeCount{CommentID: id, VideoID: video, Count: count, Offset: offset}
	if offset == baseOffset {
		out.Count = base
		return out, nil // nothing new: a replay
	}
	// The hot index first: if the count write below fails, a retry
	// recomputes the same move from the same base. A recount moves it
	// even when the count stays: its entry is what the repair is for.
	if count != base || len(stale) > 0 {
		if err := w.moveHot(ctx, id, video, count, append(stale, base)...); err != nil {
			return LikeCount{}, err
		}
	}
	if err := w.writeLikeCount(ctx, id, video, count, offset); err != nil {
		return LikeCount{}, err
	}
	out.Changed = true
	return out, nil
}

// writeLikeCount writes a comment's absolute count as of offset: first
// into likes_by_bucket, then into comment_likes, whose offset is the base
// of the next call. If the second write fails, the retry computes the same
// count from the same base and writes both again; the other order could
// leave likes_by_bucket behind for good, a replay then seeing nothing new.
func (w *Writer) writeLikeCount(ctx context.Context, id, video, count, offset int64) error {
	if err := w.s.Query(writeBucketLikes, video, comment.Bucket(id), id, count, offset+1).Idempotent(true).ExecContext(ctx); err != nil {
		return fmt.Errorf("write likes_by_bucket %d: %w", id, err)
	}
	if err := w.s.Query(writeLikes, id, video, count, offset, offset+1).Idempotent(true).ExecContext(ctx); err != nil {
		return fmt.Errorf("write comment_likes %d: %w", id, err)
	}
	return nil
}

// shape is what the hot index needs to know of a comment.
type shape struct {
	found   bool
	video   int64
	root    bool
	visible bool
}

func (w *Writer) readShape(ctx context.Context, id int64) (shape, error) {
	var video, parent int64
	var status string
	err := w.s.Query(selectShape, id).ScanContext(ctx, &video, &parent, &status)
	if errors.Is(err, gocql.ErrNotFound) {
		return shape{}, nil
	}
	if err != nil {
		return shape{}, fmt.Errorf("read comments_by_id %d: %w", id, err)
	}
	return shape{found: true, video: video, root: parent == 0, visible: comment.Status(status).Visible()}, nil
}

// moveHot moves a comment's hot index entry from each of old to count
// likes. The old entries are removed whatever the comment's state (a
// delete of nothing is harmless); the new one is written for a visible
// root only (and an old equal to count is then that very row).
func (w *Writer) moveHot(ctx context.Context, id, video, count int64, old ...int64) error {
	sh, err := w.readShape(ctx, id)
	if err != nil {
		return err
	}
	if sh.found && !sh.root {
		return nil // replies are not in the hot order
	}
	stamp := w.stamp()
	b := w.s.Batch(gocql.UnloggedBatch).WithContext(ctx)
	// The entries may sit in a few partitions (bands): still one small batch.
	visible := sh.found && sh.visible
	for _, o := range old {
		if o != count || !visible {
			b.Entries = append(b.Entries, gocql.BatchEntry{Stmt: deleteHot, Args: []any{stamp, video, Band(o), o, id}, Idempotent: true})
		}
	}
	if visible {
		b.Entries = append(b.Entries,
			gocql.BatchEntry{Stmt: insertHot, Args: []any{video, Band(count), count, id, stamp}, Idempotent: true},
			gocql.BatchEntry{Stmt: insertBand, Args: []any{video, Band(count)}, Idempotent: true})
	}
	if err := b.ExecContext(ctx); err != nil {
		return fmt.Errorf("move hot_by_video %d: %w", id, err)
	}
	return nil
}

// The reads of reconcileHot, a chunk of partition keys at a time.
const (
	selectShapes = `SELECT id, video_id, parent_id, status FROM comments_by_id WHERE id IN ?`
	selectCounts = `SELECT comment_id, like_count FROM comment_likes WHERE comment_id IN ?`
	inChunk      = 100
)

// reconcileHot makes the hot index entries of root comments agree with
// their state after comment events: present with the current count when
// visible, absent otherwise. It reads the state (comments_by_id,
// comment_likes), not the events, so a replayed or reordered event cannot
// undo a newer change, and it writes with the writer's increasing stamp so
// the newest decision wins. Reads go a chunk of ids per query, writes one
// unlogged batch per (video, band) partition.
func (w *Writer) reconcileHot(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	shapes := make(map[int64]shape, len(ids))
	counts := make(map[int64]int64, len(ids))
	for start := 0; start < len(ids); start += inChunk {
		chunk := ids[start:min(start+inChunk, len(ids))]
		var id, video, parent, n int64
		var status string
		iter := w.s.Query(selectShapes, chunk).IterContext(ctx)
		for iter.Scan(&id, &video, &parent, &status) {
			shapes[id] = shape{found: true, video: video, root: parent == 0, visible: comment.Status(status).Visible()}
		}
		if err := iter.Close(); err != nil {
			return fmt.Errorf("read comments_by_id: %w", err)
		}
		iter = w.s.Query(selectCounts, chunk).IterContext(ctx)
		for iter.Scan(&id, &n) {
			counts[id] = n
		}
		if err := iter.Close(); err != nil {
			return fmt.Errorf("read comment_likes: %w", err)
		}
	}
	type hotPart struct {
		video int64
		band  int32
	}
	stamp := w.stamp()
	var parts partitionBatches[hotPart]
	bands := map[hotPart]bool{}
	for _, id := range ids {
		sh := shapes[id]
		if !sh.found || !sh.root {
			continue
		}
		n := counts[id]
		p := hotPart{sh.video, Band(n)}
		if sh.visible {
			parts.add(p, gocql.BatchEntry{Stmt: insertHot, Args: []any{sh.video, p.band, n, id, stamp}, Idempotent: true})
			bands[p] = true
		} else {
			parts.add(p, gocql.BatchEntry{Stmt: deleteHot, Args: []any{stamp, sh.video, p.band, n, id}, Idempotent: true})
		}
	}
	var bandList []hotPart
	for p := range bands {
		bandList = append(bandList, p)
	}
	return w.eachOf(ctx, []int{len(parts.keys), len(bandList)}, []func(context.Context, int) error{
		func(ctx context.Context, i int) error {
			p := parts.keys[i]
			if err := w.writeBatches(ctx, parts.entries[p]); err != nil {
				return fmt.Errorf("write hot_by_video %d/%d: %w", p.video, p.band, err)
			}
			return nil
		},
		func(ctx context.Context, i int) error {
			p := bandList[i]
			if err := w.s.Query(insertBand, p.video, p.band).Idempotent(true).ExecContext(ctx); err != nil {
				return fmt.Errorf("write video_hot_bands %d/%d: %w", p.video, p.band, err)
			}
			return nil
		},
	})
}
