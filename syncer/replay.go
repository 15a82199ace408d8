package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/IBM/sarama"

	"github.com/vidcomments/vidcomments/internal/stores/kafkastore"
)

// replaySubcommand re-feeds the dead-letter topic into the comments topic.
const replaySubcommand = "replay-dlq"

// replayIdle bounds the wait for the next dead letter of a partition.
const replayIdle = 15 * time.Second

// replayMain runs `syncer replay-dlq` and returns the exit code.
func replayMain(args []string, stdout, stderr io.Writer) int {
	about := "Copies every message now in the dead-letter topic (-dlq-topic) back to\n" +
		"-kafka-topic, key and value unchanged, dead-letter headers dropped, and\n" +
		"prints how many per partition. Run it after fixing what made the syncer\n" +
		"reject them; replaying twice is harmless (events apply by row version).\n" +
		"It reads up to the end the topic had at start and commits nothing.\n"
	return runSubcommand(replaySubcommand, about, args, stderr, func(ctx context.Context, cfg Config) int {
		n, err := replayDeadLetters(ctx, cfg.Kafka.Brokers, cfg.DeadLetters(), cfg.Kafka.Topic, stdout)
		if err != nil {
			fmt.Fprintf(stderr, "syncer %s: %v (%d replayed before the error)\n", replaySubcommand, err, n)
			return 1
		}
		fmt.Fprintf(stdout, "replayed %d message(s) from %s to %s\n", n, cfg.DeadLetters(), cfg.Kafka.Topic)
		return 0
	})
}

// replayDeadLetters copies every message below each partition's current
// high-water mark of from to to, with its key and value, and returns how
// many it copied.
func replayDeadLetters(ctx context.Context, brokers []string, from, to string, out io.Writer) (int, error) {
	client, err := sarama.NewClient(brokers, kafkastore.Config("syncer-replay"))
	if err != nil {
		return 0, fmt.Errorf("kafka: %w", err)
	}
	defer client.Close()
	producer, err := newDeadLetterProducer(brokers) // same guarantees: idempotent, acks=all
	if err != nil {
		return 0, err
	}
	defer producer.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return 0, fmt.Errorf("kafka consumer: %w", err)
	}
	defer consumer.Close()
	partitions, err := client.Partitions(from)
	if err != nil {
		return 0, fmt.Errorf("partitions of %s: %w", from, err)
	}
	total := 0
	for _, p := range partitions {
		oldest, err := client.GetOffset(from, p, sarama.OffsetOldest)
		if err != nil {
			return total, fmt.Errorf("%s/%d oldest offset: %w", from, p, err)
		}
		end, err := client.GetOffset(from, p, sarama.OffsetNewest)
		if err != nil {
			return total, fmt.Errorf("%s/%d newest offset: %w", from, p, err)
		}
		if end <= oldest {
			continue
		}
		n, err := replayPartition(ctx, consumer, producer, from, to, p, oldest, end)
		total += n
		fmt.Fprintf(out, "%s/%d: offsets %d..%d, %d replayed\n", from, p, oldest, end-1, n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func replayPartition(ctx context.Context, consumer sarama.Consumer, producer sarama.SyncProducer, from, to string, p int32, oldest, end int64) (int, error) {
	pc, err := consumer.ConsumePartition(from, p, oldest)
	if err != nil {
		return 0, fmt.Errorf("consume %s/%d: %w", from, p, err)
	}
	defer pc.Close()
	n := 0
	idle := time.NewTimer(replayIdle)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-idle.C:
			return n, fmt.Errorf("%s/%d: no message for %v before offset %d", from, p, replayIdle, end)
		case cerr := <-pc.Errors():
			return n, fmt.Errorf("consume %s/%d: %w", from, p, cerr)
		case m := <-pc.Messages():
			if m.Offset >= end {
				return n, nil
			}
			msg := &sarama.ProducerMessage{Topic: to, Value: sarama.ByteEncoder(m.Value)}
			if m.Key != nil {
				msg.Key = sarama.ByteEncoder(m.Key)
			}
			if _, _, err := producer.SendMessage(msg); err != nil {
				return n, fmt.Errorf("produce to %s: %w", to, err)
			}
			n++
			idle.Reset(replayIdle)
			if m.Offset+1 >= end {
				return n, nil
			}
		}
	}
}
