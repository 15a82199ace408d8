// Package kafkastore holds the Sarama settings every producer and consumer
// of vidcomments shares.
package kafkastore

import (
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"
	"github.com/rcrowley/go-metrics"

	"github.com/vidcomments/vidcomments/internal/config"
)

func init() {
	// Sarama records go-metrics meters by default, which cost CPU on every
	// message and start a process-wide ticker goroutine that never stops.
	// vidcomments exports its own Prometheus metrics instead.
	metrics.UseNilMetrics = true
}

// Version is the protocol version vidcomments speaks. Kafka 4 removed the
// protocol versions older than 2.1 that Sarama's default still uses.
var Version = sarama.V4_0_0_0

// Config returns the Sarama settings shared by every producer and
// consumer: protocol version, client id, bounded network timeouts.
func Config(clientID string) *sarama.Config {
	c := sarama.NewConfig()
	c.Version = Version
	c.ClientID = clientID
	c.Net.DialTimeout = config.DefaultDialTimeout
	c.Metadata.Retry.Max = 2
	c.Metadata.Retry.Backoff = 250 * time.Millisecond
	return c
}

// Ping asks the cluster for its metadata through client.
func Ping(client sarama.Client) error {
	if err := client.RefreshMetadata(); err != nil {
		return fmt.Errorf("kafka metadata: %w", err)
	}
	if len(client.Brokers()) == 0 {
		return errors.New("kafka metadata: no brokers")
	}
	return nil
}
