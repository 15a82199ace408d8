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
// the row's version: pin, replace, unpin, and a version set back by hand —
// which video_pins_version_bump moves forward anyway, so the cache ends
// with what MySQL holds (an older version reaching SetPin is ignored:
// pagecache's tests).
func TestPinChangesReachTheCache(t *testing.T) {
	my := stacktest.NewMySQL(t)
	cache, _ := newCache(t)
	ctx := context.Background()
	video := cdctest.Video()
	f := follow(t, my, cache)
	steps := []struct {
		name string
		sql  string
	}{
		{"pin", `INSERT INTO video_pins (video_id, comment_id, pinned_by, updated_at, version) VALUES (?, 100, 9000, NOW(6), 5)`},
		{"replace", `UPDATE video_pins SET comment_id = 200 WHERE video_id = ?`},
		{"unpin", `UPDATE video_pins SET comment_id = 0 WHERE video_id = ?`},
		{"a version set back by hand still moves forward", `UPDATE video_pins SET comment_id = 300, version = 3 WHERE video_id = ?`},
		{"a later one applies", `UPDATE video_pins SET comment_id = 400 WHERE video_id = ?`},
	}
	var last int64
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			changes := f.metric(t, "cdc_row_changes_total")
			if _, err := my.DB.ExecContext(ctx, s.sql, video); err != nil {
				t.Fatal(err)
			}
			want := pagecache.Pin{Cached: true}
			if err := my.DB.QueryRowContext(ctx, `SELECT comment_id, version FROM video_pins WHERE video_id = ?`, video).Scan(&want.ID, &want.Version); err != nil {
				t.Fatal(err)
			}
			if want.Version <= last {
				t.Errorf("version %d after %d: the row's version went back", want.Version, last)
			}
			last = want.Version
			cdctest.Eventually(t, 10*time.Second, "cdc handled the row change", func() bool {
				return f.metric(t, "cdc_row_changes_total") > changes
			})
			if got, err := cache.Pin(ctx, video); err != nil || got != want {
				t.Errorf("pin %+v (%v), want MySQL's %+v", got, err, want)
			}
		})
	}
}
