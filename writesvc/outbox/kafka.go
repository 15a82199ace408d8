package outbox

import (
	"fmt"
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
		p, err := sarama.NewSyncProducer(brokers, c)
		if err != nil {
			return nil, fmt.Errorf("kafka producer for %v: %w", brokers, err)
		}
		return p, nil
	}
}
