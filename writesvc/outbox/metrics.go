package outbox

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/metric"
)

type metrics struct {
	leader    prometheus.Gauge
	published prometheus.Counter
	failures  *prometheus.CounterVec
	pruned    prometheus.Counter
	batch     prometheus.Histogram
	lag       prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, db *sql.DB) (*metrics, error) {
	f := metric.With(reg)
	m := &metrics{
		leader:    f.Gauge("writesvc_outbox_leader", "1 while this instance holds the outbox lock and publishes, else 0."),
		published: f.Counter("writesvc_outbox_published_total", "Outbox events acknowledged by Kafka (duplicates included)."),
		failures: f.CounterPer("writesvc_outbox_failures_total", "Relay failures by stage: lock, producer, scan, publish, mark.",
			"stage", "lock", "producer", "scan", "publish", "mark"),
		pruned: f.Counter("writesvc_outbox_pruned_total", "Sent outbox rows deleted after the retention period."),
		batch: f.Histogram("writesvc_outbox_publish_batch_seconds", "Time for Kafka to acknowledge one batch.",
			[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}),
		lag: f.Histogram("writesvc_outbox_delivery_lag_seconds", "From the outbox row's insert to Kafka's acknowledgement.",
			[]float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 3600}),
	}
	metric.Register(f, newBacklogCollector(db))
	if err := f.Err(); err != nil {
		return nil, fmt.Errorf("outbox metrics: %w", err)
	}
	return m, nil
}

// backlogCollector reads the backlog from MySQL at scrape time, so every
// instance — leader or standby — exports the same, current figures. When
// MySQL does not answer, the two gauges are left out of that scrape (the
// rest of /metrics still works) and an error counter moves.
type backlogCollector struct {
	db     *sql.DB
	errors prometheus.Counter
}

func newBacklogCollector(db *sql.DB) *backlogCollector {
	return &backlogCollector{db: db, errors: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "writesvc_outbox_backlog_query_errors_total",
		Help: "Scrapes whose outbox backlog query failed.",
	})}
}

var (
	backlogDesc = prometheus.NewDesc("writesvc_outbox_backlog",
		"Outbox rows not yet acknowledged by Kafka (all instances), read at scrape time.", nil, nil)
	oldestDesc = prometheus.NewDesc("writesvc_outbox_oldest_unsent_age_seconds",
		"Age of the oldest unsent outbox row, 0 when none; read at scrape time.", nil, nil)
)

// backlogTimeout bounds the scrape-time query.
const backlogTimeout = 2 * time.Second

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- backlogDesc
	ch <- oldestDesc
	c.errors.Describe(ch)
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), backlogTimeout)
	defer cancel()
	var n, ageMicros int64
	defer c.errors.Collect(ch)
	if err := c.db.QueryRowContext(ctx, selectBacklog).Scan(&n, &ageMicros); err != nil {
		c.errors.Inc()
		return
	}
	ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, float64(ageMicros)/1e6)
}
