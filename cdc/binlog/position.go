package binlog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// PositionName is cdc's row in cdc_position: one pipeline per database.
const PositionName = "cdc"

// Position is a point in the binlog: everything before it has been applied
// to the caches. GTID is the executed GTID set up to the same point ("" when
// the server has none); when set, it is what a restart resumes from, since it
// survives a failover to a replica whose file names differ.
type Position struct {
	File   string
	Offset uint32
	GTID   string
}

func (p Position) String() string {
	if p.GTID == "" {
		return fmt.Sprintf("%s:%d", p.File, p.Offset)
	}
	return fmt.Sprintf("%s:%d (gtid %s)", p.File, p.Offset, p.GTID)
}

// sameAs reports whether p and q are the same point of the binlog: the same
// GTID set when both have one (file and offset then only say where the
// server happened to write it — a rotate without transactions moves them),
// else the same file and offset.
func (p Position) sameAs(q Position) bool {
	if p.GTID != "" && q.GTID != "" {
		return p.GTID == q.GTID
	}
	return p == q
}

// FileNumber is the numeric suffix of the binlog file name (binlog.000042 →
// 42), -1 if it has none: a label-free way to export the file as a metric.
func (p Position) FileNumber() int64 {
	i := strings.LastIndexByte(p.File, '.')
	if i < 0 {
		return -1
	}
	n, err := strconv.ParseInt(p.File[i+1:], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// querier is what position reads need: a pool or one connection.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

const (
	loadPositionSQL = `SELECT binlog_file, binlog_pos, gtid_set FROM cdc_position WHERE name = ?`
	// savePositionSQL writes only while the caller's connection holds the
	// leader lock: the fencing check and the write are one statement.
	savePositionSQL = `INSERT INTO cdc_position (name, binlog_file, binlog_pos, gtid_set, updated_at)
		SELECT ?, ?, ?, ?, NOW(6) FROM DUAL WHERE IS_USED_LOCK(?) = CONNECTION_ID()
		ON DUPLICATE KEY UPDATE binlog_file = VALUES(binlog_file), binlog_pos = VALUES(binlog_pos),
			gtid_set = VALUES(gtid_set), updated_at = VALUES(updated_at)`
)

// LoadPosition returns the saved position of pipeline name, and whether
// there is one.
func LoadPosition(ctx context.Context, q querier, name string) (Position, bool, error) {
	var (
		p    Position
		gtid sql.NullString
	)
	err := q.QueryRowContext(ctx, loadPositionSQL, name).Scan(&p.File, &p.Offset, &gtid)
	if errors.Is(err, sql.ErrNoRows) {
		return Position{}, false, nil
	}
	if err != nil {
		return Position{}, false, fmt.Errorf("load binlog position %q: %w", name, err)
	}
	p.GTID = gtid.String
	return p, true, nil
}

// MasterPosition is the server's current binlog end: where a fresh cdc
// starts (caches fill lazily, so nothing before now needs replaying).
func MasterPosition(ctx context.Context, q querier, flavor string) (Position, error) {
	cols, err := queryRow(ctx, q, "SHOW MASTER STATUS")
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1064 { // MySQL 8.4 renamed it
		cols, err = queryRow(ctx, q, "SHOW BINARY LOG STATUS")
	}
	if err != nil {
		return Position{}, fmt.Errorf("binlog status: %w", err)
	}
	if len(cols) < 2 || cols[0] == "" {
		return Position{}, errors.New("binlog status: empty: is log_bin on?")
	}
	off, err := strconv.ParseUint(cols[1], 10, 32)
	if err != nil {
		return Position{}, fmt.Errorf("binlog status: position %q: %w", cols[1], err)
	}
	p := Position{File: cols[0], Offset: uint32(off)}
	switch flavor {
	case "mariadb":
		var gtid sql.NullString
		if err := q.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", p.File, p.Offset).Scan(&gtid); err != nil {
			return Position{}, fmt.Errorf("gtid of %s: %w", p, err)
		}
		p.GTID = gtid.String
	default: // MySQL: Executed_Gtid_Set, empty unless gtid_mode=ON
		if len(cols) >= 5 {
			p.GTID = strings.Join(strings.Fields(cols[4]), "")
		}
	}
	return p, nil
}

// BinaryLogs lists the binlog files the server still has.
func BinaryLogs(ctx context.Context, q querier) ([]string, error) {
	rows, err := q.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return nil, fmt.Errorf("show binary logs: %w", err)
	}
	defer rows.Close()
	var files []string
	for rows.Next() {
		row, err := scanText(rows)
		if err != nil {
			return nil, err
		}
		files = append(files, row[0])
	}
	return files, rows.Err()
}

// queryRow returns the first row of a statement with any columns as text.
func queryRow(ctx context.Context, q querier, query string) ([]string, error) {
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	row, err := scanText(rows)
	if err != nil {
		return nil, err
	}
	return row, rows.Err()
}

// scanText scans the current row, whatever its columns, as text (NULL as "").
func scanText(rows *sql.Rows) ([]string, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	out := make([]string, len(cols))
	for i, v := range vals {
		out[i] = v.String
	}
	return out, nil
}

// CheckServer refuses a server canal cannot follow with full row images, or
// whose server_id equals the one cdc would register with.
func CheckServer(ctx context.Context, q querier, serverID uint32) error {
	var format, image string
	var id uint32
	if err := q.QueryRowContext(ctx, `SELECT @@GLOBAL.binlog_format, @@GLOBAL.binlog_row_image, @@GLOBAL.server_id`).Scan(&format, &image, &id); err != nil {
		return fmt.Errorf("read binlog settings: %w", err)
	}
	if err := checkBinlogSettings(format, image); err != nil {
		return err
	}
	if id == serverID {
		return fmt.Errorf("server-id %d is the MySQL server's own server_id: give cdc another (-server-id)", serverID)
	}
	return nil
}

func checkBinlogSettings(format, image string) error {
	if !strings.EqualFold(format, "ROW") || !strings.EqualFold(image, "FULL") {
		return fmt.Errorf("binlog_format=%s binlog_row_image=%s: cdc needs binlog_format=ROW and binlog_row_image=FULL on the server "+
			"(set both in the server's config and restart it; row images must carry every column)", format, image)
	}
	return nil
}

// LockName is the MySQL user-lock name that makes one cdc active per
// database. MySQL caps lock names at 64 characters.
func LockName(database string) string {
	const prefix = "vidcomments-cdc:"
	if len(prefix)+len(database) <= 64 {
		return prefix + database
	}
	h := fnv.New64a()
	h.Write([]byte(database))
	return prefix + fmt.Sprintf("%016x", h.Sum64())
}
