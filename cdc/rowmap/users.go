package rowmap

import (
	"errors"
	"fmt"

	"github.com/go-mysql-org/go-mysql/canal"
)

// The tables of author profiles (schema/mysql/090 and 001).
const (
	UserTable = "users"
	BanTable  = "user_bans"
)

// userColumn is the column of each profile table that names the user.
var userColumn = map[string]string{UserTable: "id", BanTable: "user_id"}

// Users returns the users whose profiles a rows event of users or
// user_bans changed, once each: an update that moves a row names both
// users.
func Users(e *canal.RowsEvent) ([]int64, error) {
	if e == nil || e.Table == nil {
		return nil, errors.New("rows event without a table")
	}
	col, ok := userColumn[e.Table.Name]
	if !ok {
		return nil, fmt.Errorf("rows event of table %s.%s, want %s or %s", e.Table.Schema, e.Table.Name, UserTable, BanTable)
	}
	j := e.Table.FindColumn(col)
	if j < 0 {
		return nil, fmt.Errorf("table %s.%s has no column %s", e.Table.Schema, e.Table.Name, col)
	}
	seen := make(map[int64]bool, len(e.Rows))
	var (
		out  []int64
		errs []error
	)
	for i, row := range e.Rows {
		if j >= len(row) {
			errs = append(errs, &RowError{Row: i, Err: fmt.Errorf("column %s: row image has only %d columns", col, len(row))})
			continue
		}
		id, err := toInt64(row[j])
		if err != nil || id <= 0 {
			errs = append(errs, &RowError{Row: i, Err: fmt.Errorf("column %s: %v, want a positive id", col, row[j])})
			continue
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, errors.Join(errs...)
}
