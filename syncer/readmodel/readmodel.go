// Package readmodel writes comment events into vidcomments' Cassandra read
// model (schema/cql/001_comments.cql) so that replays, duplicates and
// reordering can never move a comment backwards.
//
// Every data write carries USING TIMESTAMP <row version>: Cassandra keeps, per
// cell, the write with the highest timestamp, and a tombstone wins a tie, so
// the newest version of a row wins whatever order the writes arrive in, and a
// delete can never be undone by an older insert.
//
// Counts are never incremented (a replayed increment would count twice).
// After a batch, the writer recounts each (video, bucket) partition it
// touched and rewrites video_buckets.comment_count, then rewrites
// video_counts.approved as the sum over the video's buckets. A recount reads
// the state, not the events, so it is right however often it runs.
package readmodel

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/vidcomments/vidcomments/internal/comment"
)

// The statements of the writer.
const (
	insertByID = `INSERT INTO comments_by_id (id, video_id, user_id, parent_id, content, status, created_at, like_count, reply_count, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`
	insertByVideo = `INSERT INTO comments_by_video (video_id, bucket, id, user_id, parent_id, content, created_at, like_count, reply_count, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`
	deleteByVideo = `DELETE FROM comments_by_video USING TIMESTAMP ? WHERE video_id = ? AND bucket = ? AND id = ?`
	countBucket   = `SELECT COUNT(*) FROM comments_by_video WHERE video_id = ? AND bucket = ?`
	writeBucket   = `INSERT INTO video_buckets (video_id, bucket, comment_count) VALUES (?, ?, ?) USING TIMESTAMP ?`
	deleteBucket  = `DELETE FROM video_buckets USING TIMESTAMP ? WHERE video_id = ? AND bucket = ?`
	sumBuckets    = `SELECT comment_count FROM video_buckets WHERE video_id = ?`
	writeCount    = `INSERT INTO video_counts (video_id, approved) VALUES (?, ?) USING TIMESTAMP ?`
)

// Limits of what the read model can hold. An event beyond them is invalid
// (comment.ErrInvalidEvent): it would fail the same way on every retry.
const (
	MaxContentBytes = 1 << 20 // far above any content limit of writesvc, far below Cassandra's mutation limit
	maxStatements   = 100     // statements per single-partition batch
)

// DefaultConcurrency is how many partitions a Writer writes at once.
const DefaultConcurrency = 32

// Check reports why the read model cannot hold e, wrapping
// comment.ErrInvalidEvent, or nil. Call it after comment.DecodeEvent.
func Check(e comment.Event) error {
	c := e.Comment
	switch {
	case c.ReplyCount > math.MaxInt32:
		return fmt.Errorf("%w: reply_count %d does not fit the read model's int", comment.ErrInvalidEvent, c.ReplyCount)
	case len(c.Content) > MaxContentBytes:
		return fmt.Errorf("%w: content of %d bytes exceeds %d", comment.ErrInvalidEvent, len(c.Content), MaxContentBytes)
	}
	return nil
}

// Writer applies events to the read model.
type Writer struct {
	s           *gocql.Session
	concurrency int
	now         func() time.Time
	lastStamp   atomic.Int64
}

// NewWriter returns a Writer over a session bound to the read model's
// keyspace, with up to concurrency writes in flight per Apply (<= 0: the
// default). now is the clock of count rewrites (time.Now when nil).
func NewWriter(s *gocql.Session, concurrency int, now func() time.Time) *Writer {
	if concurrency <= 0 {
		concurrency = DefaultConcurrency
	}
	if now == nil {
		now = time.Now
	}
	return &Writer{s: s, concurrency: concurrency, now: now}
}

// Check is the package's Check, so a Writer serves as the consumer's Applier.
func (w *Writer) Check(e comment.Event) error { return Check(e) }

// partition is one (video, bucket) partition of comments_by_video.
type partition struct {
	video  int64
	bucket int32
}

// Latest keeps, per comment, the event with the highest version: since every
// event carries the whole row and the newest version wins anyway, writing
// only that one gives the same state with fewer writes. The result is in
// input order of first appearance, which keeps the writes deterministic.
func Latest(events []comment.Event) []comment.Event {
	idx := make(map[int64]int, len(events))
	out := make([]comment.Event, 0, len(events))
	for _, e := range events {
		i, seen := idx[e.Comment.ID]
		switch {
		case !seen:
			idx[e.Comment.ID] = len(out)
			out = append(out, e)
		case e.Version > out[i].Version:
			out[i] = e
		}
	}
	return out
}

// Apply writes events (any order, duplicates allowed) and then rewrites the
// counts of every partition and video they touched. When it returns nil the
// writes are acknowledged at the session's consistency; on an error some may
// have landed, and applying the same events again is harmless.
func (w *Writer) Apply(ctx context.Context, events []comment.Event) error {
	byPart := map[partition][]comment.Event{}
	var parts []partition
	latest := Latest(events)
	for _, e := range latest {
		p := partition{e.Comment.VideoID, comment.Bucket(e.Comment.ID)}
		if _, ok := byPart[p]; !ok {
			parts = append(parts, p)
		}
		byPart[p] = append(byPart[p], e)
	}
	// One task per comments_by_video partition (its rows, then its recount)
	// and one per comments_by_id row, all independent of each other.
	if err := w.each(ctx, len(parts)+len(latest), func(ctx context.Context, i int) error {
		if i < len(parts) {
			return w.applyPartition(ctx, parts[i], byPart[parts[i]])
		}
		return w.writeByID(ctx, latest[i-len(parts)])
	}); err != nil {
		return err
	}
	var videos []int64
	seen := map[int64]bool{}
	for _, p := range parts {
		if !seen[p.video] {
			seen[p.video] = true
			videos = append(videos, p.video)
		}
	}
	return w.each(ctx, len(videos), func(ctx context.Context, i int) error {
		return w.recountVideo(ctx, videos[i])
	})
}

// applyPartition writes the rows of one comments_by_video partition in
// single-partition batches, then recounts the partition.
func (w *Writer) applyPartition(ctx context.Context, p partition, events []comment.Event) error {
	for start := 0; start < len(events); start += maxStatements {
		chunk := events[start:min(start+maxStatements, len(events))]
		b := w.s.Batch(gocql.UnloggedBatch).WithContext(ctx)
		for _, e := range chunk {
			c := e.Comment
			entry := gocql.BatchEntry{Stmt: deleteByVideo, Args: []any{e.Version, c.VideoID, p.bucket, c.ID}, Idempotent: true}
			if c.Status.Visible() {
				entry.Stmt, entry.Args = insertByVideo, []any{c.VideoID, p.bucket, c.ID, c.UserID, c.ParentID, c.Content, c.CreatedAt,
					c.LikeCount, int32(c.ReplyCount), c.Version, e.Version}
			}
			b.Entries = append(b.Entries, entry)
		}
		if err := b.ExecContext(ctx); err != nil {
			return fmt.Errorf("write comments_by_video %d/%d: %w", p.video, p.bucket, err)
		}
	}
	return w.recountBucket(ctx, p)
}

// writeByID writes the comments_by_id row of e.
func (w *Writer) writeByID(ctx context.Context, e comment.Event) error {
	c := e.Comment
	q := w.s.Query(insertByID, c.ID, c.VideoID, c.UserID, c.ParentID, c.Content, string(c.Status), c.CreatedAt,
		c.LikeCount, int32(c.ReplyCount), c.Version, e.Version)
	if err := q.Idempotent(true).ExecContext(ctx); err != nil {
		return fmt.Errorf("write comments_by_id %d: %w", c.ID, err)
	}
	return nil
}

// recountBucket rewrites the partition's entry of video_buckets: its row
// count, or no entry when the partition holds no visible comment.
func (w *Writer) recountBucket(ctx context.Context, p partition) error {
	var n int64
	if err := w.s.Query(countBucket, p.video, p.bucket).ScanContext(ctx, &n); err != nil {
		return fmt.Errorf("count comments_by_video %d/%d: %w", p.video, p.bucket, err)
	}
	var q *gocql.Query
	if n == 0 {
		q = w.s.Query(deleteBucket, w.stamp(), p.video, p.bucket)
	} else {
		q = w.s.Query(writeBucket, p.video, p.bucket, n, w.stamp())
	}
	if err := q.Idempotent(true).ExecContext(ctx); err != nil {
		return fmt.Errorf("write video_buckets %d/%d: %w", p.video, p.bucket, err)
	}
	return nil
}

// recountVideo rewrites video_counts.approved as the sum over the video's
// buckets.
func (w *Writer) recountVideo(ctx context.Context, video int64) error {
	iter := w.s.Query(sumBuckets, video).IterContext(ctx)
	var n, sum int64
	for iter.Scan(&n) {
		sum += n
	}
	if err := iter.Close(); err != nil {
		return fmt.Errorf("sum video_buckets %d: %w", video, err)
	}
	if err := w.s.Query(writeCount, video, sum, w.stamp()).Idempotent(true).ExecContext(ctx); err != nil {
		return fmt.Errorf("write video_counts %d: %w", video, err)
	}
	return nil
}

// stamp is the write timestamp of a count rewrite: the clock in
// microseconds, strictly increasing within the process, so a later recount
// always replaces an earlier one. Across processes it relies on the hosts'
// clocks agreeing to well under a consumer-group rebalance (seconds), since
// only the partition's owner recounts.
func (w *Writer) stamp() int64 {
	now := w.now().UnixMicro()
	for {
		last := w.lastStamp.Load()
		next := max(now, last+1)
		if w.lastStamp.CompareAndSwap(last, next) {
			return next
		}
	}
}

// each runs f(0..n-1) with at most w.concurrency at once and returns the
// first error; after an error the remaining calls are not started.
func (w *Writer) each(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	if n == 1 {
		return f(ctx, 0)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, w.concurrency)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(ctx, i); err != nil {
				once.Do(func() { first = err; cancel(err) })
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}
