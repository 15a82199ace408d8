package readmodel

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/vidcomments/vidcomments/internal/comment"
)

// scanLikeTimes is comment_likes with each count's write time, the stamp
// its copy in likes_by_bucket must carry.
const scanLikeTimes = `SELECT comment_id, video_id, like_count, WRITETIME(like_count) FROM comment_likes`

// BackfillLikeBuckets copies every comment_likes count into likes_by_bucket
// (schema/cql/050), each at its own write time, and returns how many it
// copied; progress, when not nil, is told the running total every 10,000. It is
// the migration of a keyspace that held likes before that table existed.
// It may run beside a live syncer and any number of times: a copy carries
// the stamp of the count it copies, so a newer count the syncer writes in
// the meantime keeps its higher stamp and wins.
func (w *Writer) BackfillLikeBuckets(ctx context.Context, progress func(copied int)) (int, error) {
	it := w.s.Query(scanLikeTimes).PageSize(5000).IterContext(ctx)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(w.concurrency)
	copied := 0
	var id, video, count, stamp int64
	for it.Scan(&id, &video, &count, &stamp) {
		args := []any{video, comment.Bucket(id), id, count, stamp}
		g.Go(func() error {
			if err := w.s.Query(writeBucketLikes, args...).Idempotent(true).ExecContext(gctx); err != nil {
				return fmt.Errorf("copy likes of %d into likes_by_bucket: %w", args[2], err)
			}
			return nil
		})
		if copied++; progress != nil && copied%10000 == 0 {
			progress(copied)
		}
		if gctx.Err() != nil {
			break
		}
	}
	scanErr := it.Close()
	if err := g.Wait(); err != nil {
		return copied, err
	}
	if scanErr != nil {
		return copied, fmt.Errorf("scan comment_likes: %w", scanErr)
	}
	return copied, nil
}
