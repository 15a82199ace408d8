// Command readsvc serves comment pages of hot videos through layered caches:
// groupcache in process, Redis sorted-set pages, and guarded backfill from
// Cassandra. This is its foundation: configuration, dependencies, the admin
// listener and the (still empty) API router; the read path comes next.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/httpapi"
	"github.com/vidcomments/vidcomments/internal/server"
	"github.com/vidcomments/vidcomments/internal/stores/cassandrastore"
	"github.com/vidcomments/vidcomments/internal/stores/redisstore"
)

func main() {
	var cfg Config
	os.Exit(server.Main("readsvc", os.Args[1:], &cfg, func(ctx context.Context, logger *slog.Logger) (*server.App, error) {
		return build(ctx, cfg, logger)
	}))
}

// build opens Redis and Cassandra and wires the listeners.
func build(ctx context.Context, cfg Config, logger *slog.Logger) (*server.App, error) {
	admin := server.NewAdmin(prometheus.NewRegistry())
	app := server.NewApp("readsvc", logger, admin, cfg.AdminAddr)

	rdb := redisstore.New(cfg.Redis)
	app.OnClose("redis", rdb.Close)
	admin.AddCheck("redis", func(ctx context.Context) error { return redisstore.Ping(ctx, rdb) })

	cass, err := cassandrastore.Open(cfg.Cassandra)
	if err != nil {
		return nil, app.Abort(err)
	}
	app.OnClose("cassandra", func() error { cass.Close(); return nil })
	admin.AddCheck("cassandra", func(ctx context.Context) error { return cassandrastore.Ping(ctx, cass) })

	app.AddServer("api", cfg.Addr, httpapi.NewRouter(logger))
	return app, nil
}
