package outbox

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/vidcomments/vidcomments/internal/stores/kafkastore"
)

// KafkaProducer returns a ProducerFactory for Sarama sync producers with
// the delivery settings the outbox relies on: acks from all in-sync
// replicas, the idempotent producer (no duplicates from Sarama's own
// retries, order kept per partition with one request in flight), the hash
// partitioner on the key, and network timeouts short enough that a hung
// broker fails a batch — which then goes out again from the table — rather
// than stalling the relay for minutes.
func KafkaProducer(brokers []string, clientID string) ProducerFactory {
	return func() (Producer, error) {
		c := kafkastore.Config(clientID)
		c.Producer.RequiredAcks = sarama.WaitForAll
		c.Producer.Idempotent = true
		c.Net.MaxOpenRequests = 1 // required by the idempotent producer; keeps order on retry
		c.Producer.Return.Successes = true
		c.Producer.Return.Errors = true
		c.Producer.Retry.Max = 5
		c.Producer.Retry.Backoff = 100 * time.Millisecond
		c.Producer.Timeout = 10 * time.Second
		c.Producer.Partitioner = sarama.NewHashPartitioner
		c.Net.ReadTimeout = 10 * time.Second
		c.Net.WriteTimeout = 10 * time.Second
		p, err := sarama.NewAsyncProducer(brokers, c)
		if err != nil {
			return nil, fmt.Errorf("kafka producer for %v: %w", brokers, err)
		}
		return &batchProducer{p: p, closing: make(chan struct{})}, nil
	}
}

// errProducerClosed fails a send that Close interrupted.
var errProducerClosed = errors.New("kafka producer closed during the send")

// batchProducer is a Producer over a Sarama async producer. Sarama's own
// SyncProducer cannot be closed while SendMessages runs: its feeding
// goroutine then sends on the closed input channel and panics the process.
// Here Close stops the feeding first, waits for it, and only then closes
// the async producer; a send it interrupts returns errProducerClosed and
// its rows stay unsent. SendMessages calls must not overlap (the relay
// sends one batch at a time).
type batchProducer struct {
	p       sarama.AsyncProducer
	closing chan struct{}
	feeding sync.WaitGroup

	mu     sync.Mutex
	closed bool
}

// SendMessages publishes msgs and returns once each is acknowledged or
// failed (sarama.ProducerErrors lists the failures).
func (b *batchProducer) SendMessages(msgs []*sarama.ProducerMessage) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return errProducerClosed
	}
	b.feeding.Add(1)
	b.mu.Unlock()
	go func() {
		defer b.feeding.Done()
		for _, m := range msgs {
			select {
			case b.p.Input() <- m:
			case <-b.closing:
				return
			}
		}
	}()
	var failed sarama.ProducerErrors
	for range msgs {
		select {
		case _, ok := <-b.p.Successes():
			if !ok {
				return errProducerClosed
			}
		case pe, ok := <-b.p.Errors():
			if !ok {
				return errProducerClosed
			}
			failed = append(failed, pe)
		case <-b.closing:
			return errProducerClosed
		}
	}
	if len(failed) > 0 {
		return failed
	}
	return nil
}

// Close interrupts a send in flight and closes the producer. Safe to call
// more than once and concurrently with SendMessages.
func (b *batchProducer) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.closing)
	b.mu.Unlock()
	b.feeding.Wait()
	return b.p.Close()
}
