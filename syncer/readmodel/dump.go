package readmodel

import (
	"context"
	"fmt"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/vidcomments/vidcomments/internal/comment"
)

// Row is a comment as a read-model table holds it.
type Row struct {
	comment.Comment
	// WriteTime is the cell timestamp of content: the version of the event
	// that wrote the row.
	WriteTime int64
}

// State is the whole read model of a keyspace.
type State struct {
	ByID        map[int64]Row             // comments_by_id (Status set)
	ByVideo     map[int64]Row             // comments_by_video by comment id (Status left empty)
	Replies     map[int64]Row             // replies_by_parent by comment id (Status left empty)
	Buckets     map[int64]map[int32]int64 // video_buckets: video → bucket → comment_count
	Counts      map[int64]int64           // video_counts: video → approved
	Likes       map[int64]int64           // comment_likes: comment → like_count
	BucketLikes map[int64]int64           // likes_by_bucket: comment → like_count (the copy time pages read)
	Hot         map[int64]HotEntry        // hot_by_video by comment id
	// HotDuplicates lists comments with more than one hot_by_video row.
	HotDuplicates []int64
}

// HotEntry is one row of hot_by_video.
type HotEntry struct {
	VideoID int64
	Band    int32
	Count   int64
}

func newState() State {
	return State{ByID: map[int64]Row{}, ByVideo: map[int64]Row{}, Replies: map[int64]Row{}, Buckets: map[int64]map[int32]int64{},
		Counts: map[int64]int64{}, Likes: map[int64]int64{}, BucketLikes: map[int64]int64{}, Hot: map[int64]HotEntry{}}
}

// The statements of Dump: whole-table scans. like_count of the comment
// tables is no longer written (null reads as 0).
const (
	scanByID        = `SELECT id, video_id, user_id, parent_id, content, status, created_at, edited_at, like_count, reply_count, version, WRITETIME(content) FROM comments_by_id`
	scanByVideo     = `SELECT video_id, bucket, id, user_id, parent_id, content, created_at, edited_at, like_count, reply_count, version, WRITETIME(content) FROM comments_by_video`
	scanReplies     = `SELECT parent_id, id, video_id, user_id, content, created_at, edited_at, like_count, reply_count, version, WRITETIME(content) FROM replies_by_parent`
	scanBuckets     = `SELECT video_id, bucket, comment_count FROM video_buckets`
	scanCounts      = `SELECT video_id, approved FROM video_counts`
	scanLikes       = `SELECT comment_id, like_count FROM comment_likes`
	scanBucketLikes = `SELECT id, like_count FROM likes_by_bucket`
	scanHot         = `SELECT video_id, band, like_count, id FROM hot_by_video`
)

// Dump reads every table of the read model. It scans whole tables: for tests
// and inspection of small keyspaces, never for serving.
func Dump(ctx context.Context, s *gocql.Session) (State, error) {
	st := newState()
	var (
		r       Row
		status  string
		replies int32
		bucket  int32
		n       int64
		video   int64
		edited  time.Time
	)
	utc := func(r *Row) {
		r.CreatedAt, r.EditedAt = r.CreatedAt.UTC(), time.Time{}
		if !edited.IsZero() {
			r.EditedAt = edited.UTC()
		}
	}
	iter := s.Query(scanByID).IterContext(ctx)
	for iter.Scan(&r.ID, &r.VideoID, &r.UserID, &r.ParentID, &r.Content, &status, &r.CreatedAt, &edited, &r.LikeCount, &replies, &r.Version, &r.WriteTime) {
		r.Status, r.ReplyCount = comment.Status(status), int64(replies)
		utc(&r)
		st.ByID[r.ID] = r
	}
	if err := iter.Close(); err != nil {
		return State{}, fmt.Errorf("scan comments_by_id: %w", err)
	}
	iter = s.Query(scanByVideo).IterContext(ctx)
	for iter.Scan(&r.VideoID, &bucket, &r.ID, &r.UserID, &r.ParentID, &r.Content, &r.CreatedAt, &edited, &r.LikeCount, &replies, &r.Version, &r.WriteTime) {
		if bucket != comment.Bucket(r.ID) {
			return State{}, fmt.Errorf("comments_by_video: comment %d in bucket %d, want %d", r.ID, bucket, comment.Bucket(r.ID))
		}
		r.Status, r.ReplyCount = "", int64(replies)
		utc(&r)
		st.ByVideo[r.ID] = r
	}
	if err := iter.Close(); err != nil {
		return State{}, fmt.Errorf("scan comments_by_video: %w", err)
	}
	iter = s.Query(scanReplies).IterContext(ctx)
	for iter.Scan(&r.ParentID, &r.ID, &r.VideoID, &r.UserID, &r.Content, &r.CreatedAt, &edited, &r.LikeCount, &replies, &r.Version, &r.WriteTime) {
		r.Status, r.ReplyCount = "", int64(replies)
		utc(&r)
		st.Replies[r.ID] = r
	}
	if err := iter.Close(); err != nil {
		return State{}, fmt.Errorf("scan replies_by_parent: %w", err)
	}
	var id int64
	iter = s.Query(scanLikes).IterContext(ctx)
	for iter.Scan(&id, &n) {
		st.Likes[id] = n
	}
	if err := iter.Close(); err != nil {
		return State{}, fmt.Errorf("scan comment_likes: %w", err)
	}
	iter = s.Query(scanBucketLikes).IterContext(ctx)
	for iter.Scan(&id, &n) {
		st.BucketLikes[id] = n
	}
	if err := iter.Close(); err != nil {
		return State{}, fmt.Errorf("scan likes_by_bucket: %w", err)
	}
	var h HotEntry
	iter = s.Query(scanHot).IterContext(ctx)
	for iter.Scan(&h.VideoID, &h.Band, &h.Count, &id) {
		if _, dup := st.Hot[id]; dup {
			st.HotDuplicates = append(st.HotDuplicates, id)
		}
		st.Hot[id] = h
	}
	if err := iter.Close(); err != nil {
		return State{}, fmt.Errorf("scan hot_by_video: %w", err)
	}
	iter = s.Query(scanBuckets).IterContext(ctx)
	for iter.Scan(&video, &bucket, &n) {
		if st.Buckets[video] == nil {
			st.Buckets[video] = map[int32]int64{}
		}
		st.Buckets[video][bucket] = n
	}
	if err := iter.Close(); err != nil {
		return State{}, fmt.Errorf("scan video_buckets: %w", err)
	}
	iter = s.Query(scanCounts).IterContext(ctx)
	for iter.Scan(&video, &n) {
		st.Counts[video] = n
	}
	if err := iter.Close(); err != nil {
		return State{}, fmt.Errorf("scan video_counts: %w", err)
	}
	return st, nil
}

// Expect is the read model that a set of final rows must produce: what the
// syncer must leave once it has applied every change, with no likes.
// Cassandra keeps timestamps to the millisecond, so created_at and
// edited_at are truncated to match; the rows' like_count is never written
// (the count lives in comment_likes), so it is 0.
func Expect(rows []comment.Comment) State { return ExpectLikes(rows, nil) }

// ExpectLikes is Expect with like counts: comment_likes and likes_by_bucket
// hold likes, and the hot index every visible root with its count (0 if
// not in likes).
func ExpectLikes(rows []comment.Comment, likes map[int64]int64) State {
	st := newState()
	for id, n := range likes {
		st.Likes[id] = n
		st.BucketLikes[id] = n
	}
	for _, c := range rows {
		c.CreatedAt = c.CreatedAt.UTC().Truncate(time.Millisecond)
		if !c.EditedAt.IsZero() {
			c.EditedAt = c.EditedAt.UTC().Truncate(time.Millisecond)
		}
		c.LikeCount = 0
		st.ByID[c.ID] = Row{Comment: c, WriteTime: c.Version}
		if _, ok := st.Counts[c.VideoID]; !ok {
			st.Counts[c.VideoID] = 0
		}
		if !c.Status.Visible() {
			continue
		}
		v := c
		v.Status = ""
		if c.ParentID != 0 {
			st.Replies[c.ID] = Row{Comment: v, WriteTime: c.Version}
			continue
		}
		n := likes[c.ID]
		st.Hot[c.ID] = HotEntry{VideoID: c.VideoID, Band: Band(n), Count: n}
		st.ByVideo[c.ID] = Row{Comment: v, WriteTime: c.Version}
		if st.Buckets[c.VideoID] == nil {
			st.Buckets[c.VideoID] = map[int32]int64{}
		}
		st.Buckets[c.VideoID][comment.Bucket(c.ID)]++
		st.Counts[c.VideoID]++
	}
	return st
}

// Diff lists the differences between got and want, at most limit of them.
// A comment with no likes may have a like_count of 0 or no row at all.
func Diff(got, want State, limit int) []string {
	var out []string
	add := func(format string, args ...any) {
		if len(out) < limit {
			out = append(out, fmt.Sprintf(format, args...))
		}
	}
	diffMap(add, "comments_by_id", got.ByID, want.ByID)
	diffMap(add, "comments_by_video", got.ByVideo, want.ByVideo)
	diffMap(add, "replies_by_parent", got.Replies, want.Replies)
	diffMap(add, "comment_likes", withoutZeros(got.Likes), withoutZeros(want.Likes))
	diffMap(add, "likes_by_bucket", withoutZeros(got.BucketLikes), withoutZeros(want.BucketLikes))
	diffMap(add, "hot_by_video", got.Hot, want.Hot)
	for _, id := range got.HotDuplicates {
		add("hot_by_video: comment %d has more than one entry", id)
	}
	diffMap(add, "video_buckets", flatBuckets(got.Buckets), flatBuckets(want.Buckets))
	diffMap(add, "video_counts", got.Counts, want.Counts)
	return out
}

// diffMap adds a line for each key of want that got lacks or holds
// differently, and for each key of got that want lacks.
func diffMap[K, V comparable](add func(string, ...any), table string, got, want map[K]V) {
	for k, w := range want {
		if g, ok := got[k]; !ok {
			add("%s %v: missing\n  want %+v", table, k, w)
		} else if g != w {
			add("%s %v:\n  got  %+v\n  want %+v", table, k, g, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			add("%s %v: %+v should not be there", table, k, g)
		}
	}
}

func withoutZeros(m map[int64]int64) map[int64]int64 {
	out := make(map[int64]int64, len(m))
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// bucketKey names one row of video_buckets in a Diff.
type bucketKey struct {
	Video  int64
	Bucket int32
}

func (k bucketKey) String() string { return fmt.Sprintf("%d/%d", k.Video, k.Bucket) }

func flatBuckets(m map[int64]map[int32]int64) map[bucketKey]int64 {
	out := map[bucketKey]int64{}
	for v, bs := range m {
		for b, n := range bs {
			out[bucketKey{v, b}] = n
		}
	}
	return out
}

// Videos returns the part of s that belongs to the given videos.
func (s State) Videos(ids ...int64) State {
	keep := map[int64]bool{}
	for _, id := range ids {
		keep[id] = true
	}
	rowVideo := func(_ int64, r Row) int64 { return r.VideoID }
	out := State{
		ByID:        ofVideos(s.ByID, keep, rowVideo),
		ByVideo:     ofVideos(s.ByVideo, keep, rowVideo),
		Replies:     ofVideos(s.Replies, keep, rowVideo),
		Hot:         ofVideos(s.Hot, keep, func(_ int64, h HotEntry) int64 { return h.VideoID }),
		Buckets:     ofVideos(s.Buckets, keep, func(v int64, _ map[int32]int64) int64 { return v }),
		Counts:      ofVideos(s.Counts, keep, func(v, _ int64) int64 { return v }),
		Likes:       map[int64]int64{},
		BucketLikes: map[int64]int64{},
	}
	for _, id := range s.HotDuplicates {
		if keep[s.Hot[id].VideoID] {
			out.HotDuplicates = append(out.HotDuplicates, id)
		}
	}
	for _, likes := range []struct{ from, to map[int64]int64 }{{s.Likes, out.Likes}, {s.BucketLikes, out.BucketLikes}} {
		for id, n := range likes.from {
			if r, ok := s.ByID[id]; ok && keep[r.VideoID] {
				likes.to[id] = n
			}
		}
	}
	return out
}

// ofVideos returns the entries of m whose video, as video says, is kept.
func ofVideos[V any](m map[int64]V, keep map[int64]bool, video func(int64, V) int64) map[int64]V {
	out := make(map[int64]V)
	for k, v := range m {
		if keep[video(k, v)] {
			out[k] = v
		}
	}
	return out
}
