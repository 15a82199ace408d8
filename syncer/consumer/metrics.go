package consumer

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/metric"
)

// metrics are the syncer's Prometheus series. Labels are bounded: a
// partition number, a dependency, an outcome; never a video id.
type metrics struct {
	applied     prometheus.Counter
	deadLetters prometheus.Counter
	batchTime   prometheus.Histogram
	batchEvents prometheus.Histogram
	delay       prometheus.Histogram
	lag         *prometheus.GaugeVec
	paused      prometheus.Gauge
	retries     *prometheus.CounterVec
	settles     *prometheus.CounterVec
	likeCounts  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := metric.With(reg)
	m := &metrics{
		applied:     f.Counter("syncer_events_applied_total", "Events durably applied to Cassandra (rate() = events/s)."),
		deadLetters: f.Counter("syncer_dead_letters_total", "Undecodable or invalid events sent to the dead-letter topic."),
		batchTime: f.Histogram("syncer_apply_seconds", "Time to make one batch durable: Cassandra writes, recounts and overlay settles, retries included.",
			[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}),
		batchEvents: f.Histogram("syncer_batch_events", "Kafka messages per batch.",
			[]float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500}),
		delay: f.Histogram("syncer_event_delay_seconds", "From an event's Kafka timestamp to its batch being durable.",
			[]float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}),
		lag:    f.GaugeVec("syncer_partition_lag", "Messages of an owned partition not yet durable: high-water mark minus the next offset to apply.", "partition"),
		paused: f.Gauge("syncer_paused_partitions", "Partitions whose fetching is paused while their batch waits for Cassandra."),
		retries: f.CounterPer("syncer_retries_total", "Failed attempts retried after a backoff, by dependency (cassandra, redis, kafka).",
			"dependency", depCassandra, depRedis, depKafka),
		settles: f.CounterPer("syncer_settles_total", "Overlay settles after a durable write, by outcome (nothing, cleared, invalidated, failed).",
			"outcome", "nothing", "cleared", "invalidated", "failed"),
		likeCounts: f.CounterPer("syncer_like_counts_total", "Comments whose like count a batch aggregated, by outcome: changed (written to Cassandra), unchanged (a replay), cache_failed (Redis not updated).",
			"outcome", "changed", "unchanged", "cache_failed"),
	}
	f.Must()
	return m
}

// The dependency label values.
const (
	depCassandra = "cassandra"
	depRedis     = "redis"
	depKafka     = "kafka"
)

func partitionLabel(p int32) string { return strconv.FormatInt(int64(p), 10) }
