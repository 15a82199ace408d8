package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/vidcomments/vidcomments/internal/stacktest"
)

// TestBackfillLikesCommand: `syncer backfill-likes` copies a keyspace's
// comment_likes into likes_by_bucket and says how many (the copy itself
// is readmodel.TestBackfillLikeBuckets); bad flags exit 2.
func TestBackfillLikesCommand(t *testing.T) {
	cass := stacktest.NewCassandra(t)
	for _, id := range []int64{1 << 40, 1<<40 + 1} {
		if err := cass.Session.Query(`INSERT INTO comment_likes (comment_id, video_id, like_count, kafka_offset) VALUES (?, 7, 3, 2) USING TIMESTAMP 3`, id).Exec(); err != nil {
			t.Fatal(err)
		}
	}
	var out, errs bytes.Buffer
	args := []string{"-cassandra-hosts", strings.Join(cass.Config.Hosts, ","), "-cassandra-keyspace", cass.Config.Keyspace}
	if code := backfillMain(args, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	if want := "copied 2 like count(s) into likes_by_bucket"; !strings.Contains(out.String(), want) {
		t.Errorf("output %q lacks %q", out.String(), want)
	}
	var n int
	if err := cass.Session.Query(`SELECT COUNT(*) FROM likes_by_bucket`).Scan(&n); err != nil || n != 2 {
		t.Errorf("likes_by_bucket holds %d rows (%v), want 2", n, err)
	}
	for _, tt := range []struct {
		args []string
		code int
	}{{[]string{"-h"}, 0}, {[]string{"-nope"}, 2}} {
		if code := backfillMain(tt.args, &out, &errs); code != tt.code {
			t.Errorf("%v: exit %d, want %d", tt.args, code, tt.code)
		}
	}
}
