package rowmap

import (
	"errors"
	"reflect"
	"testing"

	"github.com/go-mysql-org/go-mysql/canal"
	"github.com/go-mysql-org/go-mysql/schema"
)

func pinTable() *schema.Table {
	t := &schema.Table{Schema: "vidcomments", Name: PinTable}
	for _, c := range []string{"video_id", "comment_id", "pinned_by", "updated_at", "version"} {
		t.AddColumn(c, "", "", "")
	}
	return t
}

func pinRow(video, id, version int64) []any {
	return []any{video, id, int64(9000), created, version}
}

func TestPins(t *testing.T) {
	tests := []struct {
		name    string
		action  string
		rows    [][]any
		want    []Pin
		badRows int
	}{
		{"first pin", canal.InsertAction, [][]any{pinRow(7, 100, 5)}, []Pin{{7, 100, 5}}, 0},
		{"replaced", canal.UpdateAction, [][]any{pinRow(7, 100, 5), pinRow(7, 200, 6)}, []Pin{{7, 200, 6}}, 0},
		{"unpinned (comment 0)", canal.UpdateAction, [][]any{pinRow(7, 200, 6), pinRow(7, 0, 7)}, []Pin{{7, 0, 7}}, 0},
		{"row deleted by hand: nothing pinned, after its version", canal.DeleteAction, [][]any{pinRow(7, 200, 6)}, []Pin{{7, 0, 7}}, 0},
		{"moved to another video by hand", canal.UpdateAction, [][]any{pinRow(7, 200, 6), pinRow(8, 200, 7)}, []Pin{{7, 0, 7}, {8, 200, 7}}, 0},
		{"a NULL version is a bad row naming its video", canal.InsertAction, [][]any{{int64(7), int64(1), int64(1), created, nil}, pinRow(9, 1, 2)}, []Pin{{9, 1, 2}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Pins(&canal.RowsEvent{Table: pinTable(), Action: tt.action, Rows: tt.rows})
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("pins %+v, want %+v", got, tt.want)
			}
			var re *RowError
			switch {
			case tt.badRows == 0 && err != nil:
				t.Errorf("err %v", err)
			case tt.badRows > 0 && (!errors.As(err, &re) || re.VideoID != 7):
				t.Errorf("err %v, want a RowError of video 7", err)
			}
		})
	}
	if _, err := Pins(&canal.RowsEvent{Table: table(realColumns...), Action: canal.InsertAction}); err == nil {
		t.Error("a comments event mapped as pins")
	}
}
