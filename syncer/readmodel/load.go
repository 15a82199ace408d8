package readmodel

import (
	"context"
	"fmt"
	"maps"
	"slices"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/vidcomments/vidcomments/internal/comment"
)

// Loader is the bulk path into an empty read model: the rows Apply would
// write for "created" events of new comments that nobody has liked yet, in
// unlogged batches (Load), with every count derived once at the end
// (Recount) instead of after every batch. A load of millions of comments
// then costs about one write per row and table, not the ten reads and
// writes per row that Apply's recount after each batch adds up to on a
// video with a long tail.
//
// The rows and timestamps are exactly Apply's (readmodel_test checks that
// the two leave the same State), so a loaded read model is one the syncer
// would have written; the counts are recounted from the rows, as Apply
// recounts them. Load is not for live traffic: it assumes each row is new
// (to the read model and to the Loader: a row loaded twice is counted
// twice) and has no likes, and until Recount ran the counts are behind.
type Loader struct {
	w       *Writer
	touched map[int64]map[int32]int64 // video → bucket → root comments loaded
}

// NewLoader returns a Loader over w's session and concurrency.
func (w *Writer) NewLoader() *Loader { return &Loader{w: w, touched: map[int64]map[int32]int64{}} }

// Load writes rows: visible root comments into comments_by_id,
// comments_by_video and the hot index (band 0), visible replies into
// comments_by_id and replies_by_parent. Not safe for concurrent use.
//
// A partition that gets several rows of this load gets them in
// single-partition batches. The rows that are alone in their partition —
// every comments_by_id row, and most of a long tail's comments_by_video
// rows — go several partitions to a batch (loadBatches): a request per
// row was most of what a bulk load cost Cassandra.
func (l *Loader) Load(ctx context.Context, rows []comment.Comment) error {
	var parts partitionBatches[string]
	sizes := map[string]int{} // partition → estimated bytes of its rows
	add := func(key string, size int, e gocql.BatchEntry) {
		parts.add(key, e)
		sizes[key] += size
	}
	for _, c := range rows {
		if c.Status != comment.Approved {
			return fmt.Errorf("load comment %d: status %s; the bulk path holds approved comments only", c.ID, c.Status)
		}
		size := len(c.Content) + rowOverhead
		add(fmt.Sprintf("i%d", c.ID), size, gocql.BatchEntry{Stmt: insertByID, Args: []any{c.ID, c.VideoID, c.UserID, c.ParentID, c.Content,
			string(c.Status), c.CreatedAt, editedAt(c), int32(c.ReplyCount), c.Version, c.Version}, Idempotent: true})
		if c.ParentID != 0 {
			add(fmt.Sprintf("r%d", c.ParentID), size, gocql.BatchEntry{Stmt: insertReply, Args: []any{c.ParentID, c.ID, c.VideoID, c.UserID,
				c.Content, c.CreatedAt, editedAt(c), int32(c.ReplyCount), c.Version, c.Version}, Idempotent: true})
			continue
		}
		b := comment.Bucket(c.ID)
		add(fmt.Sprintf("v%d/%d", c.VideoID, b), size, gocql.BatchEntry{Stmt: insertByVideo, Args: []any{c.VideoID, b, c.ID, c.UserID,
			c.ParentID, c.Content, c.CreatedAt, editedAt(c), int32(c.ReplyCount), c.Version, c.Version}, Idempotent: true})
		add(fmt.Sprintf("h%d", c.VideoID), rowOverhead, gocql.BatchEntry{Stmt: insertHot, Args: []any{c.VideoID, int32(0), int64(0), c.ID,
			l.w.stamp()}, Idempotent: true})
		if l.touched[c.VideoID] == nil {
			l.touched[c.VideoID] = map[int32]int64{}
		}
		l.touched[c.VideoID][b]++
	}
	batches := loadBatches(parts, sizes)
	return l.w.each(ctx, len(batches), func(ctx context.Context, i int) error {
		b := l.w.s.Batch(gocql.UnloggedBatch).WithContext(ctx)
		b.Entries = batches[i]
		if err := b.ExecContext(ctx); err != nil {
			return fmt.Errorf("load a batch of %d rows: %w", len(batches[i]), err)
		}
		return nil
	})
}

// Bounds of a bulk batch of single rows: Cassandra warns of an unlogged
// batch across more than 10 partitions
// (unlogged_batch_across_partitions_warn_threshold) or over 5 KiB
// (batch_size_warn_threshold), and refuses one over 50 KiB. rowOverhead
// is what a row's columns but its content add, about.
const (
	groupPartitions = 10
	groupBytes      = 4 << 10
	rowOverhead     = 128
)

// loadBatches cuts the load's partitions into unlogged batches: a
// partition of several rows into batches of its own of at most
// maxStatements, and the partitions of one row into batches of at most
// groupPartitions of them and groupBytes (a row beyond it alone), in the
// order the partitions first appear.
func loadBatches(parts partitionBatches[string], sizes map[string]int) [][]gocql.BatchEntry {
	var out [][]gocql.BatchEntry
	var group []gocql.BatchEntry
	var groupSize int
	for _, k := range parts.keys {
		es := parts.entries[k]
		if len(es) > 1 {
			for start := 0; start < len(es); start += maxStatements {
				out = append(out, es[start:min(start+maxStatements, len(es))])
			}
			continue
		}
		if len(group) > 0 && (len(group) == groupPartitions || groupSize+sizes[k] > groupBytes) {
			out, group, groupSize = append(out, group), nil, 0
		}
		group = append(group, es[0])
		groupSize += sizes[k]
	}
	if len(group) > 0 {
		out = append(out, group)
	}
	return out
}

// Recount writes what Load left behind: each touched partition's
// video_buckets entry, each touched video's video_counts row and its hot
// band 0 in video_hot_bands — one batch per video, from the counts Load
// kept, so that a hundred thousand videos cost a hundred thousand batches
// and no reads (counting every partition back from Cassandra ran at about
// 80 videos a second here). The timestamps are the ones Apply's recount
// writes (Writer.stamp). progress, when not nil, is told how many videos
// are done.
func (l *Loader) Recount(ctx context.Context, progress func(done, total int)) error {
	videos := make([]int64, 0, len(l.touched))
	for v := range l.touched {
		videos = append(videos, v)
	}
	slices.Sort(videos)
	var done int
	const step = 1000
	for start := 0; start < len(videos); start += step {
		chunk := videos[start:min(start+step, len(videos))]
		err := l.w.each(ctx, len(chunk), func(ctx context.Context, i int) error {
			v := chunk[i]
			entries := []gocql.BatchEntry{{Stmt: insertBand, Args: []any{v, int32(0)}, Idempotent: true}}
			var total int64
			for _, b := range slices.Sorted(maps.Keys(l.touched[v])) {
				n := l.touched[v][b]
				total += n
				entries = append(entries, gocql.BatchEntry{Stmt: writeBucket, Args: []any{v, b, n, l.w.stamp()}, Idempotent: true})
			}
			entries = append(entries, gocql.BatchEntry{Stmt: writeCount, Args: []any{v, total, l.w.stamp()}, Idempotent: true})
			if err := l.w.writeBatches(ctx, entries); err != nil {
				return fmt.Errorf("write the counts of video %d: %w", v, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		done += len(chunk)
		if progress != nil {
			progress(done, len(videos))
		}
	}
	clear(l.touched)
	return nil
}
