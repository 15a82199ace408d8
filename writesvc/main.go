// Command writesvc accepts comments, stages them in MySQL with a
// transactional outbox, publishes them to Kafka and serves the moderation
// API. This is its foundation: configuration, dependencies, the admin
// listener and the (still empty) API router; the write path comes next.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/httpapi"
	"github.com/vidcomments/vidcomments/internal/server"
	"github.com/vidcomments/vidcomments/internal/stores/kafkastore"
	"github.com/vidcomments/vidcomments/internal/stores/mysqlstore"
	"github.com/vidcomments/vidcomments/internal/stores/redisstore"
)

func main() {
	var cfg Config
	os.Exit(server.Main("writesvc", os.Args[1:], &cfg, func(ctx context.Context, logger *slog.Logger) (*server.App, error) {
		return build(ctx, cfg, logger)
	}))
}

// build opens MySQL, Redis and a Kafka client and wires the listeners.
func build(ctx context.Context, cfg Config, logger *slog.Logger) (*server.App, error) {
	if err := cfg.MySQL.Validate(); err != nil {
		return nil, err
	}
	admin := server.NewAdmin(prometheus.NewRegistry())
	app := server.NewApp("writesvc", logger, admin, cfg.AdminAddr)

	db, err := mysqlstore.Open(ctx, cfg.MySQL)
	if err != nil {
		return nil, app.Abort(err)
	}
	app.OnClose("mysql", db.Close)
	admin.AddCheck("mysql", db.PingContext)

	rdb := redisstore.New(cfg.Redis)
	app.OnClose("redis", rdb.Close)
	admin.AddCheck("redis", func(ctx context.Context) error { return redisstore.Ping(ctx, rdb) })

	// Kafka being down must not stop writesvc (DESIGN.md failure table):
	// accepted comments wait in the outbox. So Kafka is neither a start-up
	// requirement nor a readiness check.
	kafka, err := sarama.NewClient(cfg.Kafka.Brokers, kafkastore.Config("writesvc"))
	if err != nil {
		logger.Warn("kafka unreachable at start; comments will wait in the outbox", "err", err)
	} else {
		app.OnClose("kafka", kafka.Close)
	}

	app.AddServer("api", cfg.Addr, httpapi.NewRouter(logger))
	return app, nil
}
