package synctest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/stores/kafkastore"
)

// Message is one Kafka message to produce: an event or raw bytes.
type Message struct {
	Key   []byte
	Value []byte
}

// EventMessage encodes e as the outbox relay does.
func EventMessage(t testing.TB, e comment.Event) Message {
	t.Helper()
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return Message{Key: e.Key(), Value: b}
}

// Producer is an idempotent async producer.
type Producer struct {
	p    sarama.AsyncProducer
	done chan struct{}
	sent int
	errs []error
}

// NewProducer returns a producer to brokers, flushed and closed at the end
// of the test at the latest; a failed send fails the test.
func NewProducer(t testing.TB, brokers []string) *Producer {
	t.Helper()
	p, err := StartProducer(brokers)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(t) })
	return p
}

// StartProducer returns a producer to brokers; the caller must Flush it.
func StartProducer(brokers []string) (*Producer, error) {
	c := kafkastore.Config("syncer-test")
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Idempotent = true
	c.Net.MaxOpenRequests = 1
	c.Producer.Return.Errors = true
	c.Producer.Flush.Messages = 500
	c.Producer.Flush.Frequency = 5 * time.Millisecond
	c.Producer.Partitioner = sarama.NewHashPartitioner // key = video: one video, one partition
	p, err := sarama.NewAsyncProducer(brokers, c)
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	pr := &Producer{p: p, done: make(chan struct{})}
	go func() {
		defer close(pr.done)
		for err := range p.Errors() {
			pr.errs = append(pr.errs, err)
		}
	}()
	return pr, nil
}

// Send queues m on topic.
func (p *Producer) Send(topic string, m Message) {
	p.sent++
	p.p.Input() <- &sarama.ProducerMessage{Topic: topic, Key: sarama.ByteEncoder(m.Key), Value: sarama.ByteEncoder(m.Value)}
}

// Flush delivers everything sent, closes the producer and reports failed
// sends. It may be called more than once.
func (p *Producer) Flush() error {
	if p.p == nil {
		return nil
	}
	p.p.AsyncClose()
	<-p.done
	p.p = nil
	if len(p.errs) > 0 {
		return fmt.Errorf("%d of %d messages not produced, first: %w", len(p.errs), p.sent, p.errs[0])
	}
	return nil
}

// Close is Flush failing t.
func (p *Producer) Close(t testing.TB) {
	t.Helper()
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
}

// Lag is the messages of topic not yet committed by group, summed over
// partitions, and the total of messages in the topic.
func Lag(brokers []string, group, topic string) (lag, total int64, err error) {
	client, err := sarama.NewClient(brokers, kafkastore.Config("syncer-test-lag"))
	if err != nil {
		return 0, 0, err
	}
	defer client.Close()
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		return 0, 0, err
	}
	parts, err := client.Partitions(topic)
	if err != nil {
		return 0, 0, err
	}
	offsets, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: parts})
	if err != nil {
		return 0, 0, err
	}
	for _, p := range parts {
		hwm, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return 0, 0, err
		}
		oldest, err := client.GetOffset(topic, p, sarama.OffsetOldest)
		if err != nil {
			return 0, 0, err
		}
		total += hwm - oldest
		committed := oldest
		if b := offsets.GetBlock(topic, p); b != nil && b.Offset >= 0 {
			committed = b.Offset
		}
		lag += hwm - committed
	}
	return lag, total, nil
}

// WaitDrained waits until group has committed every message of topic.
func WaitDrained(t testing.TB, brokers []string, group, topic string, timeout time.Duration) {
	t.Helper()
	err := Eventually(context.Background(), timeout, 100*time.Millisecond, func() error {
		lag, total, err := Lag(brokers, group, topic)
		if err != nil {
			return err
		}
		if lag > 0 {
			return fmt.Errorf("group %s: %d of %d messages uncommitted", group, lag, total)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("not drained after %v: %v", timeout, err)
	}
}

// ReadAll returns the messages of a one-off read of every partition of
// topic up to its current end.
func ReadAll(t testing.TB, brokers []string, topic string) []*sarama.ConsumerMessage {
	t.Helper()
	client, err := sarama.NewClient(brokers, kafkastore.Config("syncer-test-read"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	var out []*sarama.ConsumerMessage
	for _, p := range parts {
		hwm, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		oldest, err := client.GetOffset(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		if hwm == oldest {
			continue
		}
		pc, err := c.ConsumePartition(topic, p, oldest)
		if err != nil {
			t.Fatal(err)
		}
		for n := oldest; n < hwm; n++ {
			select {
			case m := <-pc.Messages():
				out = append(out, m)
			case <-time.After(30 * time.Second):
				pc.Close()
				t.Fatalf("topic %s partition %d: message %d not read", topic, p, n)
			}
		}
		pc.Close()
	}
	return out
}

// Eventually calls f until it returns nil, every interval, for at most
// timeout; it returns f's last error.
func Eventually(ctx context.Context, timeout, interval time.Duration, f func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(interval):
		}
	}
}
