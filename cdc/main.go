// Command cdc follows the MySQL binlog and keeps every cache honest: it
// edits or drops cached pages the moment a comment row changes. This is its
// foundation: configuration, dependencies (including a binlog-format check)
// and the admin listener; the canal listener comes next.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/server"
	"github.com/vidcomments/vidcomments/internal/stores/mysqlstore"
	"github.com/vidcomments/vidcomments/internal/stores/redisstore"
)

func main() {
	var cfg Config
	os.Exit(server.Main("cdc", os.Args[1:], &cfg, func(ctx context.Context, logger *slog.Logger) (*server.App, error) {
		return build(ctx, cfg, logger)
	}))
}

// build opens MySQL and Redis, refuses a binlog that canal cannot follow,
// and wires the admin listener.
func build(ctx context.Context, cfg Config, logger *slog.Logger) (*server.App, error) {
	if err := cfg.MySQL.Validate(); err != nil {
		return nil, err
	}
	admin := server.NewAdmin(prometheus.NewRegistry())
	app := server.NewApp("cdc", logger, admin, cfg.AdminAddr)

	db, err := mysqlstore.Open(ctx, cfg.MySQL)
	if err != nil {
		return nil, app.Abort(err)
	}
	app.OnClose("mysql", db.Close)
	var format, image string
	if err := db.QueryRowContext(ctx, `SELECT @@binlog_format, @@binlog_row_image`).Scan(&format, &image); err != nil {
		return nil, app.Abort(fmt.Errorf("read binlog settings: %w", err))
	}
	if format != "ROW" || image != "FULL" {
		return nil, app.Abort(fmt.Errorf("binlog_format=%s binlog_row_image=%s: cdc needs binlog_format=ROW and binlog_row_image=FULL on the server", format, image))
	}
	admin.AddCheck("mysql", db.PingContext)

	rdb := redisstore.New(cfg.Redis)
	app.OnClose("redis", rdb.Close)
	admin.AddCheck("redis", func(ctx context.Context) error { return redisstore.Ping(ctx, rdb) })
	return app, nil
}
