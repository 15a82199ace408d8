// Package consumer is the syncer's Kafka side: a consumer group on the
// comments topic that hands each partition's events, in batches, to the
// Cassandra read model, settles the Redis overlay once a batch is durable,
// and only then marks the batch's offsets. Undecodable or invalid events go
// to a dead-letter topic and never stall their partition; every other
// failure is retried with backoff, never skipped.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/config"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/syncer/backoff"
	"github.com/vidcomments/vidcomments/syncer/readmodel"
)

// Applier makes events durable in the read model. Apply must be idempotent
// and order-insensitive: a batch may be applied again after a crash, and
// older events may follow newer ones.
type Applier interface {
	// Check reports an event the read model can never hold, wrapping
	// comment.ErrInvalidEvent.
	Check(e comment.Event) error
	// Apply writes comment and pin events.
	Apply(ctx context.Context, events []comment.Event) error
	// ApplyLikes aggregates like events into absolute counts, guarded by
	// their Kafka offsets, and returns the counts.
	ApplyLikes(ctx context.Context, likes []readmodel.LikeEvent) ([]readmodel.LikeCount, error)
	// Totals reads the videos' approved counts after Apply recounted them.
	Totals(ctx context.Context, videos []int64) (map[int64]int64, error)
}

// Settler is what the syncer needs of the Redis page cache
// (pagecache.Cache): clear the overlay entries of changes Cassandra now
// holds, and bring cached like counts and the hot window up to the counts
// Cassandra now holds.
type Settler interface {
	SettleMany(ctx context.Context, reqs []pagecache.SettleRequest) []pagecache.SettleResult
	ApplyLikes(ctx context.Context, video int64, counts []pagecache.LikeCount) error
	SyncTotal(ctx context.Context, video, total int64) (bool, error)
}

// DeadLetters publishes messages to the dead-letter topic (a
// sarama.SyncProducer).
type DeadLetters interface {
	SendMessages(msgs []*sarama.ProducerMessage) error
}

// The headers of a dead-lettered message. Its key and value are the
// original message's, byte for byte.
const (
	HeaderReason    = "vc-dlq-reason"    // why it could not be applied
	HeaderTopic     = "vc-dlq-topic"     // where it came from
	HeaderPartition = "vc-dlq-partition" // decimal
	HeaderOffset    = "vc-dlq-offset"    // decimal
)

// Defaults of Options.
const (
	DefaultBatchSize      = 500
	DefaultFlushInterval  = 10 * time.Millisecond
	DefaultCommitInterval = time.Second
	DefaultRetryBase      = 100 * time.Millisecond
	DefaultRetryMax       = 5 * time.Second
	DefaultSettleAttempts = 5
)

// Options tune a Group.
type Options struct {
	Topic           string
	DeadLetterTopic string
	// BatchSize is the most messages of one partition applied together.
	BatchSize int
	// FlushInterval is the longest a batch waits to fill after its first
	// message.
	FlushInterval time.Duration
	// CommitInterval is how often marked offsets are committed.
	CommitInterval time.Duration
	// Retry shapes the waits between attempts at Cassandra, Redis and the
	// dead-letter topic.
	Retry backoff.Policy
	// SettleAttempts bounds the attempts at settling a batch's overlay
	// entries while Redis fails; then the batch moves on without them.
	SettleAttempts int
	Logger         *slog.Logger
	Registerer     prometheus.Registerer
}

func (o *Options) defaults() {
	config.Default(&o.BatchSize, DefaultBatchSize)
	config.Default(&o.FlushInterval, DefaultFlushInterval)
	config.Default(&o.CommitInterval, DefaultCommitInterval)
	config.Default(&o.Retry.Base, DefaultRetryBase)
	config.Default(&o.Retry.Max, DefaultRetryMax)
	config.Default(&o.SettleAttempts, DefaultSettleAttempts)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
}

// SaramaConfig adjusts a client configuration for the group: offsets are
// marked only after a batch is durable and committed by the group itself
// (not by Sarama's auto-commit timer), a new group starts from the oldest
// message, and errors are returned to be logged. instanceID, when set, makes
// the member static (KIP-345): a restarted process with the same id takes
// its partitions back at once instead of waiting out the session timeout.
// Each partition buffers two batches, so the next batch is fetched while
// one is being written.
func SaramaConfig(c *sarama.Config, instanceID string, batchSize int) {
	config.Default(&batchSize, DefaultBatchSize)
	c.ChannelBufferSize = 2 * batchSize
	c.Consumer.MaxProcessingTime = time.Second // a batch in flight is not a stuck consumer
	c.Consumer.Offsets.AutoCommit.Enable = false
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Return.Errors = true
	c.Consumer.Group.InstanceId = instanceID
}

// Group runs the consumer group.
type Group struct {
	cg     sarama.ConsumerGroup
	h      *handler
	log    *slog.Logger
	retry  backoff.Retrier
	cancel context.CancelFunc
	// closed when the consume loop and the error logger have returned
	runDone, errsDone chan struct{}
}

// New returns a Group over cg (configured with SaramaConfig), which it owns
// and closes.
func New(cg sarama.ConsumerGroup, apply Applier, settle Settler, dlq DeadLetters, opts Options) *Group {
	opts.defaults()
	retry := backoff.Retrier{Policy: opts.Retry}
	h := &handler{
		opts:   opts,
		cg:     cg,
		apply:  apply,
		settle: settle,
		dlq:    dlq,
		retry:  retry,
		m:      newMetrics(opts.Registerer),
		log:    opts.Logger,
	}
	return &Group{cg: cg, h: h, log: opts.Logger, retry: retry}
}

// Start joins the group and consumes until Close.
func (g *Group) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	g.errsDone, g.runDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(g.errsDone)
		for err := range g.cg.Errors() {
			g.log.Warn("kafka consumer group", "err", err)
		}
	}()
	go func() {
		defer close(g.runDone)
		g.run(ctx)
	}()
}

// run consumes session after session: Consume returns at every rebalance.
func (g *Group) run(ctx context.Context) {
	failures := 0
	for ctx.Err() == nil {
		err := g.cg.Consume(ctx, []string{g.h.opts.Topic}, g.h)
		switch {
		case errors.Is(err, sarama.ErrClosedConsumerGroup) || ctx.Err() != nil:
			return
		case err != nil:
			failures++
			wait := g.retry.Policy.Delay(failures, 0.5)
			g.log.Warn("consumer group session failed; rejoining", "err", err, "wait", wait)
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return
			}
		default:
			failures = 0
		}
	}
}

// Close leaves the group: the running batches stop where they are (their
// offsets stay unmarked, so they are applied again by the next owner),
// marked offsets are committed, and Close returns once every goroutine has.
func (g *Group) Close() error {
	if g.cancel != nil {
		g.cancel()
		<-g.runDone // the session ended: Cleanup has committed
	}
	err := g.cg.Close() // leaves the group and closes Errors
	if g.errsDone != nil {
		<-g.errsDone
	}
	if err != nil {
		return fmt.Errorf("close consumer group: %w", err)
	}
	return nil
}
