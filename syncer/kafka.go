package main

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/IBM/sarama"

	"github.com/vidcomments/vidcomments/internal/stores/kafkastore"
)

// newDeadLetterProducer returns the producer of the dead-letter topic:
// idempotent and acknowledged by every in-sync replica, since the offset of
// a dead-lettered event is marked right after the send returns.
func newDeadLetterProducer(brokers []string) (sarama.SyncProducer, error) {
	c := kafkastore.Config("syncer-dlq")
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Idempotent = true
	c.Producer.Return.Successes = true
	c.Net.MaxOpenRequests = 1
	p, err := sarama.NewSyncProducer(brokers, c)
	if err != nil {
		return nil, fmt.Errorf("dead-letter producer: %w", err)
	}
	return p, nil
}

// ensureTopic creates topic, when missing, with the partitions and
// replication of like. It only logs a failure: a broker may auto-create
// topics, and the dead-letter send retries until the topic exists.
func ensureTopic(client sarama.Client, brokers []string, topic, like string, logger *slog.Logger) {
	if err := createTopic(client, brokers, topic, like); err != nil {
		logger.Warn("could not create the dead-letter topic; relying on the broker to have or auto-create it", "topic", topic, "err", err)
	}
}

func createTopic(client sarama.Client, brokers []string, topic, like string) error {
	topics, err := client.Topics()
	if err != nil {
		return err
	}
	if slices.Contains(topics, topic) {
		return nil
	}
	detail := &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}
	if parts, err := client.Partitions(like); err == nil && len(parts) > 0 {
		detail.NumPartitions = int32(len(parts))
		if replicas, err := client.Replicas(like, parts[0]); err == nil && len(replicas) > 0 {
			detail.ReplicationFactor = int16(len(replicas))
		}
	}
	admin, err := sarama.NewClusterAdmin(brokers, kafkastore.Config("syncer-admin"))
	if err != nil {
		return err
	}
	defer admin.Close()
	err = admin.CreateTopic(topic, detail, false)
	if te := (*sarama.TopicError)(nil); errors.As(err, &te) && te.Err == sarama.ErrTopicAlreadyExists {
		return nil
	}
	return err
}
