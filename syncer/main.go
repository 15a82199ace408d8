// Command syncer is the Kafka consumer group that fans comment events into
// Cassandra, idempotently. This is its foundation: configuration,
// dependencies and the admin listener; the consumer comes next.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/server"
	"github.com/vidcomments/vidcomments/internal/stores/cassandrastore"
	"github.com/vidcomments/vidcomments/internal/stores/kafkastore"
	"github.com/vidcomments/vidcomments/internal/stores/redisstore"
)

func main() {
	var cfg Config
	os.Exit(server.Main("syncer", os.Args[1:], &cfg, func(ctx context.Context, logger *slog.Logger) (*server.App, error) {
		return build(ctx, cfg, logger)
	}))
}

// build opens Kafka, Cassandra and Redis and wires the admin listener.
func build(_ context.Context, cfg Config, logger *slog.Logger) (*server.App, error) {
	admin := server.NewAdmin(prometheus.NewRegistry())
	app := server.NewApp("syncer", logger, admin, cfg.AdminAddr)

	kafka, err := sarama.NewClient(cfg.Kafka.Brokers, kafkastore.Config("syncer"))
	if err != nil {
		return nil, app.Abort(err)
	}
	app.OnClose("kafka", kafka.Close)
	admin.AddCheck("kafka", func(context.Context) error { return kafkastore.Ping(kafka) })

	cass, err := cassandrastore.Open(cfg.Cassandra)
	if err != nil {
		return nil, app.Abort(err)
	}
	app.OnClose("cassandra", func() error { cass.Close(); return nil })
	admin.AddCheck("cassandra", func(ctx context.Context) error { return cassandrastore.Ping(ctx, cass) })

	rdb := redisstore.New(cfg.Redis)
	app.OnClose("redis", rdb.Close)
	admin.AddCheck("redis", func(ctx context.Context) error { return redisstore.Ping(ctx, rdb) })
	return app, nil
}
