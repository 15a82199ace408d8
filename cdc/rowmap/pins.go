package rowmap

import (
	"errors"
	"fmt"
	"math"

	"github.com/go-mysql-org/go-mysql/canal"
)

// PinTable is the table of pinned comments (schema/mysql/040).
const PinTable = "video_pins"

// Pin is a video's pin after a video_pins row change: CommentID 0 means
// nothing is pinned. Version orders a video's pin changes.
type Pin struct {
	VideoID   int64
	CommentID int64
	Version   int64
}

var pinColumns = []string{"video_id", "comment_id", "version"}

// Pins maps one rows event of video_pins. An insert or update is the
// after-image; a delete (only by hand: writesvc unpins by writing comment 0)
// is "nothing pinned" at the deleted row's version + 1. Rows it cannot read
// come back as *RowError values (VideoID set when readable) joined into err.
func Pins(e *canal.RowsEvent) ([]Pin, error) {
	if e == nil || e.Table == nil {
		return nil, errors.New("rows event without a table")
	}
	if e.Table.Name != PinTable {
		return nil, fmt.Errorf("rows event of table %s.%s, want %s", e.Table.Schema, e.Table.Name, PinTable)
	}
	idx := make(map[string]int, len(pinColumns))
	for _, c := range pinColumns {
		i := e.Table.FindColumn(c)
		if i < 0 {
			return nil, fmt.Errorf("table %s.%s has no column %s", e.Table.Schema, e.Table.Name, c)
		}
		idx[c] = i
	}
	var (
		out  []Pin
		errs []error
	)
	read := func(i int, row []any) (Pin, bool) {
		var p Pin
		var err error
		get := func(name string) int64 {
			if err != nil {
				return 0
			}
			j := idx[name]
			if j >= len(row) {
				err = fmt.Errorf("column %s: row image has only %d columns", name, len(row))
				return 0
			}
			var n int64
			if n, err = toInt64(row[j]); err != nil {
				err = fmt.Errorf("column %s: %w", name, err)
			}
			return n
		}
		p.VideoID, p.CommentID, p.Version = get("video_id"), get("comment_id"), get("version")
		if err == nil && (p.VideoID <= 0 || p.CommentID < 0 || p.Version <= 0 || p.Version == math.MaxInt64) {
			err = fmt.Errorf("video_id %d, comment_id %d, version %d: want positive ids and version", p.VideoID, p.CommentID, p.Version)
		}
		if err != nil {
			errs = append(errs, &RowError{Row: i, VideoID: max(p.VideoID, 0), Err: err})
			return Pin{}, false
		}
		return p, true
	}
	switch e.Action {
	case canal.InsertAction:
		for i, row := range e.Rows {
			if p, ok := read(i, row); ok {
				out = append(out, p)
			}
		}
	case canal.UpdateAction:
		if len(e.Rows)%2 != 0 {
			return nil, fmt.Errorf("update event with %d row images: want before/after pairs", len(e.Rows))
		}
		for i := 1; i < len(e.Rows); i += 2 {
			before, okBefore := read(i-1, e.Rows[i-1])
			after, ok := read(i, e.Rows[i])
			if !ok {
				continue
			}
			if okBefore && before.VideoID != after.VideoID {
				// Moved by hand: the old video has nothing pinned any more.
				out = append(out, Pin{VideoID: before.VideoID, Version: after.Version})
			}
			out = append(out, after)
		}
	case canal.DeleteAction:
		for i, row := range e.Rows {
			if p, ok := read(i, row); ok {
				out = append(out, Pin{VideoID: p.VideoID, Version: p.Version + 1})
			}
		}
	default:
		return nil, fmt.Errorf("unknown rows event action %q", e.Action)
	}
	return out, errors.Join(errs...)
}
