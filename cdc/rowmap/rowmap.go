// Package rowmap turns binlog row images of the comments table, as go-mysql
// canal delivers them, into the page-cache changes cdc records, and those of
// the video_pins table into pin changes (pins.go). It is a pure function of
// the event: no I/O, no clock, so replaying a binlog range maps to exactly
// the same changes.
//
// What canal gives for each column on MariaDB 10.11 (ParseTime on; proven by
// this package's integration test): BIGINT → int64, INT → int32, VARCHAR →
// string, TEXT → []byte, DATETIME(6) → time.Time in UTC (a string
// "2006-01-02 15:04:05.999999" with ParseTime off), NULL → nil. Columns are
// found by name, so their order in the table does not matter.
package rowmap

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"

	"github.com/go-mysql-org/go-mysql/canal"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/pagecache"
)

// Table is the table whose rows this package maps.
const Table = "comments"

// The columns a row image must carry. Every other column (reason,
// idempotency_key, updated_at, …) is ignored: readers never see it.
var columns = []string{"id", "video_id", "user_id", "parent_id", "content", "status", "created_at", "like_count", "reply_count", "version"}

// optionalColumns are read when the table has them: edited_at came with
// schema/mysql/040, and a binlog replayed from before it lacks it.
var optionalColumns = []string{"edited_at"}

// RowError is a row that could not be mapped. VideoID is the row's video
// when at least that could be read (0 otherwise): cdc then invalidates the
// video's pages rather than leave them stale.
type RowError struct {
	Row     int // index of the row image in the event
	VideoID int64
	Err     error
}

func (e *RowError) Error() string {
	if e.VideoID != 0 {
		return fmt.Sprintf("comments row image %d (video %d): %v", e.Row, e.VideoID, e.Err)
	}
	return fmt.Sprintf("comments row image %d: %v", e.Row, e.Err)
}

func (e *RowError) Unwrap() error { return e.Err }

// Changes maps one rows event of the comments table. It returns the changes
// of every row it could map, in binlog order, and the rows it could not as
// *RowError values joined into err. An update that moves a row to another
// video or id is a removal from the old place and an addition to the new.
//
//   - insert: WasVisible false; Visible = the new status is approved.
//   - update: WasVisible / Visible = approved before / after; Version is the
//     after-image's (the trigger bumps it even for hand-written SQL).
//   - delete: Visible false; Version = the deleted row's version + 1, since a
//     DELETE leaves no newer version of its own and the removal must win over
//     whatever the overlay holds for the row.
//
// Every change carries the row's ParentID (the read side routes a reply to
// its parent's list, a root to the video's windows) and UserID; Pending says
// the row waits for moderation after the change (it belongs in its author's
// private view). Body is the public JSON of the after-image, exactly as
// readsvc serves it, and is set when Visible or Pending.
func Changes(e *canal.RowsEvent) ([]pagecache.Change, error) {
	if e == nil || e.Table == nil {
		return nil, errors.New("rows event without a table")
	}
	if e.Table.Name != Table {
		return nil, fmt.Errorf("rows event of table %s.%s, want %s", e.Table.Schema, e.Table.Name, Table)
	}
	idx := make(map[string]int, len(columns))
	var missing []string
	for _, c := range columns {
		i := e.Table.FindColumn(c)
		if i < 0 {
			missing = append(missing, c)
		}
		idx[c] = i
	}
	for _, c := range optionalColumns {
		idx[c] = e.Table.FindColumn(c)
	}
	if len(missing) > 0 {
		err := fmt.Errorf("table %s.%s has no column %v", e.Table.Schema, e.Table.Name, missing)
		var errs []error
		for i, row := range e.Rows {
			errs = append(errs, &RowError{Row: i, VideoID: videoOf(row, idx), Err: err})
		}
		if len(errs) == 0 {
			return nil, err
		}
		return nil, errors.Join(errs...)
	}

	var (
		out  []pagecache.Change
		errs []error
	)
	fail := func(i int, row []any, err error) {
		errs = append(errs, &RowError{Row: i, VideoID: videoOf(row, idx), Err: err})
	}
	switch e.Action {
	case canal.InsertAction:
		for i, row := range e.Rows {
			after, err := decode(row, idx)
			if err != nil {
				fail(i, row, err)
				continue
			}
			out = append(out, visibleChange(after, false))
		}
	case canal.DeleteAction:
		for i, row := range e.Rows {
			before, err := decode(row, idx)
			if err != nil {
				fail(i, row, err)
				continue
			}
			if before.Version == math.MaxInt64 {
				fail(i, row, errors.New("version at its maximum: a deletion cannot be ordered after it"))
				continue
			}
			out = append(out, pagecache.Change{
				VideoID:    before.VideoID,
				ID:         before.ID,
				Version:    before.Version + 1,
				WasVisible: before.Status.Visible(),
				ParentID:   before.ParentID,
				UserID:     before.UserID,
			})
		}
	case canal.UpdateAction:
		if len(e.Rows)%2 != 0 {
			return nil, fmt.Errorf("update event with %d row images: want before/after pairs (binlog_row_image=FULL, rows event v1/v2)", len(e.Rows))
		}
		for i := 0; i < len(e.Rows); i += 2 {
			before, err := decode(e.Rows[i], idx)
			if err != nil {
				fail(i, e.Rows[i], err)
				continue
			}
			after, err := decode(e.Rows[i+1], idx)
			if err != nil {
				fail(i+1, e.Rows[i+1], err)
				continue
			}
			if before.VideoID != after.VideoID || before.ID != after.ID {
				// Moved by hand: gone from where it was, new where it is.
				out = append(out, pagecache.Change{
					VideoID:    before.VideoID,
					ID:         before.ID,
					Version:    after.Version,
					WasVisible: before.Status.Visible(),
					ParentID:   before.ParentID,
					UserID:     before.UserID,
				})
				out = append(out, visibleChange(after, false))
				continue
			}
			out = append(out, visibleChange(after, before.Status.Visible()))
		}
	default:
		return nil, fmt.Errorf("unknown rows event action %q", e.Action)
	}
	return out, errors.Join(errs...)
}

// visibleChange is the change that leaves c as the row's current state.
func visibleChange(c comment.Comment, wasVisible bool) pagecache.Change {
	ch := pagecache.Change{
		VideoID:    c.VideoID,
		ID:         c.ID,
		Version:    c.Version,
		Visible:    c.Status.Visible(),
		WasVisible: wasVisible,
		ParentID:   c.ParentID,
		UserID:     c.UserID,
		Pending:    c.Status == comment.Pending,
	}
	if ch.Visible || ch.Pending {
		ch.Body = Body(c)
	}
	return ch
}

// Body is the public JSON of c, exactly as readsvc serves and caches it.
func Body(c comment.Comment) []byte {
	b, err := json.Marshal(c.Public())
	if err != nil { // a struct of strings and integers always marshals
		panic(fmt.Sprintf("rowmap: marshal public comment: %v", err))
	}
	return b
}

// decode reads one row image into a Comment.
func decode(row []any, idx map[string]int) (comment.Comment, error) {
	var (
		c    comment.Comment
		errs []error
	)
	col := func(name string) any {
		i := idx[name]
		if i >= len(row) {
			errs = append(errs, fmt.Errorf("column %s: row image has only %d columns", name, len(row)))
			return nil
		}
		return row[i]
	}
	integer := func(name string) int64 {
		n, err := toInt64(col(name))
		if err != nil {
			errs = append(errs, fmt.Errorf("column %s: %w", name, err))
		}
		return n
	}
	c.ID = integer("id")
	c.VideoID = integer("video_id")
	c.UserID = integer("user_id")
	c.ParentID = integer("parent_id")
	c.LikeCount = integer("like_count")
	c.ReplyCount = integer("reply_count")
	c.Version = integer("version")
	content, err := toString(col("content"))
	if err != nil {
		errs = append(errs, fmt.Errorf("column content: %w", err))
	}
	c.Content = content
	status, err := toString(col("status"))
	if err == nil {
		c.Status, err = comment.ParseStatus(status)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("column status: %w", err))
	}
	c.CreatedAt, err = toTime(col("created_at"))
	if err != nil {
		errs = append(errs, fmt.Errorf("column created_at: %w", err))
	}
	if i, ok := idx["edited_at"]; ok && i >= 0 && i < len(row) && row[i] != nil {
		c.EditedAt, err = toTime(row[i])
		if err != nil {
			errs = append(errs, fmt.Errorf("column edited_at: %w", err))
		}
	}
	if len(errs) == 0 && (c.ID <= 0 || c.VideoID <= 0) {
		errs = append(errs, fmt.Errorf("id %d / video_id %d: want positive ids", c.ID, c.VideoID))
	}
	return c, errors.Join(errs...)
}

// videoOf reads just the video id of a row image, 0 if it cannot.
func videoOf(row []any, idx map[string]int) int64 {
	i, ok := idx["video_id"]
	if !ok || i < 0 || i >= len(row) {
		return 0
	}
	v, err := toInt64(row[i])
	if err != nil || v <= 0 {
		return 0
	}
	return v
}

// toInt64 reads an integer column as the canal hands it over: any Go
// integer type (unsigned ones up to MaxInt64), or its decimal text.
func toInt64(v any) (int64, error) {
	switch n := v.(type) {
	case string:
		return strconv.ParseInt(n, 10, 64)
	case []byte:
		return strconv.ParseInt(string(n), 10, 64)
	case nil:
		return 0, errors.New("NULL, want an integer")
	}
	switch rv := reflect.ValueOf(v); {
	case rv.CanInt():
		return rv.Int(), nil
	case rv.CanUint() && rv.Kind() != reflect.Uintptr:
		if u := rv.Uint(); u <= math.MaxInt64 {
			return int64(u), nil
		}
		return 0, fmt.Errorf("%v overflows int64", v)
	}
	return 0, fmt.Errorf("%T, want an integer", v)
}

func toString(v any) (string, error) {
	switch s := v.(type) {
	case string:
		return s, nil
	case []byte:
		return string(s), nil
	case nil:
		return "", errors.New("NULL, want text")
	}
	return "", fmt.Errorf("%T, want text", v)
}

// datetimeLayout is how canal renders a DATETIME(6) with ParseTime off.
const datetimeLayout = "2006-01-02 15:04:05.999999"

func toTime(v any) (time.Time, error) {
	switch t := v.(type) {
	case time.Time:
		return t.UTC(), nil
	case string:
		// Services write DATETIME in UTC (session time_zone '+00:00').
		p, err := time.ParseInLocation(datetimeLayout, t, time.UTC)
		if err != nil {
			return time.Time{}, fmt.Errorf("datetime %q: %w", t, err)
		}
		return p, nil
	case nil:
		return time.Time{}, errors.New("NULL, want a datetime")
	}
	return time.Time{}, fmt.Errorf("%T, want a datetime", v)
}
