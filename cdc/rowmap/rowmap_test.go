package rowmap

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/canal"
	"github.com/go-mysql-org/go-mysql/schema"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/pagecache"
)

// The real table's column order (schema/mysql/001_comments.sql).
var realColumns = []string{"id", "video_id", "user_id", "parent_id", "content", "status", "reason", "like_count",
	"reply_count", "idempotency_key", "request_hash", "created_at", "edited_at", "updated_at", "version"}

func table(cols ...string) *schema.Table {
	t := &schema.Table{Schema: "vidcomments", Name: "comments"}
	for _, c := range cols {
		t.AddColumn(c, "", "", "")
	}
	return t
}

var created = time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC)

// row builds a row image of the real table with the types canal delivers on
// MariaDB 10.11, overridden by set (column → value).
func row(id, video int64, status string, version int64, set map[string]any) []any {
	vals := map[string]any{
		"id": id, "video_id": video, "user_id": int64(42), "parent_id": int64(0),
		"content": []byte("héllo"), "status": status, "reason": nil, "like_count": int64(0),
		"reply_count": int32(0), "idempotency_key": nil, "request_hash": nil,
		"created_at": created, "edited_at": nil, "updated_at": created, "version": version,
	}
	for k, v := range set {
		vals[k] = v
	}
	out := make([]any, len(realColumns))
	for i, c := range realColumns {
		out[i] = vals[c]
	}
	return out
}

func body(id, video int64, content string, likes int64) []byte {
	return Body(comment.Comment{ID: id, VideoID: video, UserID: 42, Content: content, CreatedAt: created, LikeCount: likes})
}

func TestChanges(t *testing.T) {
	tests := []struct {
		name   string
		action string
		rows   [][]any
		want   []pagecache.Change
	}{
		{"insert pending: invisible, was invisible, pending with its body", canal.InsertAction,
			[][]any{row(1, 7, "pending", 100, nil)},
			[]pagecache.Change{{VideoID: 7, ID: 1, Version: 100, Pending: true, Body: body(1, 7, "héllo", 0)}}},
		{"insert a pending reply: parent and author passed on", canal.InsertAction,
			[][]any{row(2, 7, "pending", 100, map[string]any{"parent_id": int64(1), "user_id": int64(42)})},
			[]pagecache.Change{{VideoID: 7, ID: 2, Version: 100, ParentID: 1, Pending: true,
				Body: Body(comment.Comment{ID: 2, VideoID: 7, UserID: 42, ParentID: 1, Content: "héllo", CreatedAt: created})}}},
		{"approve a reply", canal.UpdateAction,
			[][]any{row(2, 7, "pending", 100, map[string]any{"parent_id": int64(1)}), row(2, 7, "approved", 101, map[string]any{"parent_id": int64(1)})},
			[]pagecache.Change{{VideoID: 7, ID: 2, Version: 101, ParentID: 1, Visible: true,
				Body: Body(comment.Comment{ID: 2, VideoID: 7, UserID: 42, ParentID: 1, Content: "héllo", CreatedAt: created})}}},
		{"an edit shows edited_at in milliseconds", canal.UpdateAction,
			[][]any{row(1, 7, "approved", 100, nil), row(1, 7, "approved", 101, map[string]any{"content": []byte("edited"), "edited_at": created.Add(1500 * time.Microsecond)})},
			[]pagecache.Change{{VideoID: 7, ID: 1, Version: 101, Visible: true, WasVisible: true,
				Body: []byte(`{"id":"1","video_id":"7","user_id":"42","parent_id":"0","content":"edited","created_at":"2025-03-04T05:06:07.123Z","edited_at":"2025-03-04T05:06:07.124Z","like_count":0,"reply_count":0}`)}}},
		{"insert approved (post-moderation): visible with body", canal.InsertAction,
			[][]any{row(1, 7, "approved", 100, nil)},
			[]pagecache.Change{{VideoID: 7, ID: 1, Version: 100, Visible: true, Body: body(1, 7, "héllo", 0)}}},
		{"multi-row insert keeps binlog order", canal.InsertAction,
			[][]any{row(2, 7, "approved", 5, nil), row(1, 8, "pending", 6, nil)},
			[]pagecache.Change{{VideoID: 7, ID: 2, Version: 5, Visible: true, Body: body(2, 7, "héllo", 0)}, {VideoID: 8, ID: 1, Version: 6, Pending: true, Body: body(1, 8, "héllo", 0)}}},
		{"approve", canal.UpdateAction,
			[][]any{row(1, 7, "pending", 100, nil), row(1, 7, "approved", 101, nil)},
			[]pagecache.Change{{VideoID: 7, ID: 1, Version: 101, Visible: true, Body: body(1, 7, "héllo", 0)}}},
		{"reject an approved comment", canal.UpdateAction,
			[][]any{row(1, 7, "approved", 100, nil), row(1, 7, "rejected", 101, map[string]any{"reason": "spam"})},
			[]pagecache.Change{{VideoID: 7, ID: 1, Version: 101, WasVisible: true}}},
		{"author deletes (status deleted)", canal.UpdateAction,
			[][]any{row(1, 7, "approved", 100, nil), row(1, 7, "deleted", 101, nil)},
			[]pagecache.Change{{VideoID: 7, ID: 1, Version: 101, WasVisible: true}}},
		{"edit of an approved comment: new body", canal.UpdateAction,
			[][]any{row(1, 7, "approved", 100, nil), row(1, 7, "approved", 101, map[string]any{"content": []byte("edited")})},
			[]pagecache.Change{{VideoID: 7, ID: 1, Version: 101, Visible: true, WasVisible: true, Body: body(1, 7, "edited", 0)}}},
		{"like count of an approved comment", canal.UpdateAction,
			[][]any{row(1, 7, "approved", 100, nil), row(1, 7, "approved", 101, map[string]any{"like_count": int64(3)})},
			[]pagecache.Change{{VideoID: 7, ID: 1, Version: 101, Visible: true, WasVisible: true, Body: body(1, 7, "héllo", 3)}}},
		{"rejected stays rejected: still recorded, invisible", canal.UpdateAction,
			[][]any{row(1, 7, "rejected", 100, nil), row(1, 7, "rejected", 101, map[string]any{"reason": "abuse"})},
			[]pagecache.Change{{VideoID: 7, ID: 1, Version: 101}}},
		{"multi-row update: pairs in order", canal.UpdateAction,
			[][]any{row(1, 7, "pending", 10, nil), row(1, 7, "approved", 11, nil), row(2, 7, "approved", 20, nil), row(2, 7, "rejected", 21, nil)},
			[]pagecache.Change{{VideoID: 7, ID: 1, Version: 11, Visible: true, Body: body(1, 7, "héllo", 0)}, {VideoID: 7, ID: 2, Version: 21, WasVisible: true}}},
		{"moved to another video by hand: removal plus addition", canal.UpdateAction,
			[][]any{row(1, 7, "approved", 100, nil), row(1, 8, "approved", 101, nil)},
			[]pagecache.Change{{VideoID: 7, ID: 1, Version: 101, WasVisible: true}, {VideoID: 8, ID: 1, Version: 101, Visible: true, Body: body(1, 8, "héllo", 0)}}},
		{"hard DELETE of an approved row: version after the row's", canal.DeleteAction,
			[][]any{row(1, 7, "approved", 100, nil)},
			[]pagecache.Change{{VideoID: 7, ID: 1, Version: 101, WasVisible: true}}},
		{"hard DELETE of a pending row", canal.DeleteAction,
			[][]any{row(1, 7, "pending", 100, nil)},
			[]pagecache.Change{{VideoID: 7, ID: 1, Version: 101}}},
		{"DATETIME as a string (ParseTime off)", canal.InsertAction,
			[][]any{row(1, 7, "approved", 100, map[string]any{"created_at": "2025-03-04 05:06:07.123456"})},
			[]pagecache.Change{{VideoID: 7, ID: 1, Version: 100, Visible: true, Body: body(1, 7, "héllo", 0)}}},
		{"content as a string, counts as other integer types", canal.InsertAction,
			[][]any{row(1, 7, "approved", 100, map[string]any{"content": "héllo", "like_count": int32(2), "reply_count": int64(0), "user_id": uint64(42)})},
			[]pagecache.Change{{VideoID: 7, ID: 1, Version: 100, Visible: true, Body: body(1, 7, "héllo", 2)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range tt.want {
				tt.want[i].UserID = 42 // every row image above is user 42's
			}
			got, err := Changes(&canal.RowsEvent{Table: table(realColumns...), Action: tt.action, Rows: tt.rows})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("changes\n got %s\nwant %s", show(got), show(tt.want))
			}
		})
	}
}

func show(cs []pagecache.Change) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString("{video " + itoa(c.VideoID) + " id " + itoa(c.ID) + " v" + itoa(c.Version))
		if c.Visible {
			b.WriteString(" visible")
		}
		if c.WasVisible {
			b.WriteString(" was-visible")
		}
		if c.Pending {
			b.WriteString(" pending")
		}
		b.WriteString(" parent " + itoa(c.ParentID) + " user " + itoa(c.UserID))
		b.WriteString(" body " + string(c.Body) + "} ")
	}
	return b.String()
}

func itoa(n int64) string { return comment.FormatID(n) }

func TestBodyIsThePublicView(t *testing.T) {
	got := string(body(1795314595494454591, 7, `say "hi" <b>`, 3))
	want := `{"id":"1795314595494454591","video_id":"7","user_id":"42","parent_id":"0","content":"say \"hi\" \u003cb\u003e","created_at":"2025-03-04T05:06:07.123Z","like_count":3,"reply_count":0}`
	if got != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
}

func TestChangesReportsRowsItCannotMap(t *testing.T) {
	tests := []struct {
		name      string
		tbl       *schema.Table
		action    string
		rows      [][]any
		wantOK    int     // changes still mapped
		wantVideo []int64 // RowError.VideoID of each failed row
		wantIn    string
	}{
		{"NULL content", table(realColumns...), canal.InsertAction,
			[][]any{row(1, 7, "approved", 1, map[string]any{"content": nil}), row(2, 7, "approved", 1, nil)}, 1, []int64{7}, "column content: NULL"},
		{"unknown status", table(realColumns...), canal.InsertAction,
			[][]any{row(1, 7, "hidden", 1, nil)}, 0, []int64{7}, `unknown comment status "hidden"`},
		{"zero datetime", table(realColumns...), canal.InsertAction,
			[][]any{row(1, 7, "approved", 1, map[string]any{"created_at": "0000-00-00 00:00:00.000000"})}, 0, []int64{7}, "created_at"},
		{"wrong type for version", table(realColumns...), canal.UpdateAction,
			[][]any{row(1, 7, "pending", 1, nil), row(1, 7, "approved", 1, map[string]any{"version": 1.5})}, 0, []int64{7}, "column version: float64"},
		{"unreadable video id", table(realColumns...), canal.InsertAction,
			[][]any{row(1, 7, "approved", 1, map[string]any{"video_id": "seven"})}, 0, []int64{0}, "video_id"},
		{"uint64 beyond int64", table(realColumns...), canal.InsertAction,
			[][]any{row(1, 7, "approved", 1, map[string]any{"like_count": uint64(math.MaxUint64)})}, 0, []int64{7}, "overflows"},
		{"a column dropped from the table", table("id", "video_id", "status", "version"), canal.InsertAction,
			[][]any{{int64(1), int64(9), "approved", int64(1)}}, 0, []int64{9}, "no column [user_id parent_id content created_at like_count reply_count]"},
		{"row image shorter than the table", table(realColumns...), canal.InsertAction,
			[][]any{row(1, 7, "approved", 1, nil)[:5]}, 0, []int64{7}, "row image has only 5 columns"},
		{"delete at the maximum version", table(realColumns...), canal.DeleteAction,
			[][]any{row(1, 7, "approved", math.MaxInt64, nil)}, 0, []int64{7}, "maximum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Changes(&canal.RowsEvent{Table: tt.tbl, Action: tt.action, Rows: tt.rows})
			if len(got) != tt.wantOK {
				t.Errorf("%d changes mapped, want %d", len(got), tt.wantOK)
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantIn) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantIn)
			}
			var videos []int64
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var re *RowError
				if !errors.As(e, &re) {
					t.Fatalf("%v is not a *RowError", e)
				}
				videos = append(videos, re.VideoID)
			}
			if !reflect.DeepEqual(videos, tt.wantVideo) {
				t.Errorf("failed rows' videos %v, want %v", videos, tt.wantVideo)
			}
		})
	}
}

func TestChangesRejectsMalformedEvents(t *testing.T) {
	tests := []struct {
		name string
		e    *canal.RowsEvent
		want string
	}{
		{"no table", &canal.RowsEvent{Action: canal.InsertAction}, "without a table"},
		{"another table", &canal.RowsEvent{Table: &schema.Table{Schema: "x", Name: "outbox"}, Action: canal.InsertAction}, "x.outbox"},
		{"odd update images", &canal.RowsEvent{Table: table(realColumns...), Action: canal.UpdateAction, Rows: [][]any{row(1, 7, "approved", 1, nil)}}, "before/after pairs"},
		{"unknown action", &canal.RowsEvent{Table: table(realColumns...), Action: "truncate"}, `"truncate"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Changes(tt.e)
			if err == nil || !strings.Contains(err.Error(), tt.want) || len(got) != 0 {
				t.Errorf("got %v, %v; want no changes and an error containing %q", got, err, tt.want)
			}
		})
	}
}

func TestChangesIsDeterministic(t *testing.T) {
	e := &canal.RowsEvent{Table: table(realColumns...), Action: canal.UpdateAction,
		Rows: [][]any{row(1, 7, "pending", 10, nil), row(1, 7, "approved", 11, nil)}}
	a, errA := Changes(e)
	b, errB := Changes(e)
	if errA != nil || errB != nil || !reflect.DeepEqual(a, b) {
		t.Errorf("replaying an event mapped differently: %v %v / %v %v", show(a), errA, show(b), errB)
	}
}
