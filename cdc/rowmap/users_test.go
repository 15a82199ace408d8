package rowmap

import (
	"reflect"
	"testing"

	"github.com/go-mysql-org/go-mysql/canal"
	"github.com/go-mysql-org/go-mysql/schema"
)

func profileTable(name string, cols ...string) *schema.Table {
	t := &schema.Table{Schema: "vidcomments", Name: name}
	for _, c := range cols {
		t.AddColumn(c, "", "", "")
	}
	return t
}

func TestUsers(t *testing.T) {
	users := profileTable(UserTable, "id", "display_name", "avatar_url", "updated_at")
	bans := profileTable(BanTable, "user_id", "reason", "banned_by", "created_at", "expires_at")
	tests := []struct {
		name    string
		table   *schema.Table
		action  string
		rows    [][]any
		want    []int64
		wantErr bool
	}{
		{"a new profile", users, canal.InsertAction, [][]any{{int64(7), "Ada", "", created}}, []int64{7}, false},
		{"a rename names the user once", users, canal.UpdateAction, [][]any{{int64(7), "Ada", "", created}, {int64(7), "Ada L.", "", created}}, []int64{7}, false},
		{"an id changed by hand names both", users, canal.UpdateAction, [][]any{{int64(7), "Ada", "", created}, {int64(8), "Ada", "", created}}, []int64{7, 8}, false},
		{"a ban", bans, canal.InsertAction, [][]any{{int64(9), "spam", int64(1), created, nil}}, []int64{9}, false},
		{"an unban (delete), several users", bans, canal.DeleteAction, [][]any{{int64(9), "", int64(1), created, nil}, {uint64(10), "", int64(1), created, nil}}, []int64{9, 10}, false},
		{"an unreadable id is a bad row, the rest kept", users, canal.InsertAction, [][]any{{"x", "", "", created}, {int64(11), "", "", created}}, []int64{11}, true},
		{"a short row image", bans, canal.InsertAction, [][]any{{}}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Users(&canal.RowsEvent{Table: tt.table, Action: tt.action, Rows: tt.rows})
			if !reflect.DeepEqual(got, tt.want) || (err != nil) != tt.wantErr {
				t.Errorf("users %v, err %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
	if _, err := Users(&canal.RowsEvent{Table: pinTable(), Action: canal.InsertAction}); err == nil {
		t.Error("a video_pins event mapped as profile rows")
	}
}
