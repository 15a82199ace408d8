// Package cqlstore is readsvc's read-only view of the Cassandra read model
// the syncer writes (schema/cql/001_comments.cql): a video's newest visible
// comments walked bucket by bucket, deep pages before a cursor id, the
// video's total, and single comments by id.
package cqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/pagecache"
)

// The statements of this store. Buckets come newest first (CLUSTERING ORDER
// BY bucket DESC) and so do a bucket's ids (id DESC).
const (
	selectBuckets            = `SELECT bucket FROM video_buckets WHERE video_id = ?`
	selectBucketsBefore      = `SELECT bucket FROM video_buckets WHERE video_id = ? AND bucket < ?`
	selectBucket             = `SELECT id, user_id, parent_id, content, created_at, edited_at, like_count, reply_count, version FROM comments_by_video WHERE video_id = ? AND bucket = ? LIMIT ?`
	selectBucketBefore       = `SELECT id, user_id, parent_id, content, created_at, edited_at, like_count, reply_count, version FROM comments_by_video WHERE video_id = ? AND bucket = ? AND id < ? LIMIT ?`
	selectBucketLikes        = `SELECT id, like_count FROM likes_by_bucket WHERE video_id = ? AND bucket = ? LIMIT ?`
	selectBucketLikesBefore  = `SELECT id, like_count FROM likes_by_bucket WHERE video_id = ? AND bucket = ? AND id < ? LIMIT ?`
	selectBucketLikesBetween = `SELECT id, like_count FROM likes_by_bucket WHERE video_id = ? AND bucket = ? AND id >= ? AND id < ?`
	selectTotal              = `SELECT approved FROM video_counts WHERE video_id = ?`
	selectComment            = `SELECT video_id, user_id, parent_id, content, status, created_at, edited_at, like_count, reply_count, version FROM comments_by_id WHERE id = ?`
)

// Store reads the Cassandra read model.
type Store struct {
	s *gocql.Session
}

// New returns a Store over s (bound to the keyspace).
func New(s *gocql.Session) *Store { return &Store{s: s} }

// Page returns up to n visible comments of video older than before (0: from
// the newest), newest first, each with its version and public JSON body.
// all reports that these are every such comment (fewer than n exist).
//
// A bucket's rows come with their like counts from the same partition key
// of likes_by_bucket, read at the same time, so a page costs two
// single-partition reads in parallel per bucket it spans, whatever its
// length.
// A cursor page reads the cursor's own bucket first, without asking
// video_buckets: on a long video that bucket alone fills the page, so a
// page deep down costs those two reads and no more. The older buckets are
// listed only when it runs short.
func (s *Store) Page(ctx context.Context, video, before int64, n int) (rows []pagecache.Stored, all bool, err error) {
	var buckets *gocql.Iter
	if before > 0 {
		first := comment.Bucket(before)
		if rows, err = s.bucket(ctx, rows, video, first, before, n); err != nil {
			return nil, false, err
		}
		if len(rows) == n {
			return rows, false, nil
		}
		buckets = s.s.Query(selectBucketsBefore, video, first).Idempotent(true).IterContext(ctx)
	} else {
		buckets = s.s.Query(selectBuckets, video).Idempotent(true).IterContext(ctx)
	}
	var bucket int32
	for len(rows) < n && buckets.Scan(&bucket) {
		if rows, err = s.bucket(ctx, rows, video, bucket, before, n-len(rows)); err != nil {
			_ = buckets.Close()
			return nil, false, err
		}
	}
	if err := buckets.Close(); err != nil {
		return nil, false, fmt.Errorf("cassandra buckets of video %d: %w", video, err)
	}
	return rows, len(rows) < n, nil
}

// bucket appends up to n comments of one (video, bucket) partition, with
// their like counts. The counts are read beside the rows, at the same
// time: the first n of likes_by_bucket from the same place (before), which
// cover every row unless likes of comments not on the page (replies,
// removed comments) come between; then the rest is read after them.
func (s *Store) bucket(ctx context.Context, rows []pagecache.Stored, video int64, bucket int32, before int64, n int) ([]pagecache.Stored, error) {
	bounded := before > 0 && bucket >= comment.Bucket(before)
	counts := make(chan bucketCounts, 1)
	go func() { counts <- s.countsFrom(ctx, video, bucket, bounded, before, n) }()
	var q *gocql.Query
	if bounded {
		q = s.s.Query(selectBucketBefore, video, bucket, before, n)
	} else {
		q = s.s.Query(selectBucket, video, bucket, n)
	}
	it := q.Idempotent(true).IterContext(ctx)
	c := comment.Comment{VideoID: video, Status: comment.Approved}
	start := len(rows)
	rows, err := listRows(it, rows, &c, &c.ID, &c.UserID, &c.ParentID)
	if err == nil {
		if err = it.Close(); err != nil {
			err = fmt.Errorf("cassandra comments of video %d bucket %d: %w", video, bucket, err)
		}
	}
	got := <-counts
	if err != nil {
		return nil, err
	}
	if got.err != nil {
		return nil, got.err
	}
	page := rows[start:]
	if len(page) == 0 {
		return rows, nil
	}
	if oldest := page[len(page)-1].ID; !got.complete && oldest < got.ids[len(got.ids)-1] {
		more := s.countsBetween(ctx, video, bucket, oldest, got.ids[len(got.ids)-1])
		if more.err != nil {
			return nil, more.err
		}
		got.ids, got.likes = append(got.ids, more.ids...), append(got.likes, more.likes...)
	}
	spliceCounts(page, got)
	return rows, nil
}

// bucketCounts are like counts of one likes_by_bucket partition, ids
// descending; complete says no older id of the partition has one.
type bucketCounts struct {
	ids, likes []int64
	complete   bool
	err        error
}

// countsFrom reads the first n counts of a partition below before (when
// bounded), or from its newest.
func (s *Store) countsFrom(ctx context.Context, video int64, bucket int32, bounded bool, before int64, n int) bucketCounts {
	q := s.s.Query(selectBucketLikes, video, bucket, n)
	if bounded {
		q = s.s.Query(selectBucketLikesBefore, video, bucket, before, n)
	}
	out := scanCounts(q.Idempotent(true).IterContext(ctx), video, bucket)
	out.complete = len(out.ids) < n
	return out
}

// countsBetween reads every count of a partition with from <= id < to.
func (s *Store) countsBetween(ctx context.Context, video int64, bucket int32, from, to int64) bucketCounts {
	return scanCounts(s.s.Query(selectBucketLikesBetween, video, bucket, from, to).Idempotent(true).IterContext(ctx), video, bucket)
}

// scanCounts reads the (id, like_count) rows of it and closes it.
func scanCounts(it *gocql.Iter, video int64, bucket int32) bucketCounts {
	var out bucketCounts
	var id, likes int64
	for it.Scan(&id, &likes) {
		out.ids, out.likes = append(out.ids, id), append(out.likes, likes)
	}
	if err := it.Close(); err != nil {
		out.err = fmt.Errorf("cassandra likes of video %d bucket %d: %w", video, bucket, err)
	}
	return out
}

// spliceCounts sets the like counts of rows (ids descending, as counts)
// that counts holds; the others keep their 0. Counts of ids not among the
// rows are passed over.
func spliceCounts(rows []pagecache.Stored, counts bucketCounts) {
	i := 0
	for k, id := range counts.ids { // both id desc: a merge
		for i < len(rows) && rows[i].ID > id {
			i++
		}
		if i < len(rows) && rows[i].ID == id {
			rows[i].Body = pagecache.SpliceLikes(rows[i].Body, counts.likes[k])
		}
	}
}

// listRows appends to rows the comments it reads, each scanned into c: the
// columns keys point to (fields of c) first, then content, created_at,
// edited_at, like_count, reply_count and version, the columns every list
// table selects after its keys. It closes it only when a body fails.
func listRows(it *gocql.Iter, rows []pagecache.Stored, c *comment.Comment, keys ...any) ([]pagecache.Stored, error) {
	var replies int
	dest := append(keys, &c.Content, &c.CreatedAt, &c.EditedAt, &c.LikeCount, &replies, &c.Version)
	for it.Scan(dest...) {
		c.ReplyCount = int64(replies)
		body, err := Body(*c)
		if err != nil {
			_ = it.Close()
			return nil, err
		}
		rows = append(rows, pagecache.Stored{ID: c.ID, Version: c.Version, Body: body})
		c.EditedAt = time.Time{} // a null edited_at may leave the previous row's
	}
	return rows, nil
}

// Total returns the number of visible comments of video (0 when unknown).
func (s *Store) Total(ctx context.Context, video int64) (int64, error) {
	var n int64
	err := s.s.Query(selectTotal, video).Idempotent(true).ScanContext(ctx, &n)
	if errors.Is(err, gocql.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cassandra total of video %d: %w", video, err)
	}
	return n, nil
}

// Comment returns the comment id in any status with its public JSON body;
// found is false when Cassandra does not hold it.
func (s *Store) Comment(ctx context.Context, id int64) (c comment.Comment, body []byte, found bool, err error) {
	var (
		status  string
		replies int
	)
	c.ID = id
	err = s.s.Query(selectComment, id).Idempotent(true).ScanContext(ctx,
		&c.VideoID, &c.UserID, &c.ParentID, &c.Content, &status, &c.CreatedAt, &c.EditedAt, &c.LikeCount, &replies, &c.Version)
	if errors.Is(err, gocql.ErrNotFound) {
		return comment.Comment{}, nil, false, nil
	}
	if err != nil {
		return comment.Comment{}, nil, false, fmt.Errorf("cassandra comment %d: %w", id, err)
	}
	c.ReplyCount = int64(replies)
	if n, ok, err := s.likesOf(ctx, id); err != nil {
		return comment.Comment{}, nil, false, err
	} else if ok {
		c.LikeCount = n
	}
	if c.Status, err = comment.ParseStatus(status); err != nil {
		return comment.Comment{}, nil, false, fmt.Errorf("cassandra comment %d: %w", id, err)
	}
	if body, err = Body(c); err != nil {
		return comment.Comment{}, nil, false, err
	}
	return c, body, true, nil
}

// Body renders a comment as readers see it: the JSON of comment.Public
// (created_at in milliseconds, as Cassandra keeps it), the same bytes cdc
// records, the page cache holds and the API serves.
func Body(c comment.Comment) ([]byte, error) {
	b, err := json.Marshal(c.Public())
	if err != nil {
		return nil, fmt.Errorf("encode comment %d: %w", c.ID, err)
	}
	return b, nil
}
