package binlog

import "github.com/prometheus/client_golang/prometheus"

// recordBuckets spread over what one Redis Lua call takes, up to the
// moderation-freshness budget (200 ms).
var recordBuckets = []float64{0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1}

// Change results, the values of the result label.
const (
	resultApplied    = "applied"    // edited the overlay (and the window when cached)
	resultSkipped    = "skipped"    // already recorded or settled at this version or newer
	resultUnmappable = "unmappable" // a row image rowmap could not read
)

type metrics struct {
	leader          prometheus.Gauge
	leaderAcquired  prometheus.Counter
	rowEvents       prometheus.Counter
	changes         *prometheus.CounterVec
	behind          prometheus.Gauge
	recordSeconds   prometheus.Histogram
	cacheErrors     prometheus.Counter
	saves           prometheus.Counter
	savedOffset     prometheus.Gauge
	savedFile       prometheus.Gauge
	savedTimestamp  prometheus.Gauge
	lastEventSecond prometheus.Gauge
	redisLosses     prometheus.Counter
	recovering      prometheus.Gauge
	pendingRebuilt  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cdc_leader", Help: "1 while this process holds the leader lock and follows the binlog; 0 while it stands by.",
		}),
		leaderAcquired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdc_leader_acquired_total", Help: "Times this process took the leader lock.",
		}),
		rowEvents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdc_binlog_row_events_total", Help: "Row events of the followed tables applied (rate = events/s).",
		}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cdc_row_changes_total", Help: "Row changes by result: applied, skipped (already recorded or settled), unmappable.",
		}, []string{"result"}),
		behind: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cdc_seconds_behind_binlog", Help: "Now minus the binlog timestamp of the last event applied, when it was applied (1 s resolution).",
		}),
		recordSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cdc_record_duration_seconds", Help: "Time of one page-cache Record (one Redis Lua call), retries excluded.",
			Buckets: recordBuckets,
		}),
		cacheErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdc_cache_errors_total", Help: "Failed Redis edits; each is retried until it succeeds.",
		}),
		saves: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdc_position_saves_total", Help: "Binlog positions saved to MySQL.",
		}),
		savedOffset: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cdc_saved_binlog_offset", Help: "Offset in its file of the last saved binlog position.",
		}),
		savedFile: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cdc_saved_binlog_file_number", Help: "Numeric suffix of the binlog file of the last saved position (binlog.000042 → 42).",
		}),
		savedTimestamp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cdc_position_saved_timestamp_seconds", Help: "Unix time of the last position save.",
		}),
		lastEventSecond: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cdc_last_event_timestamp_seconds", Help: "Binlog timestamp of the last event applied.",
		}),
		redisLosses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdc_redis_data_losses_total", Help: "Times Redis was found without its epoch key (lost its data) and cdc recovered.",
		}),
		recovering: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cdc_recovering", Help: "1 while cdc replays the binlog up to the point of a Redis data loss, dropping windows instead of editing them.",
		}),
		pendingRebuilt: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdc_pending_views_rebuilt_total", Help: "Pending comments put back into their authors' private views from MySQL after a Redis data loss.",
		}),
	}
	reg.MustRegister(m.redisLosses, m.recovering, m.pendingRebuilt, m.leader, m.leaderAcquired, m.rowEvents, m.changes, m.behind, m.recordSeconds, m.cacheErrors,
		m.saves, m.savedOffset, m.savedFile, m.savedTimestamp, m.lastEventSecond)
	for _, r := range []string{resultApplied, resultSkipped, resultUnmappable} {
		m.changes.WithLabelValues(r)
	}
	return m
}
