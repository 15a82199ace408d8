package rowmap

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/go-mysql-org/go-mysql/canal"

	"github.com/vidcomments/vidcomments/internal/comment"
)

// FuzzChanges: a binlog row image with arbitrary values in the columns a
// hand-written UPDATE can reach never panics cdc: it maps to changes whose
// bodies (visible or pending rows only) are the exact public JSON of the
// row, or to RowErrors (cdc then invalidates the video instead of guessing).
func FuzzChanges(f *testing.F) {
	f.Add(int64(1), int64(7), int64(42), int64(0), []byte("héllo"), "approved", int64(3), int64(5), "pending")
	f.Add(int64(-1), int64(0), int64(0), int64(-5), []byte("\xff\xfe"), "", int64(-1), int64(0), "hidden")
	f.Add(int64(9), int64(9), int64(9), int64(9), []byte("<b>"), "rejected", int64(1<<62), int64(1<<62), "approved")
	f.Fuzz(func(t *testing.T, id, video, user, parent int64, content []byte, status string, likes, version int64, before string) {
		after := row(id, video, status, version, map[string]any{"user_id": user, "parent_id": parent, "content": content, "like_count": likes})
		old := row(id, video, before, version-1, nil)
		for _, ev := range []*canal.RowsEvent{
			{Table: table(realColumns...), Action: canal.InsertAction, Rows: [][]any{after}},
			{Table: table(realColumns...), Action: canal.UpdateAction, Rows: [][]any{old, after}},
			{Table: table(realColumns...), Action: canal.DeleteAction, Rows: [][]any{after}},
		} {
			changes, err := Changes(ev)
			if err != nil {
				var re *RowError
				if !errors.As(err, &re) {
					t.Fatalf("%s: error %v is not a RowError", ev.Action, err)
				}
				continue
			}
			for _, ch := range changes {
				if !ch.Visible && !ch.Pending {
					if ch.Body != nil {
						t.Fatalf("%s: invisible change carries a body", ev.Action)
					}
					continue
				}
				if ch.Visible && ch.Pending {
					t.Fatalf("%s: a change both visible and pending", ev.Action)
				}
				var p comment.Public
				if err := json.Unmarshal(ch.Body, &p); err != nil {
					t.Fatalf("%s: body %q is not JSON: %v", ev.Action, ch.Body, err)
				}
				want := comment.Comment{ID: id, VideoID: video, UserID: user, ParentID: parent, Content: string(content),
					CreatedAt: created, LikeCount: likes}.Public()
				if p != want {
					t.Fatalf("%s: body %+v, want %+v", ev.Action, p, want)
				}
			}
		}
	})
}
