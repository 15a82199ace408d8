// Package cqlseed writes the Cassandra read model the way the syncer does,
// for readsvc's tests: every write USING TIMESTAMP <row version>, visible
// comments in comments_by_video, every comment in comments_by_id, the
// video's bucket listed in video_buckets and its total rewritten in
// video_counts.
package cqlseed

import (
	"context"
	"fmt"
	"sync"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/vidcomments/vidcomments/internal/comment"
)

const (
	insertByVideo = `INSERT INTO comments_by_video (video_id, bucket, id, user_id, parent_id, content, created_at, like_count, reply_count, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`
	deleteByVideo = `DELETE FROM comments_by_video USING TIMESTAMP ? WHERE video_id = ? AND bucket = ? AND id = ?`
	insertByID    = `INSERT INTO comments_by_id (id, video_id, user_id, parent_id, content, status, created_at, like_count, reply_count, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`
	upsertBucket  = `INSERT INTO video_buckets (video_id, bucket, comment_count) VALUES (?, ?, ?) USING TIMESTAMP ?`
	upsertTotal   = `INSERT INTO video_counts (video_id, approved) VALUES (?, ?) USING TIMESTAMP ?`
)

// Writer applies comment rows to Cassandra like the syncer. It remembers
// which comments it made visible, to rewrite the counts.
type Writer struct {
	s       *gocql.Session
	mu      sync.Mutex
	visible map[int64]map[int64]bool // video → id → visible
	countTS int64                    // write timestamp of the last count rewrite
}

// New returns a Writer over s (bound to the keyspace).
func New(s *gocql.Session) *Writer {
	return &Writer{s: s, visible: map[int64]map[int64]bool{}}
}

// Put applies one row.
func (w *Writer) Put(ctx context.Context, c comment.Comment) error {
	w.mu.Lock()
	vis := w.visible[c.VideoID]
	if vis == nil {
		vis = map[int64]bool{}
		w.visible[c.VideoID] = vis
	}
	vis[c.ID] = c.Status.Visible()
	var total, inBucket int64
	b := comment.Bucket(c.ID)
	for id, v := range vis {
		if v {
			total++
			if comment.Bucket(id) == b {
				inBucket++
			}
		}
	}
	// Counts are rewritten, so the rewrite made from the latest state must
	// carry the highest timestamp, whatever order concurrent Puts land in.
	w.countTS = comment.NextVersion(w.countTS, time.Now())
	countTS := w.countTS
	w.mu.Unlock()

	ts := c.Version
	stmts := []struct {
		q    string
		args []any
	}{
		{insertByID, []any{c.ID, c.VideoID, c.UserID, c.ParentID, c.Content, string(c.Status), c.CreatedAt, c.LikeCount, int(c.ReplyCount), c.Version, ts}},
		{upsertBucket, []any{c.VideoID, b, inBucket, countTS}},
		{upsertTotal, []any{c.VideoID, total, countTS}},
	}
	if c.Status.Visible() {
		stmts = append(stmts, struct {
			q    string
			args []any
		}{insertByVideo, []any{c.VideoID, b, c.ID, c.UserID, c.ParentID, c.Content, c.CreatedAt, c.LikeCount, int(c.ReplyCount), c.Version, ts}})
	} else {
		stmts = append(stmts, struct {
			q    string
			args []any
		}{deleteByVideo, []any{ts, c.VideoID, b, c.ID}})
	}
	for _, st := range stmts {
		if err := w.s.Query(st.q, st.args...).ExecContext(ctx); err != nil {
			return fmt.Errorf("seed comment %d: %w", c.ID, err)
		}
	}
	return nil
}

// PutAll applies rows with a few concurrent writers.
func (w *Writer) PutAll(ctx context.Context, cs []comment.Comment) error {
	const workers = 8
	work := make(chan comment.Comment)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				if err := w.Put(ctx, c); err != nil {
					errs <- err
					for range work {
					}
					return
				}
			}
		}()
	}
	for _, c := range cs {
		work <- c
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs
}

// Comment returns an approved comment of video with id, made at the id's
// time.
func Comment(video, id int64) comment.Comment {
	return comment.Comment{
		ID: id, VideoID: video, UserID: 1000 + id%1000, Content: fmt.Sprintf("comment %d of video %d <&>", id, video),
		Status: comment.Approved, CreatedAt: comment.IDTime(id), Version: comment.NextVersion(0, time.Now()),
	}
}

// Comments returns n approved comments of video, oldest first, the newest
// made at newest and each step before the next: a step of minutes spreads
// them over several hour buckets.
func Comments(video int64, n int, newest time.Time, step time.Duration) []comment.Comment {
	out := make([]comment.Comment, 0, n)
	for i := range n {
		at := newest.Add(-time.Duration(n-1-i) * step)
		id := comment.MinIDAt(at) | int64(i)&(1<<comment.SeqBits-1)
		out = append(out, Comment(video, id))
	}
	return out
}
