// Package cdctest holds what cdc's integration tests share: comment rows
// written with plain SQL, cached windows filled the way readsvc fills them,
// and a comparison of every cached window and overlay with MySQL.
package cdctest

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/cdc/rowmap"
	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/stacktest"
	"github.com/vidcomments/vidcomments/internal/stores/mysqlstore"
)

// Video returns a video id no other test run uses.
func Video() int64 { return 2e12 + rand.Int64N(1e12) }

// ServerID returns a replica server id for an in-process listener.
func ServerID() uint32 { return 1_000_000 + rand.Uint32N(1<<29) }

// Insert writes a comment row as writesvc would, with plain SQL, and
// returns its id.
func Insert(t testing.TB, db *sql.DB, id, video int64, status comment.Status, content string) int64 {
	t.Helper()
	now := time.Now().UTC()
	_, err := db.Exec(`INSERT INTO comments (id, video_id, user_id, parent_id, content, status, created_at, updated_at, version)
		VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?)`, id, video, 4200+id%7, content, string(status), now, now, now.UnixMicro())
	if err != nil {
		t.Fatalf("insert comment %d: %v", id, err)
	}
	return id
}

// Rows reads every comment row of a video, newest first.
func Rows(ctx context.Context, db *sql.DB, video int64) ([]comment.Comment, error) {
	return mysqlstore.QueryAll(ctx, db, func(rows *sql.Rows, c *comment.Comment) error {
		return rows.Scan(&c.ID, &c.VideoID, &c.UserID, &c.ParentID, &c.Content, &c.Status, &c.CreatedAt, &c.LikeCount, &c.ReplyCount, &c.Version)
	}, `SELECT id, video_id, user_id, parent_id, content, status, created_at, like_count, reply_count, version
		FROM comments WHERE video_id = ? ORDER BY id DESC`, video)
}

// Fill caches a video's window from MySQL's approved rows, the way readsvc
// fills it from the read model: version token first, complete window.
func Fill(t testing.TB, cache *pagecache.Cache, db *sql.DB, video int64) {
	t.Helper()
	ctx := context.Background()
	token, err := cache.BeginFill(ctx, video)
	if err != nil {
		t.Fatal(err)
	}
	all, err := Rows(ctx, db, video)
	if err != nil {
		t.Fatal(err)
	}
	var entries []pagecache.Entry
	for _, c := range all {
		if c.Status.Visible() {
			entries = append(entries, pagecache.Entry{ID: c.ID, Version: c.Version, Body: rowmap.Body(c)})
		}
	}
	if len(entries) > cache.Window() {
		t.Fatalf("video %d has %d approved comments: more than the window %d", video, len(entries), cache.Window())
	}
	res, err := cache.FillSince(ctx, video, token, entries, int64(len(entries)), true)
	if err != nil || !res.Written {
		t.Fatalf("fill video %d: %+v err=%v", video, res, err)
	}
}

// Diff compares a video's cached window and overlay with MySQL and
// describes every mismatch ("" when they agree):
//   - the window holds exactly the approved comments, newest first, each
//     with its public body, and the total counts them;
//   - each overlay entry is the row's latest version (an invisible entry
//     for a row no longer there) with the row's visibility and body;
//   - every row whose version is above since has an overlay entry: cdc saw
//     its latest change.
func Diff(ctx context.Context, cache *pagecache.Cache, db *sql.DB, video, since int64) (string, error) {
	all, err := Rows(ctx, db, video)
	if err != nil {
		return "", err
	}
	page, err := cache.Read(ctx, video, 0, cache.Window())
	if err != nil {
		return "", err
	}
	overlay, err := cache.Overlay(ctx, video)
	if err != nil {
		return "", err
	}
	var diffs []string
	if !page.Cached {
		diffs = append(diffs, "window not cached")
	}
	var want []pagecache.Entry
	byID := map[int64]comment.Comment{}
	for _, c := range all {
		byID[c.ID] = c
		if c.Status.Visible() {
			want = append(want, pagecache.Entry{ID: c.ID, Body: rowmap.Body(c)})
		}
		if ov, ok := overlay[c.ID]; c.Version > since && (!ok || ov.Version != c.Version) {
			diffs = append(diffs, fmt.Sprintf("comment %d v%d (%s): overlay has %+v, want its latest version", c.ID, c.Version, c.Status, ov))
		}
	}
	if page.Cached && page.Total != int64(len(want)) {
		diffs = append(diffs, fmt.Sprintf("total %d, want %d", page.Total, len(want)))
	}
	got := page.Entries
	for i := 0; i < max(len(got), len(want)); i++ {
		switch {
		case i >= len(got):
			diffs = append(diffs, fmt.Sprintf("window lacks %d", want[i].ID))
		case i >= len(want):
			diffs = append(diffs, fmt.Sprintf("window has extra %d", got[i].ID))
		case got[i].ID != want[i].ID:
			diffs = append(diffs, fmt.Sprintf("window[%d] = %d, want %d", i, got[i].ID, want[i].ID))
		case !bytes.Equal(got[i].Body, want[i].Body):
			diffs = append(diffs, fmt.Sprintf("comment %d body %s, want %s", got[i].ID, got[i].Body, want[i].Body))
		}
		if len(diffs) > 20 {
			break
		}
	}
	for id, ov := range overlay {
		c, ok := byID[id]
		switch {
		case !ok && ov.Visible:
			diffs = append(diffs, fmt.Sprintf("overlay shows comment %d, which is no longer in MySQL", id))
		case ok && ov.Version == c.Version && ov.Visible != c.Status.Visible():
			diffs = append(diffs, fmt.Sprintf("overlay says comment %d visible=%v, MySQL says %s", id, ov.Visible, c.Status))
		case ok && ov.Version == c.Version && ov.Visible && !bytes.Equal(ov.Body, rowmap.Body(c)):
			diffs = append(diffs, fmt.Sprintf("overlay body of comment %d is %s", id, ov.Body))
		case ok && ov.Version > c.Version:
			diffs = append(diffs, fmt.Sprintf("overlay has comment %d at v%d, newer than MySQL's v%d", id, ov.Version, c.Version))
		}
	}
	return strings.Join(diffs, "; "), nil
}

// WaitAgree waits until every video's cache agrees with MySQL, failing the
// test with the remaining differences at the deadline.
func WaitAgree(t testing.TB, cache *pagecache.Cache, db *sql.DB, videos []int64, since int64, timeout time.Duration) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	for {
		var diffs []string
		for _, v := range videos {
			d, err := Diff(ctx, cache, db, v, since)
			if err != nil {
				t.Fatal(err)
			}
			if d != "" {
				diffs = append(diffs, fmt.Sprintf("video %d: %s", v, d))
			}
		}
		if len(diffs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cache and MySQL still differ after %v:\n%s", timeout, strings.Join(diffs, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Eventually is stacktest.Eventually, under the name cdc's tests use.
var Eventually = stacktest.Eventually
