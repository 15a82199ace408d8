package main

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/IBM/sarama"

	"github.com/vidcomments/vidcomments/internal/stacktest"
	"github.com/vidcomments/vidcomments/syncer/synctest"
)

// replayed returns "key=value" of every message of topic, sorted, and how
// many headers they carry.
func replayed(t *testing.T, brokers []string, topic string) ([]string, int) {
	t.Helper()
	var got []string
	headers := 0
	for _, m := range synctest.ReadAll(t, brokers, topic) {
		got = append(got, string(m.Key)+"="+string(m.Value))
		headers += len(m.Headers)
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
			got, headers := replayed(t, brokers, comments.Config.Topic) // the replay's producer waits for every ack
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
