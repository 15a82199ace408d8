// Package cqlsource reads the Cassandra read model for the cache inspector
// (internal/inspect): a video's comments_by_video and likes_by_bucket
// rows, the comments_by_id and comment_likes rows of given ids, the
// replies_by_parent rows of given roots, its video_counts row, its
// video_pins row and its hot index (hot_by_video). It is a package of its
// own so that services which must not depend on the Cassandra driver (cdc) can use
// the inspector's cache checks without it.
package cqlsource

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/inspect"
)

// The statements of the source (read only).
const (
	selectBuckets     = `SELECT bucket FROM video_buckets WHERE video_id = ?`
	selectBucket      = `SELECT id, user_id, parent_id, content, created_at, edited_at, like_count, reply_count, version FROM comments_by_video WHERE video_id = ? AND bucket = ?`
	selectByID        = `SELECT video_id, user_id, parent_id, content, status, created_at, edited_at, like_count, reply_count, version FROM comments_by_id WHERE id = ?`
	selectReplies     = `SELECT id, video_id, user_id, content, created_at, edited_at, like_count, reply_count, version FROM replies_by_parent WHERE parent_id = ?`
	selectLikes       = `SELECT like_count FROM comment_likes WHERE comment_id = ?`
	selectBucketLikes = `SELECT id, like_count FROM likes_by_bucket WHERE video_id = ? AND bucket = ?`
	selectCount       = `SELECT approved FROM video_counts WHERE video_id = ?`
	selectPin         = `SELECT comment_id, version FROM video_pins WHERE video_id = ?`
	selectBands       = `SELECT band FROM video_hot_bands WHERE video_id = ?`
	selectHot         = `SELECT like_count, id FROM hot_by_video WHERE video_id = ? AND band = ?`
)

// concurrency bounds the comments_by_id lookups in flight per video.
const concurrency = 16

// Source reads the read model through a session bound to its keyspace.
type Source struct {
	s *gocql.Session
}

// New returns a Source over s.
func New(s *gocql.Session) *Source { return &Source{s: s} }

var _ inspect.CassandraSource = (*Source)(nil)

// Video reads what the read model holds of video: the rows and like
// counts of every bucket video_buckets lists or one of ids falls in, the
// comments_by_id and comment_likes rows of each id, the replies_by_parent
// rows of each of parents, the video's count and its pin.
func (s *Source) Video(ctx context.Context, video int64, ids, parents []int64) (inspect.CassVideo, error) {
	out := inspect.CassVideo{ByVideo: map[int64]inspect.CassRow{}, ByID: map[int64]inspect.CassRow{},
		ByParent: map[int64]inspect.CassRow{}, Likes: map[int64]int64{}, BucketLikes: map[int64]int64{}}
	buckets := map[int32]bool{}
	it := s.s.Query(selectBuckets, video).Idempotent(true).IterContext(ctx)
	var b int32
	for it.Scan(&b) {
		buckets[b] = true
	}
	if err := it.Close(); err != nil {
		return out, fmt.Errorf("cassandra buckets of video %d: %w", video, err)
	}
	for _, id := range ids {
		buckets[comment.Bucket(id)] = true
	}
	order := make([]int32, 0, len(buckets))
	for b := range buckets {
		order = append(order, b)
	}
	sort.Slice(order, func(i, j int) bool { return order[i] > order[j] })
	for _, b := range order {
		it := s.s.Query(selectBucket, video, b).Idempotent(true).PageSize(1000).IterContext(ctx)
		c := comment.Comment{VideoID: video, Status: comment.Approved}
		scanList(it, &c, func() { out.ByVideo[c.ID] = inspect.CassRow{Comment: c} }, &c.ID, &c.UserID, &c.ParentID)
		if err := it.Close(); err != nil {
			return out, fmt.Errorf("cassandra comments of video %d bucket %d: %w", video, b, err)
		}
		it = s.s.Query(selectBucketLikes, video, b).Idempotent(true).PageSize(1000).IterContext(ctx)
		var id, n int64
		for it.Scan(&id, &n) {
			out.BucketLikes[id] = n
		}
		if err := it.Close(); err != nil {
			return out, fmt.Errorf("cassandra likes of video %d bucket %d: %w", video, b, err)
		}
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
		sem  = make(chan struct{}, concurrency)
	)
	for _, id := range ids {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			r, found, err := s.byID(ctx, id)
			var likes *int64
			if err == nil {
				err = s.s.Query(selectLikes, id).Idempotent(true).ScanContext(ctx, &likes)
				if errors.Is(err, gocql.ErrNotFound) {
					err = nil
				} else if err != nil {
					err = fmt.Errorf("cassandra likes of comment %d: %w", id, err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			if found {
				out.ByID[id] = r
			}
			if likes != nil {
				out.Likes[id] = *likes
			}
		}()
	}
	for _, p := range parents {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			rows, err := s.replies(ctx, p)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			for _, r := range rows {
				out.ByParent[r.ID] = r
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return out, err
	}
	err := s.s.Query(selectCount, video).Idempotent(true).ScanContext(ctx, &out.Count)
	switch {
	case errors.Is(err, gocql.ErrNotFound):
	case err != nil:
		return out, fmt.Errorf("cassandra count of video %d: %w", video, err)
	default:
		out.HasCount = true
	}
	var pin inspect.CassPinRow
	err = s.s.Query(selectPin, video).Idempotent(true).ScanContext(ctx, &pin.ID, &pin.Version)
	switch {
	case errors.Is(err, gocql.ErrNotFound):
	case err != nil:
		return out, fmt.Errorf("cassandra pin of video %d: %w", video, err)
	default:
		out.Pin = &pin
	}
	if out.Hot, err = s.hot(ctx, video); err != nil {
		return out, err
	}
	return out, nil
}

// hot reads every hot_by_video row of the bands video_hot_bands lists (a
// band row is written with every entry and never removed, so an entry
// outside them cannot be written by the syncer).
func (s *Source) hot(ctx context.Context, video int64) ([]inspect.CassHotEntry, error) {
	it := s.s.Query(selectBands, video).Idempotent(true).IterContext(ctx)
	var bands []int32
	var b int32
	for it.Scan(&b) {
		bands = append(bands, b)
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("cassandra hot bands of video %d: %w", video, err)
	}
	var out []inspect.CassHotEntry
	for _, b := range bands {
		it := s.s.Query(selectHot, video, b).Idempotent(true).PageSize(1000).IterContext(ctx)
		e := inspect.CassHotEntry{Band: b}
		for it.Scan(&e.Likes, &e.ID) {
			out = append(out, e)
		}
		if err := it.Close(); err != nil {
			return nil, fmt.Errorf("cassandra hot index of video %d band %d: %w", video, b, err)
		}
	}
	return out, nil
}

// replies reads the replies_by_parent rows of parent.
func (s *Source) replies(ctx context.Context, parent int64) ([]inspect.CassRow, error) {
	it := s.s.Query(selectReplies, parent).Idempotent(true).PageSize(1000).IterContext(ctx)
	var out []inspect.CassRow
	c := comment.Comment{ParentID: parent, Status: comment.Approved}
	scanList(it, &c, func() { out = append(out, inspect.CassRow{Comment: c}) }, &c.ID, &c.VideoID, &c.UserID)
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("cassandra replies of %d: %w", parent, err)
	}
	return out, nil
}

// scanList scans each row of it, a comment list table's, into c and calls
// row: the columns keys point to (fields of c) first, then content,
// created_at, edited_at, like_count, reply_count and version, the columns
// every list table selects after its keys (a null reads as the zero value).
func scanList(it *gocql.Iter, c *comment.Comment, row func(), keys ...any) {
	var (
		replies int
		edited  *time.Time
		likes   *int64
	)
	dest := append(keys, &c.Content, &c.CreatedAt, &edited, &likes, &replies, &c.Version)
	for it.Scan(dest...) {
		c.ReplyCount = int64(replies)
		c.EditedAt, c.LikeCount = deref(edited), deref(likes)
		row()
	}
}

// deref is *p, or the zero value for a null column.
func deref[T any](p *T) T {
	var z T
	if p == nil {
		return z
	}
	return *p
}

func (s *Source) byID(ctx context.Context, id int64) (inspect.CassRow, bool, error) {
	var (
		r       inspect.CassRow
		status  string
		replies int
		edited  *time.Time
		likes   *int64
	)
	r.ID = id
	err := s.s.Query(selectByID, id).Idempotent(true).ScanContext(ctx,
		&r.VideoID, &r.UserID, &r.ParentID, &r.Content, &status, &r.CreatedAt, &edited, &likes, &replies, &r.Version)
	r.EditedAt, r.LikeCount = deref(edited), deref(likes)
	if errors.Is(err, gocql.ErrNotFound) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("cassandra comment %d: %w", id, err)
	}
	r.ReplyCount = int64(replies)
	r.Status = comment.Status(status)
	return r, true, nil
}
