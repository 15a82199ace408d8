package cqlstore

import (
	"context"
	"errors"
	"fmt"
	"math/bits"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"golang.org/x/sync/errgroup"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/pagecache"
)

// The statements of likes, the hot index, replies and pins
// (schema/cql/040_likes_replies.cql).
const (
	selectLike          = `SELECT like_count FROM comment_likes WHERE comment_id = ?`
	selectHotBands      = `SELECT band FROM video_hot_bands WHERE video_id = ?`
	selectHotBandsBelow = `SELECT band FROM video_hot_bands WHERE video_id = ? AND band <= ?`
	selectHotBand       = `SELECT like_count, id FROM hot_by_video WHERE video_id = ? AND band = ? LIMIT ?`
	selectHotBandAfter  = `SELECT like_count, id FROM hot_by_video WHERE video_id = ? AND band = ? AND (like_count, id) < (?, ?) LIMIT ?`
	selectComments      = `SELECT id, video_id, user_id, parent_id, content, status, created_at, edited_at, like_count, reply_count, version FROM comments_by_id WHERE id IN ?`
	selectReplies       = `SELECT id, video_id, user_id, content, created_at, edited_at, like_count, reply_count, version FROM replies_by_parent WHERE parent_id = ? LIMIT ?`
	selectRepliesBefore = `SELECT id, video_id, user_id, content, created_at, edited_at, like_count, reply_count, version FROM replies_by_parent WHERE parent_id = ? AND id < ? LIMIT ?`
	selectPin           = `SELECT comment_id, version FROM video_pins WHERE video_id = ?`
	inBatch             = 100 // ids per IN query
	likesFanOut         = 32  // like-count reads in flight per page
)

// Band is the hot index partition of a like count: bits.Len64(likes).
func Band(likes int64) int { return bits.Len64(uint64(max(likes, 0))) }

// likesOf returns comment id's like count from comment_likes.
func (s *Store) likesOf(ctx context.Context, id int64) (int64, bool, error) {
	var n int64
	err := s.s.Query(selectLike, id).Idempotent(true).ScanContext(ctx, &n)
	if errors.Is(err, gocql.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("cassandra likes of comment %d: %w", id, err)
	}
	return n, true, nil
}

// Likes returns the like counts comment_likes holds for ids (absent: none).
// Each id is its own single-partition read, up to likesFanOut in flight:
// an IN over a page's 21 partitions made the coordinator gather them all
// before answering, and took about twice as long (BenchmarkLikesJoin, 21
// ids on the stack's node: 3.4–3.6 ms against 1.7–1.9 ms). Cassandra does
// the same partition reads either way, so the read path's cap on
// concurrent page builds (pages.Options.MaxInflight) still bounds its work.
func (s *Store) Likes(ctx context.Context, ids []int64) (map[int64]int64, error) {
	counts := make([]int64, len(ids))
	found := make([]bool, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(likesFanOut)
	for i, id := range ids {
		g.Go(func() error {
			n, ok, err := s.likesOf(gctx, id)
			counts[i], found[i] = n, ok
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := make(map[int64]int64, len(ids))
	for i, id := range ids {
		if found[i] {
			out[id] = counts[i]
		}
	}
	return out, nil
}

// likedPage is rows, a page of n asked for, with their like counts joined,
// and whether they are every row there is (fewer than n).
func (s *Store) likedPage(ctx context.Context, rows []pagecache.Stored, n int) ([]pagecache.Stored, bool, error) {
	if err := s.joinLikes(ctx, rows); err != nil {
		return nil, false, err
	}
	return rows, len(rows) < n, nil
}

// joinLikes sets every row's like_count from comment_likes: the syncer
// keeps counts there, not in the comment rows.
func (s *Store) joinLikes(ctx context.Context, rows []pagecache.Stored) error {
	if len(rows) == 0 {
		return nil
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	likes, err := s.Likes(ctx, ids)
	if err != nil {
		return err
	}
	for i, r := range rows {
		if n, ok := likes[r.ID]; ok {
			rows[i].Body = pagecache.SpliceLikes(r.Body, n)
		}
	}
	return nil
}

// HotPage returns up to n visible roots of video after pos in hot order
// (likes desc, id desc; the zero pos: from the top), each with its Likes,
// Version and body. It reads video_hot_bands, then the bands from pos's
// down, each with LIMIT what is still missing: O(n) rows, never a scan.
// Index rows of comments no longer visible roots are skipped; counts come
// from comment_likes (the index may hold a stray row). all reports that
// the index ran out.
func (s *Store) HotPage(ctx context.Context, video int64, pos pagecache.HotPos, n int) (rows []pagecache.Entry, all bool, err error) {
	var bands *gocql.Iter
	if pos.ID > 0 {
		bands = s.s.Query(selectHotBandsBelow, video, Band(pos.Likes)).Idempotent(true).IterContext(ctx)
	} else {
		bands = s.s.Query(selectHotBands, video).Idempotent(true).IterContext(ctx)
	}
	var list []int
	var b int
	for bands.Scan(&b) {
		list = append(list, b)
	}
	if err := bands.Close(); err != nil {
		return nil, false, fmt.Errorf("cassandra hot bands of video %d: %w", video, err)
	}
	seen := map[int64]bool{}
	for _, band := range list {
		cur, inBand := pos, pos.ID > 0 && band == Band(pos.Likes)
		if pos.ID > 0 && band > Band(pos.Likes) {
			continue
		}
		// Read keys until n visible roots are found or the band ends.
		for len(rows) < n {
			want := n - len(rows)
			q := s.s.Query(selectHotBand, video, band, want)
			if inBand {
				q = s.s.Query(selectHotBandAfter, video, band, cur.Likes, cur.ID, want)
			}
			it := q.Idempotent(true).IterContext(ctx)
			var keys []pagecache.HotPos
			var likes, id int64
			for it.Scan(&likes, &id) {
				keys = append(keys, pagecache.HotPos{Likes: likes, ID: id})
			}
			if err := it.Close(); err != nil {
				return nil, false, fmt.Errorf("cassandra hot band %d of video %d: %w", band, video, err)
			}
			got, err := s.hotRows(ctx, video, keys, seen)
			if err != nil {
				return nil, false, err
			}
			rows = append(rows, got...)
			if len(keys) > 0 {
				cur, inBand = keys[len(keys)-1], true
			}
			if len(keys) < want {
				break
			}
		}
		if len(rows) >= n {
			break
		}
	}
	return rows, len(rows) < n, nil
}

// hotRows turns index keys into entries: the comment rows and their like
// counts, visible roots of video only, each id once.
func (s *Store) hotRows(ctx context.Context, video int64, keys []pagecache.HotPos, seen map[int64]bool) ([]pagecache.Entry, error) {
	ids := make([]int64, 0, len(keys))
	for _, k := range keys {
		if !seen[k.ID] {
			ids = append(ids, k.ID)
		}
	}
	cs, err := s.Comments(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]pagecache.Entry, 0, len(keys))
	for _, k := range keys {
		c, ok := cs[k.ID]
		if seen[k.ID] || !ok || c.VideoID != video || c.ParentID != 0 || !c.Status.Visible() {
			continue
		}
		seen[k.ID] = true
		body, err := Body(c)
		if err != nil {
			return nil, err
		}
		out = append(out, pagecache.Entry{ID: c.ID, Likes: k.Likes, Version: c.Version, Body: body})
	}
	return out, nil
}

// Comments returns the comments ids in any status, like counts joined.
func (s *Store) Comments(ctx context.Context, ids []int64) (map[int64]comment.Comment, error) {
	out := make(map[int64]comment.Comment, len(ids))
	for i := 0; i < len(ids); i += inBatch {
		it := s.s.Query(selectComments, ids[i:min(i+inBatch, len(ids))]).Idempotent(true).IterContext(ctx)
		var (
			c       comment.Comment
			status  string
			replies int
		)
		for it.Scan(&c.ID, &c.VideoID, &c.UserID, &c.ParentID, &c.Content, &status, &c.CreatedAt, &c.EditedAt, &c.LikeCount, &replies, &c.Version) {
			c.ReplyCount = int64(replies)
			st, err := comment.ParseStatus(status)
			if err != nil {
				continue
			}
			c.Status = st
			out[c.ID] = c
			c = comment.Comment{}
		}
		if err := it.Close(); err != nil {
			return nil, fmt.Errorf("cassandra comments by id: %w", err)
		}
	}
	likes, err := s.Likes(ctx, ids)
	if err != nil {
		return nil, err
	}
	for id, n := range likes {
		if c, ok := out[id]; ok {
			c.LikeCount = n
			out[id] = c
		}
	}
	return out, nil
}

// Replies returns up to n visible replies of root parent older than before
// (0: from the newest), newest first, like counts joined; all reports that
// these are every such reply.
func (s *Store) Replies(ctx context.Context, parent, before int64, n int) (rows []pagecache.Stored, all bool, err error) {
	var q *gocql.Query
	if before > 0 {
		q = s.s.Query(selectRepliesBefore, parent, before, n)
	} else {
		q = s.s.Query(selectReplies, parent, n)
	}
	it := q.Idempotent(true).IterContext(ctx)
	c := comment.Comment{ParentID: parent, Status: comment.Approved}
	if rows, err = listRows(it, nil, &c, &c.ID, &c.VideoID, &c.UserID); err != nil {
		return nil, false, err
	}
	if err := it.Close(); err != nil {
		return nil, false, fmt.Errorf("cassandra replies of %d: %w", parent, err)
	}
	return s.likedPage(ctx, rows, n)
}

// Pin returns video's pinned comment (0: none) and its version (0: no row).
func (s *Store) Pin(ctx context.Context, video int64) (id, version int64, err error) {
	err = s.s.Query(selectPin, video).Idempotent(true).ScanContext(ctx, &id, &version)
	if errors.Is(err, gocql.ErrNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("cassandra pin of video %d: %w", video, err)
	}
	return id, version, nil
}
