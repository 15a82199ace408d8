package main

import (
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/config/configtest"
)

func TestConfigDefaults(t *testing.T) {
	got := configtest.Defaults(t, Config{
		Process:          configtest.Process("127.0.0.1:9082"),
		Group:            "vidcomments-syncer",
		GroupInstanceID:  "",
		DeadLetterTopic:  "",
		BatchSize:        500,
		FlushInterval:    10 * time.Millisecond,
		CommitInterval:   time.Second,
		RetryBase:        100 * time.Millisecond,
		RetryMax:         5 * time.Second,
		SettleAttempts:   5,
		WriteConcurrency: 32,
		Kafka:            configtest.Kafka,
		Cassandra:        configtest.Cassandra,
		Redis:            configtest.Redis,
	}, true)
	if got.DeadLetters() != "comments.dlq" {
		t.Errorf("dead-letter topic %q, want comments.dlq", got.DeadLetters())
	}
}

func TestConfigFromEnv(t *testing.T) {
	var got Config
	configtest.Parse(t, &got, map[string]string{
		"VC_SYNCER_GROUP": "g2", "VC_SYNCER_ADMIN_ADDR": "0.0.0.0:19082", "VC_KAFKA_TOPIC": "c2",
		"VC_SYNCER_BATCH_SIZE": "50", "VC_SYNCER_FLUSH_INTERVAL": "1ms", "VC_SYNCER_GROUP_INSTANCE_ID": "pod-1",
	})
	if got.Group != "g2" || got.AdminAddr != "0.0.0.0:19082" || got.BatchSize != 50 || got.FlushInterval != time.Millisecond ||
		got.GroupInstanceID != "pod-1" || got.DeadLetters() != "c2.dlq" {
		t.Errorf("env not applied: %+v", got)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		args []string
		ok   bool
	}{
		{"defaults", nil, true},
		{"own dead-letter topic", []string{"-dlq-topic", "poison"}, true},
		{"zero batch", []string{"-batch-size", "0"}, false},
		{"cap below base", []string{"-retry-base", "1s", "-retry-max", "10ms"}, false},
		{"dead letters into the source", []string{"-dlq-topic", "comments"}, false},
		{"no settle attempts", []string{"-settle-attempts", "0"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			configtest.Parse(t, &c, nil, tt.args...)
			if err := c.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
