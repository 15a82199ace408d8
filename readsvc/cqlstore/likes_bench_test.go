package cqlstore_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/vidcomments/vidcomments/internal/stacktest"
	"github.com/vidcomments/vidcomments/readsvc/cqlstore"
)

// BenchmarkLikesJoin compares the two ways of reading one page's like
// counts (21 comment_likes partitions): one IN query, which the
// coordinator splits into 21 reads and answers when the last is done (what
// Store.Likes did), and Store.Likes, single-partition reads in flight at
// once.
//
//	go test ./readsvc/cqlstore -run '^$' -bench LikesJoin
func BenchmarkLikesJoin(b *testing.B) {
	cass := stacktest.NewCassandra(b)
	ctx := context.Background()
	ids := make([]int64, 21)
	for i := range ids {
		ids[i] = 1e12 + rand.Int64N(1e12)
		if err := cass.Session.Query(`INSERT INTO comment_likes (comment_id, video_id, like_count) VALUES (?, 1, ?)`, ids[i], int64(i)).ExecContext(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("in", func(b *testing.B) {
		for b.Loop() {
			it := cass.Session.Query(`SELECT comment_id, like_count FROM comment_likes WHERE comment_id IN ?`, ids).IterContext(ctx)
			var id, n int64
			for it.Scan(&id, &n) {
			}
			if err := it.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	s := cqlstore.New(cass.Session)
	b.Run("store", func(b *testing.B) {
		for b.Loop() {
			got, err := s.Likes(ctx, ids)
			if err != nil {
				b.Fatal(err)
			}
			if len(got) != len(ids) || got[ids[20]] != 20 {
				b.Fatalf("Likes = %v, want the 21 counts seeded", got)
			}
		}
	})
}
