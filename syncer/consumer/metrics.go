package consumer

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
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
	m := &metrics{
		applied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "syncer_events_applied_total",
			Help: "Events durably applied to Cassandra (rate() = events/s).",
		}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "syncer_dead_letters_total",
			Help: "Undecodable or invalid events sent to the dead-letter topic.",
		}),
		batchTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "syncer_apply_seconds",
			Help:    "Time to make one batch durable: Cassandra writes, recounts and overlay settles, retries included.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		batchEvents: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "syncer_batch_events",
			Help:    "Kafka messages per batch.",
			Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500},
		}),
		delay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "syncer_event_delay_seconds",
			Help:    "From an event's Kafka timestamp to its batch being durable.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "syncer_partition_lag",
			Help: "Messages of an owned partition not yet durable: high-water mark minus the next offset to apply.",
		}, []string{"partition"}),
		paused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "syncer_paused_partitions",
			Help: "Partitions whose fetching is paused while their batch waits for Cassandra.",
		}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncer_retries_total",
			Help: "Failed attempts retried after a backoff, by dependency (cassandra, redis, kafka).",
		}, []string{"dependency"}),
		settles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncer_settles_total",
			Help: "Overlay settles after a durable write, by outcome (nothing, cleared, invalidated, failed).",
		}, []string{"outcome"}),
		likeCounts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncer_like_counts_total",
			Help: "Comments whose like count a batch aggregated, by outcome: changed (written to Cassandra), unchanged (a replay), cache_failed (Redis not updated).",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.applied, m.deadLetters, m.batchTime, m.batchEvents, m.delay, m.lag, m.paused, m.retries, m.settles, m.likeCounts)
	for _, o := range []string{"changed", "unchanged", "cache_failed"} {
		m.likeCounts.WithLabelValues(o)
	}
	for _, d := range []string{depCassandra, depRedis, depKafka} {
		m.retries.WithLabelValues(d)
	}
	for _, o := range []string{"nothing", "cleared", "invalidated", "failed"} {
		m.settles.WithLabelValues(o)
	}
	return m
}

// The dependency label values.
const (
	depCassandra = "cassandra"
	depRedis     = "redis"
	depKafka     = "kafka"
)

func partitionLabel(p int32) string { return strconv.FormatInt(int64(p), 10) }
