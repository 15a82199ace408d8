package main

import (
	"errors"
	"time"

	"github.com/vidcomments/vidcomments/internal/config"
	"github.com/vidcomments/vidcomments/syncer/consumer"
	"github.com/vidcomments/vidcomments/syncer/readmodel"
)

// Defaults of the syncer's own flags.
const (
	DefaultGroup            = "vidcomments-syncer"
	DefaultDeadLetterSuffix = ".dlq" // the dead-letter topic is <topic>.dlq unless -dlq-topic says otherwise
)

// Config is the syncer's configuration.
type Config struct {
	config.Process
	Group            string
	GroupInstanceID  string // static membership (KIP-345); "" = dynamic
	DeadLetterTopic  string // "" = Kafka.Topic + DefaultDeadLetterSuffix
	BatchSize        int
	FlushInterval    time.Duration
	CommitInterval   time.Duration
	RetryBase        time.Duration
	RetryMax         time.Duration
	SettleAttempts   int
	WriteConcurrency int
	Kafka            config.Kafka
	Cassandra        config.Cassandra
	Redis            config.Redis
}

// RegisterFlags registers every syncer flag with its VC_… environment name.
func (c *Config) RegisterFlags(f *config.Flags) {
	c.Process.RegisterFlags(f, "VC_SYNCER_", config.DefaultSyncAdminAddr)
	f.String(&c.Group, "group", "VC_SYNCER_GROUP", DefaultGroup, "Kafka consumer group")
	f.String(&c.GroupInstanceID, "group-instance-id", "VC_SYNCER_GROUP_INSTANCE_ID", "",
		"static group membership id, unique per process (e.g. the pod name): a restart takes its partitions back without a rebalance")
	f.String(&c.DeadLetterTopic, "dlq-topic", "VC_SYNCER_DLQ_TOPIC", "", "dead-letter topic (default <kafka-topic>"+DefaultDeadLetterSuffix+")")
	f.Int(&c.BatchSize, "batch-size", "VC_SYNCER_BATCH_SIZE", consumer.DefaultBatchSize, "most messages of one partition applied together")
	f.Duration(&c.FlushInterval, "flush-interval", "VC_SYNCER_FLUSH_INTERVAL", consumer.DefaultFlushInterval, "longest a batch waits to fill after its first message")
	f.Duration(&c.CommitInterval, "commit-interval", "VC_SYNCER_COMMIT_INTERVAL", consumer.DefaultCommitInterval, "how often durable offsets are committed")
	f.Duration(&c.RetryBase, "retry-base", "VC_SYNCER_RETRY_BASE", consumer.DefaultRetryBase, "first backoff after a failed write (doubles, jittered)")
	f.Duration(&c.RetryMax, "retry-max", "VC_SYNCER_RETRY_MAX", consumer.DefaultRetryMax, "cap of the backoff")
	f.Int(&c.SettleAttempts, "settle-attempts", "VC_SYNCER_SETTLE_ATTEMPTS", consumer.DefaultSettleAttempts, "attempts at clearing a batch's Redis overlay entries before moving on")
	f.Int(&c.WriteConcurrency, "write-concurrency", "VC_SYNCER_WRITE_CONCURRENCY", readmodel.DefaultConcurrency, "Cassandra partitions written at once per batch")
	c.Kafka.RegisterFlags(f)
	c.Cassandra.RegisterFlags(f)
	c.Redis.RegisterFlags(f)
}

// DeadLetters returns the dead-letter topic.
func (c Config) DeadLetters() string {
	if c.DeadLetterTopic != "" {
		return c.DeadLetterTopic
	}
	return c.Kafka.Topic + DefaultDeadLetterSuffix
}

// Validate rejects settings the syncer cannot run with.
func (c Config) Validate() error {
	var errs []error
	if c.BatchSize <= 0 {
		errs = append(errs, errors.New("batch-size must be positive"))
	}
	if c.FlushInterval <= 0 || c.CommitInterval <= 0 || c.RetryBase <= 0 || c.RetryMax < c.RetryBase {
		errs = append(errs, errors.New("flush-interval, commit-interval and retry-base must be positive, retry-max at least retry-base"))
	}
	if c.SettleAttempts <= 0 || c.WriteConcurrency <= 0 {
		errs = append(errs, errors.New("settle-attempts and write-concurrency must be positive"))
	}
	if c.Kafka.Topic == "" || c.DeadLetters() == c.Kafka.Topic {
		errs = append(errs, errors.New("kafka-topic must be set and differ from dlq-topic"))
	}
	return errors.Join(errs...)
}
