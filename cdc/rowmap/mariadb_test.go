package rowmap

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/canal"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/stacktest"
)

type capture struct {
	canal.DummyEventHandler
	events chan *canal.RowsEvent
}

func (h *capture) OnRow(e *canal.RowsEvent) error {
	h.events <- e
	return nil
}

// readRow reads a comment back through SQL: the state the binlog image must
// map to.
func readRow(t *testing.T, db *sql.DB, id int64) comment.Comment {
	t.Helper()
	var c comment.Comment
	var status string
	var edited sql.NullTime
	err := db.QueryRow(`SELECT id, video_id, user_id, parent_id, content, status, created_at, edited_at, like_count, reply_count, version
		FROM comments WHERE id = ?`, id).Scan(&c.ID, &c.VideoID, &c.UserID, &c.ParentID, &c.Content, &status, &c.CreatedAt, &edited, &c.LikeCount, &c.ReplyCount, &c.Version)
	if err != nil {
		t.Fatal(err)
	}
	c.Status = comment.Status(status)
	if edited.Valid {
		c.EditedAt = edited.Time.UTC()
	}
	return c
}

// What canal really delivers on the stack's MariaDB maps to what a SQL read
// of the same row says, for every kind of change, including hand-written SQL.
func TestRowImagesFromMariaDB(t *testing.T) {
	my := stacktest.NewMySQL(t)
	addr, user, password := stacktest.MySQLAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	cfg := canal.NewDefaultConfig()
	cfg.Addr, cfg.User, cfg.Password = addr, user, password
	cfg.Flavor = my.Config.Flavor
	cfg.ServerID = 9100 + uint32(time.Now().UnixNano()%800)
	cfg.ParseTime = true // as cdc runs it
	cfg.Dump.ExecutionPath = ""
	cfg.IncludeTableRegex = []string{"^" + regexp.QuoteMeta(my.Name) + `\.comments$`}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := canal.NewCanal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &capture{events: make(chan *canal.RowsEvent, 16)}
	c.SetEventHandler(h)
	pos, err := c.GetMasterPos()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.RunFrom(pos) }()
	defer func() {
		c.Close()
		<-done
	}()

	const id, video = int64(1795314595494454591), int64(1_000_000_007)
	created := time.Date(2025, 1, 2, 3, 4, 5, 123456000, time.UTC)
	next := func(t *testing.T) *canal.RowsEvent {
		t.Helper()
		select {
		case e := <-h.events:
			return e
		case <-ctx.Done():
			t.Fatal("no rows event before the deadline")
		}
		return nil
	}
	var last comment.Comment
	steps := []struct {
		name   string
		sql    string
		args   []any
		action string
		want   func(now comment.Comment) pagecache.Change
	}{
		{"insert as writesvc does (pending)", `INSERT INTO comments (id, video_id, user_id, parent_id, content, status, created_at, updated_at, version, idempotency_key, request_hash)
			VALUES (?, ?, 42, 0, ?, 'pending', ?, ?, 1, 'key-1', UNHEX(SHA2('x', 256)))`, []any{id, video, "héllo 👋 \"quoted\"", created, created}, canal.InsertAction,
			func(now comment.Comment) pagecache.Change {
				return pagecache.Change{VideoID: video, ID: id, Version: now.Version, UserID: 42, Pending: true, Body: Body(now)}
			}},
		{"approve by plain SQL", `UPDATE comments SET status = 'approved' WHERE id = ?`, []any{id}, canal.UpdateAction,
			func(now comment.Comment) pagecache.Change {
				return pagecache.Change{VideoID: video, ID: id, Version: now.Version, Visible: true, UserID: 42, Body: Body(now)}
			}},
		{"like count and edit by plain SQL", `UPDATE comments SET like_count = like_count + 5, content = 'edited', edited_at = NOW(6) WHERE id = ?`, []any{id}, canal.UpdateAction,
			func(now comment.Comment) pagecache.Change {
				return pagecache.Change{VideoID: video, ID: id, Version: now.Version, Visible: true, WasVisible: true, UserID: 42, Body: Body(now)}
			}},
		{"reject with a reason", `UPDATE comments SET status = 'rejected', reason = 'spam' WHERE id = ?`, []any{id}, canal.UpdateAction,
			func(now comment.Comment) pagecache.Change {
				return pagecache.Change{VideoID: video, ID: id, Version: now.Version, WasVisible: true, UserID: 42}
			}},
		{"approve again, then a hard DELETE", `UPDATE comments SET status = 'approved' WHERE id = ?`, []any{id}, canal.UpdateAction,
			func(now comment.Comment) pagecache.Change {
				return pagecache.Change{VideoID: video, ID: id, Version: now.Version, Visible: true, UserID: 42, Body: Body(now)}
			}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if _, err := my.DB.ExecContext(ctx, s.sql, s.args...); err != nil {
				t.Fatal(err)
			}
			e := next(t)
			if e.Action != s.action {
				t.Fatalf("action %s, want %s", e.Action, s.action)
			}
			got, err := Changes(e)
			if err != nil {
				t.Fatal(err)
			}
			last = readRow(t, my.DB, id)
			if want := []pagecache.Change{s.want(last)}; !reflect.DeepEqual(got, want) {
				t.Errorf("binlog maps to\n %s\nSQL read says\n %s", show(got), show(want))
			}
		})
	}
	t.Run("hard DELETE", func(t *testing.T) {
		if _, err := my.DB.ExecContext(ctx, `DELETE FROM comments WHERE id = ?`, id); err != nil {
			t.Fatal(err)
		}
		e := next(t)
		got, err := Changes(e)
		if err != nil {
			t.Fatal(err)
		}
		want := []pagecache.Change{{VideoID: video, ID: id, Version: last.Version + 1, WasVisible: true, UserID: 42}}
		if e.Action != canal.DeleteAction || !reflect.DeepEqual(got, want) {
			t.Errorf("%s maps to %s, want %s", e.Action, show(got), show(want))
		}
	})
	if !last.CreatedAt.Equal(created) {
		t.Errorf("created_at read back %v, want %v (microseconds kept)", last.CreatedAt, created)
	}
}
