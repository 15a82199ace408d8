// Command syncer is the Kafka consumer group that fans comment events into
// the Cassandra read model, idempotently (every write USING TIMESTAMP = the
// row version), dead-letters what it cannot apply, clears the Redis overlay
// entries a durable write made obsolete, and commits offsets only after all
// of that. See README.md.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/server"
	"github.com/vidcomments/vidcomments/internal/stores/cassandrastore"
	"github.com/vidcomments/vidcomments/internal/stores/kafkastore"
	"github.com/vidcomments/vidcomments/internal/stores/redisstore"
	"github.com/vidcomments/vidcomments/syncer/backoff"
	"github.com/vidcomments/vidcomments/syncer/consumer"
	"github.com/vidcomments/vidcomments/syncer/readmodel"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case replaySubcommand:
			os.Exit(replayMain(os.Args[2:], os.Stdout, os.Stderr))
		case backfillSubcommand:
			os.Exit(backfillMain(os.Args[2:], os.Stdout, os.Stderr))
		}
	}
	os.Exit(server.Main("syncer", os.Args[1:], build))
}

// build opens Kafka, Cassandra and Redis, wires the admin listener and
// starts the consumer group. Closers run in reverse: the group leaves (and
// commits) before the stores it writes to close.
func build(_ context.Context, cfg Config, logger *slog.Logger) (*server.App, error) {
	reg := prometheus.NewRegistry()
	admin := server.NewAdmin(reg)
	app := server.NewApp("syncer", logger, admin, cfg.AdminAddr)
	if err := cfg.Validate(); err != nil {
		return nil, app.Abort(err)
	}

	kafka, err := sarama.NewClient(cfg.Kafka.Brokers, kafkastore.Config("syncer"))
	if err != nil {
		return nil, app.Abort(err)
	}
	app.OnClose("kafka", kafka.Close)
	admin.AddCheck("kafka", func(context.Context) error { return kafkastore.Ping(kafka) })
	ensureTopic(kafka, cfg.Kafka.Brokers, cfg.DeadLetters(), cfg.Kafka.Topic, logger)
	dlq, err := newDeadLetterProducer(cfg.Kafka.Brokers)
	if err != nil {
		return nil, app.Abort(err)
	}
	app.OnClose("dead-letter producer", dlq.Close)

	cass, err := cassandrastore.Open(cfg.Cassandra)
	if err != nil {
		return nil, app.Abort(err)
	}
	app.OnClose("cassandra", func() error { cass.Close(); return nil })
	admin.AddCheck("cassandra", func(ctx context.Context) error { return cassandrastore.Ping(ctx, cass) })

	rdb := redisstore.New(cfg.Redis)
	app.OnClose("redis", rdb.Close)
	admin.AddCheck("redis", func(ctx context.Context) error { return redisstore.Ping(ctx, rdb) })

	scfg := kafkastore.Config("syncer")
	consumer.SaramaConfig(scfg, cfg.GroupInstanceID, cfg.BatchSize)
	cg, err := sarama.NewConsumerGroup(cfg.Kafka.Brokers, cfg.Group, scfg)
	if err != nil {
		return nil, app.Abort(err)
	}
	group := consumer.New(cg, readmodel.NewWriter(cass, cfg.WriteConcurrency, nil), pagecache.New(rdb, pagecache.Options{}), dlq, consumer.Options{
		Topic:           cfg.Kafka.Topic,
		DeadLetterTopic: cfg.DeadLetters(),
		BatchSize:       cfg.BatchSize,
		FlushInterval:   cfg.FlushInterval,
		CommitInterval:  cfg.CommitInterval,
		Retry:           backoff.Policy{Base: cfg.RetryBase, Max: cfg.RetryMax},
		SettleAttempts:  cfg.SettleAttempts,
		Logger:          logger,
		Registerer:      reg,
	})
	group.Start()
	app.OnClose("consumer group", group.Close)
	logger.Info("consuming", "topic", cfg.Kafka.Topic, "group", cfg.Group, "dead_letters", cfg.DeadLetters(), "keyspace", cfg.Cassandra.Keyspace)
	return app, nil
}
