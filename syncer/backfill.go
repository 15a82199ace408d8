package main

import (
	"context"
	"fmt"
	"io"

	"github.com/vidcomments/vidcomments/internal/stores/cassandrastore"
	"github.com/vidcomments/vidcomments/syncer/readmodel"
)

// backfillSubcommand fills likes_by_bucket from comment_likes.
const backfillSubcommand = "backfill-likes"

// backfillMain runs `syncer backfill-likes` and returns the exit code.
func backfillMain(args []string, stdout, stderr io.Writer) int {
	about := "Copies every like count in comment_likes into likes_by_bucket, where\n" +
		"readsvc reads a page's counts (schema/cql/050_likes_by_bucket.cql).\n" +
		"Run it once on a keyspace that held likes before that table existed;\n" +
		"until then its pages show 0 likes. Each copy carries the write time of\n" +
		"the count it copies, so it may run beside a live syncer, and running\n" +
		"it again is harmless.\n"
	return runSubcommand(backfillSubcommand, about, args, stderr, func(ctx context.Context, cfg Config) int {
		cass, err := cassandrastore.Open(cfg.Cassandra)
		if err != nil {
			fmt.Fprintf(stderr, "syncer %s: cassandra: %v\n", backfillSubcommand, err)
			return 1
		}
		defer cass.Close()
		w := readmodel.NewWriter(cass, cfg.WriteConcurrency, nil)
		n, err := w.BackfillLikeBuckets(ctx, func(copied int) { fmt.Fprintf(stderr, "copied %d like counts\n", copied) })
		if err != nil {
			fmt.Fprintf(stderr, "syncer %s: %v (%d copied before the error)\n", backfillSubcommand, err, n)
			return 1
		}
		fmt.Fprintf(stdout, "copied %d like count(s) into likes_by_bucket\n", n)
		return 0
	})
}
