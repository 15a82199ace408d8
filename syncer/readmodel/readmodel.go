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
// the state, not the events, so it is right however often it runs. Only
// root comments are in comments_by_video and so in the counts; replies are
// in replies_by_parent.
//
// Likes (likes.go) are the exception to "timestamp = row version": their
// absolute counts in comment_likes are ordered by Kafka offset, and the hot
// index (hot_by_video) is derived from state like the counts are.
package readmodel

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/vidcomments/vidcomments/internal/comment"
)

// The statements of the writer. Comment rows carry no like_count: the
// count lives in comment_likes (likes.go), and an event's like_count (0 in
// MySQL) must never overwrite it.
const (
	insertByID = `INSERT INTO comments_by_id (id, video_id, user_id, parent_id, content, status, created_at, edited_at, reply_count, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`
	insertByVideo = `INSERT INTO comments_by_video (video_id, bucket, id, user_id, parent_id, content, created_at, edited_at, reply_count, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`
	deleteByVideo = `DELETE FROM comments_by_video USING TIMESTAMP ? WHERE video_id = ? AND bucket = ? AND id = ?`
	insertReply   = `INSERT INTO replies_by_parent (parent_id, id, video_id, user_id, content, created_at, edited_at, reply_count, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`
	deleteReply  = `DELETE FROM replies_by_parent USING TIMESTAMP ? WHERE parent_id = ? AND id = ?`
	insertPin    = `INSERT INTO video_pins (video_id, comment_id, version) VALUES (?, ?, ?) USING TIMESTAMP ?`
	countBucket  = `SELECT COUNT(*) FROM comments_by_video WHERE video_id = ? AND bucket = ?`
	writeBucket  = `INSERT INTO video_buckets (video_id, bucket, comment_count) VALUES (?, ?, ?) USING TIMESTAMP ?`
	deleteBucket = `DELETE FROM video_buckets USING TIMESTAMP ? WHERE video_id = ? AND bucket = ?`
	sumBuckets   = `SELECT comment_count FROM video_buckets WHERE video_id = ?`
	writeCount   = `INSERT INTO video_counts (video_id, approved) VALUES (?, ?) USING TIMESTAMP ?`
	readCount    = `SELECT approved FROM video_counts WHERE video_id = ?`
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

// Apply writes comment and pin events (any order, duplicates allowed; like
// events are ApplyLikes' and skipped here) and then rewrites the counts of
// every partition and video they touched and the hot index entries of the
// root comments. When it returns nil the writes are acknowledged at the
// session's consistency; on an error some may have landed, and applying
// the same events again is harmless.
//
// A root comment goes to comments_by_video, a reply to replies_by_parent
// (replies are not in the video's pages or totals); comments_by_id holds
// every comment.
func (w *Writer) Apply(ctx context.Context, events []comment.Event) error {
	var comments, pins []comment.Event
	for _, e := range events {
		switch {
		case e.Type == comment.EventPinned:
			pins = append(pins, e)
		case e.Type.IsComment():
			comments = append(comments, e)
		}
	}
	byPart := map[partition][]comment.Event{}
	var parts []partition
	var roots, replies []comment.Event
	latest := Latest(comments)
	for _, e := range latest {
		if e.Comment.ParentID != 0 {
			replies = append(replies, e)
			continue
		}
		roots = append(roots, e)
		p := partition{e.Comment.VideoID, comment.Bucket(e.Comment.ID)}
		if _, ok := byPart[p]; !ok {
			parts = append(parts, p)
		}
		byPart[p] = append(byPart[p], e)
	}
	// One task per comments_by_video partition (its rows, then its recount),
	// one per comments_by_id row, per reply and per pin, all independent of
	// each other.
	tasks := []func(context.Context, int) error{
		func(ctx context.Context, i int) error { return w.applyPartition(ctx, parts[i], byPart[parts[i]]) },
		func(ctx context.Context, i int) error { return w.writeByID(ctx, latest[i]) },
		func(ctx context.Context, i int) error { return w.writeReply(ctx, replies[i]) },
		func(ctx context.Context, i int) error { return w.writePin(ctx, pins[i]) },
	}
	if err := w.eachOf(ctx, []int{len(parts), len(latest), len(replies), len(pins)}, tasks); err != nil {
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
	rootIDs := make([]int64, len(roots))
	for i, e := range roots {
		rootIDs[i] = e.Comment.ID
	}
	return w.eachOf(ctx, []int{len(videos), 1}, []func(context.Context, int) error{
		func(ctx context.Context, i int) error { return w.recountVideo(ctx, videos[i]) },
		func(ctx context.Context, _ int) error { return w.reconcileHot(ctx, rootIDs) },
	})
}

// eachOf runs several task lists as one: tasks[k](i) for i < counts[k].
func (w *Writer) eachOf(ctx context.Context, counts []int, tasks []func(context.Context, int) error) error {
	total := 0
	for _, n := range counts {
		total += n
	}
	if total == 0 {
		return nil
	}
	return w.each(ctx, total, func(ctx context.Context, i int) error {
		for k, n := range counts {
			if i < n {
				return tasks[k](ctx, i)
			}
			i -= n
		}
		return nil
	})
}

// partitionBatches groups batch entries by partition, the partitions in
// the order they first appear.
type partitionBatches[K comparable] struct {
	keys    []K
	entries map[K][]gocql.BatchEntry
}

func (p *partitionBatches[K]) add(key K, e gocql.BatchEntry) {
	if p.entries == nil {
		p.entries = map[K][]gocql.BatchEntry{}
	}
	if _, ok := p.entries[key]; !ok {
		p.keys = append(p.keys, key)
	}
	p.entries[key] = append(p.entries[key], e)
}

// writeBatches writes the entries of one partition in unlogged batches of
// at most maxStatements.
func (w *Writer) writeBatches(ctx context.Context, entries []gocql.BatchEntry) error {
	for start := 0; start < len(entries); start += maxStatements {
		b := w.s.Batch(gocql.UnloggedBatch).WithContext(ctx)
		b.Entries = entries[start:min(start+maxStatements, len(entries))]
		if err := b.ExecContext(ctx); err != nil {
			return err
		}
	}
	return nil
}

// editedAt is the edited_at value of c: unset when never edited, so no
// tombstone is written for it.
func editedAt(c comment.Comment) any {
	if c.EditedAt.IsZero() {
		return gocql.UnsetValue
	}
	return c.EditedAt
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
					editedAt(c), int32(c.ReplyCount), c.Version, e.Version}
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
		editedAt(c), int32(c.ReplyCount), c.Version, e.Version)
	if err := q.Idempotent(true).ExecContext(ctx); err != nil {
		return fmt.Errorf("write comments_by_id %d: %w", c.ID, err)
	}
	return nil
}

// writeReply writes (visible) or removes (not) a reply's replies_by_parent
// row.
func (w *Writer) writeReply(ctx context.Context, e comment.Event) error {
	c := e.Comment
	q := w.s.Query(deleteReply, e.Version, c.ParentID, c.ID)
	if c.Status.Visible() {
		q = w.s.Query(insertReply, c.ParentID, c.ID, c.VideoID, c.UserID, c.Content, c.CreatedAt, editedAt(c),
			int32(c.ReplyCount), c.Version, e.Version)
	}
	if err := q.Idempotent(true).ExecContext(ctx); err != nil {
		return fmt.Errorf("write replies_by_parent %d/%d: %w", c.ParentID, c.ID, err)
	}
	return nil
}

// writePin writes a video's pin, ordered by the pin's version.
func (w *Writer) writePin(ctx context.Context, e comment.Event) error {
	p := e.Pin
	if err := w.s.Query(insertPin, p.VideoID, p.CommentID, p.Version, p.Version).Idempotent(true).ExecContext(ctx); err != nil {
		return fmt.Errorf("write video_pins %d: %w", p.VideoID, err)
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

// Totals returns the approved counts of videos as video_counts holds them
// (0 for a video without a row): after Apply, the counts its recounts wrote.
func (w *Writer) Totals(ctx context.Context, videos []int64) (map[int64]int64, error) {
	counts := make([]int64, len(videos))
	err := w.each(ctx, len(videos), func(ctx context.Context, i int) error {
		err := w.s.Query(readCount, videos[i]).ScanContext(ctx, &counts[i])
		if errors.Is(err, gocql.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read video_counts %d: %w", videos[i], err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make(map[int64]int64, len(videos))
	for i, v := range videos {
		out[v] = counts[i]
	}
	return out, nil
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
