// Package mysqlstore opens MySQL/MariaDB pools with the settings every
// vidcomments service shares.
package mysqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/vidcomments/vidcomments/internal/config"
)

// Config parses a DSN and applies what vidcomments relies on: UTC
// times parsed into time.Time, bounded dial/read/write timeouts, utf8mb4.
func Config(dsn string) (*mysql.Config, error) {
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("mysql dsn: %w", err)
	}
	c.ParseTime = true
	c.Loc = time.UTC
	if c.Timeout == 0 {
		c.Timeout = config.DefaultDialTimeout
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = 30 * time.Second
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.Collation == "" || c.Collation == mysql.NewConfig().Collation {
		c.Collation = "utf8mb4_bin"
	}
	if c.Params == nil {
		c.Params = map[string]string{}
	}
	c.Params["time_zone"] = "'+00:00'"
	return c, nil
}

// Open opens a pool and checks it with a ping.
func Open(ctx context.Context, cfg config.MySQL) (*sql.DB, error) {
	db, err := OpenLazy(cfg)
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("mysql %s: %w", addrOf(cfg.DSN), err)
	}
	return db, nil
}

// OpenLazy opens a pool without connecting: for a service that must start
// and serve while MySQL is down (readsvc's author profiles).
func OpenLazy(cfg config.MySQL) (*sql.DB, error) {
	c, err := Config(cfg.DSN)
	if err != nil {
		return nil, err
	}
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, fmt.Errorf("mysql connector: %w", err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(64)
	db.SetMaxIdleConns(64)
	db.SetConnMaxLifetime(30 * time.Minute)
	return db, nil
}

func addrOf(dsn string) string {
	if c, err := mysql.ParseDSN(dsn); err == nil {
		return c.Addr
	}
	return "?"
}

// Querier is what QueryAll reads with: *sql.DB, *sql.Tx or *sql.Conn.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// QueryAll runs query and returns its rows, each read by scan.
func QueryAll[T any](ctx context.Context, q Querier, scan func(*sql.Rows, *T) error, query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var x T
		if err := scan(rows, &x); err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}
