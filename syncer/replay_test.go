package main

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/vidcomments/vidcomments/internal/stacktest"
	"github.com/vidcomments/vidcomments/internal/stores/kafkastore"
)

// readAll returns "key=value" of every message of topic, sorted, waiting
// until want messages arrived or the deadline passed.
func readAll(t *testing.T, brokers []string, topic string, want int) ([]string, int) {
	t.Helper()
	client, err := sarama.NewClient(brokers, kafkastore.Config("syncer-replay-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	msgs := make(chan *sarama.ConsumerMessage, 100)
	for _, p := range parts {
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		go func() {
			for m := range pc.Messages() {
				msgs <- m
			}
		}()
	}
	var got []string
	headers := 0
	deadline := time.After(20 * time.Second)
	for len(got) < want {
		select {
		case m := <-msgs:
			got = append(got, string(m.Key)+"="+string(m.Value))
			headers += len(m.Headers)
		case <-deadline:
			t.Fatalf("%s: %d of %d messages after 20s", topic, len(got), want)
		}
	}
	slices.Sort(got)
	return got, headers
}

func TestReplayDeadLetters(t *testing.T) {
	tests := []struct {
		name string
		n    int
	}{
		{"an empty dead-letter topic", 0},
		{"dead letters on every partition", 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			comments, dlq := stacktest.NewKafka(t, 3), stacktest.NewKafka(t, 2)
			brokers := comments.Config.Brokers
			producer, err := newDeadLetterProducer(brokers)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for i := range tt.n {
				key, value := fmt.Sprint(1000+i), fmt.Sprintf(`{"type":"poison","n":%d}`, i)
				want = append(want, key+"="+value)
				_, _, err := producer.SendMessage(&sarama.ProducerMessage{
					Topic: dlq.Config.Topic, Key: sarama.StringEncoder(key), Value: sarama.StringEncoder(value),
					Headers: []sarama.RecordHeader{{Key: []byte("vc-dlq-reason"), Value: []byte("test")}},
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			producer.Close()
			slices.Sort(want)

			var out, errs bytes.Buffer
			code := replayMain([]string{"-kafka-brokers", strings.Join(brokers, ","), "-kafka-topic", comments.Config.Topic, "-dlq-topic", dlq.Config.Topic}, &out, &errs)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs.String())
			}
			if line := fmt.Sprintf("replayed %d message(s)", tt.n); !strings.Contains(out.String(), line) {
				t.Errorf("output %q lacks %q", out.String(), line)
			}
			if tt.n == 0 {
				return
			}
			got, headers := readAll(t, brokers, comments.Config.Topic, tt.n)
			if !slices.Equal(got, want) {
				t.Errorf("replayed %v, want %v", got, want)
			}
			if headers != 0 {
				t.Errorf("%d dead-letter headers copied to the main topic", headers)
			}
		})
	}
}

func TestReplayFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"help", []string{"-h"}, 0},
		{"unknown flag", []string{"-nope"}, 2},
		{"dead letters into themselves", []string{"-kafka-topic", "x", "-dlq-topic", "x"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errs bytes.Buffer
			if code := replayMain(tt.args, &out, &errs); code != tt.code {
				t.Errorf("exit %d, want %d (%s)", code, tt.code, errs.String())
			}
		})
	}
}
