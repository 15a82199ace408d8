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
	selectBuckets       = `SELECT bucket FROM video_buckets WHERE video_id = ?`
	selectBucketsBefore = `SELECT bucket FROM video_buckets WHERE video_id = ? AND bucket < ?`
	selectBucket        = `SELECT id, user_id, parent_id, content, created_at, edited_at, like_count, reply_count, version FROM comments_by_video WHERE video_id = ? AND bucket = ? LIMIT ?`
	selectBucketBefore  = `SELECT id, user_id, parent_id, content, created_at, edited_at, like_count, reply_count, version FROM comments_by_video WHERE video_id = ? AND bucket = ? AND id < ? LIMIT ?`
	selectBucketLikes   = `SELECT id, like_count FROM likes_by_bucket WHERE video_id = ? AND bucket = ? AND id >= ? AND id <= ?`
	selectTotal         = `SELECT approved FROM video_counts WHERE video_id = ?`
	selectComment       = `SELECT video_id, user_id, parent_id, content, status, created_at, edited_at, like_count, reply_count, version FROM comments_by_id WHERE id = ?`
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
// of likes_by_bucket, one slice for the whole run of rows, so a page costs
// two single-partition reads per bucket it spans, whatever its length.
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
// their like counts.
func (s *Store) bucket(ctx context.Context, rows []pagecache.Stored, video int64, bucket int32, before int64, n int) ([]pagecache.Stored, error) {
	var q *gocql.Query
	if before > 0 && bucket >= comment.Bucket(before) {
		q = s.s.Query(selectBucketBefore, video, bucket, before, n)
	} else {
		q = s.s.Query(selectBucket, video, bucket, n)
	}
	it := q.Idempotent(true).IterContext(ctx)
	c := comment.Comment{VideoID: video, Status: comment.Approved}
	start := len(rows)
	rows, err := listRows(it, rows, &c, &c.ID, &c.UserID, &c.ParentID)
	if err != nil {
		return nil, err
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("cassandra comments of video %d bucket %d: %w", video, bucket, err)
	}
	if err := s.bucketLikes(ctx, rows[start:], video, bucket); err != nil {
		return nil, err
	}
	return rows, nil
}

// bucketLikes sets the like counts of rows, one partition's comments
// newest first, from likes_by_bucket: the slice of the same partition key
// between the oldest row's id and the newest's. The slice also holds the
// counts of the replies and removed comments whose ids fall between; they
// are read and passed over. A row without a count keeps its 0.
func (s *Store) bucketLikes(ctx context.Context, rows []pagecache.Stored, video int64, bucket int32) error {
	if len(rows) == 0 {
		return nil
	}
	it := s.s.Query(selectBucketLikes, video, bucket, rows[len(rows)-1].ID, rows[0].ID).Idempotent(true).IterContext(ctx)
	var id, likes int64
	i := 0
	for it.Scan(&id, &likes) { // both id desc: a merge
		for i < len(rows) && rows[i].ID > id {
			i++
		}
		if i < len(rows) && rows[i].ID == id {
			rows[i].Body = pagecache.SpliceLikes(rows[i].Body, likes)
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("cassandra likes of video %d bucket %d: %w", video, bucket, err)
	}
	return nil
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
