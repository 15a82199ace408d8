package binlog_test

import (
	"context"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/cdc/internal/cdctest"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/stacktest"
)

// A video_pins row change reaches the cache's pin (pagecache.SetPin) with
// its version: pin, replace, unpin, and an older version never wins.
func TestPinChangesReachTheCache(t *testing.T) {
	my := stacktest.NewMySQL(t)
	cache, _ := newCache(t)
	ctx := context.Background()
	video := cdctest.Video()
	f := follow(t, my, cache)
	steps := []struct {
		name string
		sql  string
		args []any
		want pagecache.Pin
	}{
		{"pin", `INSERT INTO video_pins (video_id, comment_id, pinned_by, updated_at, version) VALUES (?, 100, 9000, NOW(6), 5)`, []any{video}, pagecache.Pin{Cached: true, ID: 100, Version: 5}},
		{"replace", `UPDATE video_pins SET comment_id = 200, version = 6 WHERE video_id = ?`, []any{video}, pagecache.Pin{Cached: true, ID: 200, Version: 6}},
		{"unpin", `UPDATE video_pins SET comment_id = 0, version = 7 WHERE video_id = ?`, []any{video}, pagecache.Pin{Cached: true, ID: 0, Version: 7}},
		{"an older version by hand is ignored", `UPDATE video_pins SET comment_id = 300, version = 3 WHERE video_id = ?`, []any{video}, pagecache.Pin{Cached: true, ID: 0, Version: 7}},
		{"a newer one applies", `UPDATE video_pins SET comment_id = 400, version = 9 WHERE video_id = ?`, []any{video}, pagecache.Pin{Cached: true, ID: 400, Version: 9}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			changes := f.metric(t, "cdc_row_changes_total")
			if _, err := my.DB.ExecContext(ctx, s.sql, s.args...); err != nil {
				t.Fatal(err)
			}
			cdctest.Eventually(t, 10*time.Second, "cdc handled the row change", func() bool {
				return f.metric(t, "cdc_row_changes_total") > changes
			})
			if got, err := cache.Pin(ctx, video); err != nil || got != s.want {
				t.Errorf("pin %+v (%v), want %+v", got, err, s.want)
			}
		})
	}
}
