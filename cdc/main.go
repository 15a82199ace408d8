// Command cdc follows the MySQL binlog and keeps every cache honest: for
// each change of a comments row it edits the video's cached pages in Redis
// from the row image, records the change in the video's overlay, bumps the
// video's cache version and publishes it — then, and only then, saves its
// binlog position. One cdc per database is active (a MySQL lock); others
// stand by and take over when it dies.
//
//	cdc [flags]                  follow the binlog (see README.md)
//	cdc reset-position [flags]   recover from a purged position: save the
//	                             current one and invalidate every cached video
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/cdc/binlog"
	"github.com/vidcomments/vidcomments/internal/cdn"
	"github.com/vidcomments/vidcomments/internal/inspect"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/server"
	"github.com/vidcomments/vidcomments/internal/stores/mysqlstore"
	"github.com/vidcomments/vidcomments/internal/stores/redisstore"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == resetSubcommand {
		os.Exit(resetPositionMain(os.Args[2:]))
	}
	os.Exit(server.Main("cdc", os.Args[1:], build))
}

// build opens MySQL and Redis, refuses a server canal cannot follow, and
// starts the binlog listener (which leads or stands by).
func build(ctx context.Context, cfg Config, logger *slog.Logger) (*server.App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	admin := server.NewAdmin(reg)
	app := server.NewApp("cdc", logger, admin, cfg.AdminAddr)

	db, err := mysqlstore.Open(ctx, cfg.MySQL)
	if err != nil {
		return nil, app.Abort(err)
	}
	app.OnClose("mysql", db.Close)
	serverID := cfg.ReplicaServerID()
	if err := binlog.CheckServer(ctx, db, serverID); err != nil {
		return nil, app.Abort(err)
	}
	admin.AddCheck("mysql", db.PingContext)

	rdb := redisstore.New(cfg.Redis)
	app.OnClose("redis", rdb.Close)
	admin.AddCheck("redis", func(ctx context.Context) error { return redisstore.Ping(ctx, rdb) })

	cache := pagecache.New(rdb, pagecache.Options{Window: cfg.CacheWindow})
	var changes binlog.Cache = cache
	if len(cfg.CDNPurgeURLs) > 0 {
		purger, err := cdn.NewPurger(cdn.PurgerConfig{URLs: cfg.CDNPurgeURLs, Settle: cfg.CDNSettle, Repeat: cfg.CDNRepeat, Registry: reg, Logger: logger})
		if err != nil {
			return nil, app.Abort(err)
		}
		app.OnClose("cdn purger", purger.Close)
		changes = purgingCache{Cache: cache, cdn: purger}
	}
	listener, err := binlog.New(binlog.Config{
		MySQL:        cfg.MySQL,
		ServerID:     serverID,
		SaveInterval: cfg.SaveInterval,
		LockWait:     cfg.LockWait,
		Profiles:     profileRefresher(db, rdb, changes),
		Logger:       logger,
		Registry:     reg,
	}, db, changes)
	if err != nil {
		return nil, app.Abort(err)
	}
	app.OnClose("binlog listener", listener.Close)
	app.Watch("binlog listener", listener.Err())
	listener.Start()
	if cfg.InspectEvery > 0 {
		job := inspect.NewJob(inspect.New(db, cache, inspect.Options{Lists: true}), cache, inspect.JobConfig{
			Every: cfg.InspectEvery, Grace: cfg.InspectGrace, MaxVideos: cfg.InspectVideos, Repair: cfg.InspectRepair,
			Logger: logger, Registry: reg,
		})
		app.OnClose("cache inspector", job.Close)
		job.Start()
	}
	return app, nil
}
