package binlog

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/metric"
)

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
	f := metric.With(reg)
	m := &metrics{
		leader:         f.Gauge("cdc_leader", "1 while this process holds the leader lock and follows the binlog; 0 while it stands by."),
		leaderAcquired: f.Counter("cdc_leader_acquired_total", "Times this process took the leader lock."),
		rowEvents:      f.Counter("cdc_binlog_row_events_total", "Row events of the followed tables applied (rate = events/s)."),
		changes: f.CounterPer("cdc_row_changes_total", "Row changes by result: applied, skipped (already recorded or settled), unmappable.",
			"result", resultApplied, resultSkipped, resultUnmappable),
		behind: f.Gauge("cdc_seconds_behind_binlog", "Now minus the binlog timestamp of the last event applied, when it was applied (1 s resolution)."),
		recordSeconds: f.Histogram("cdc_record_duration_seconds", "Time of one page-cache Record (one Redis Lua call), retries excluded.",
			recordBuckets),
		cacheErrors:     f.Counter("cdc_cache_errors_total", "Failed Redis edits; each is retried until it succeeds."),
		saves:           f.Counter("cdc_position_saves_total", "Binlog positions saved to MySQL."),
		savedOffset:     f.Gauge("cdc_saved_binlog_offset", "Offset in its file of the last saved binlog position."),
		savedFile:       f.Gauge("cdc_saved_binlog_file_number", "Numeric suffix of the binlog file of the last saved position (binlog.000042 → 42)."),
		savedTimestamp:  f.Gauge("cdc_position_saved_timestamp_seconds", "Unix time of the last position save."),
		lastEventSecond: f.Gauge("cdc_last_event_timestamp_seconds", "Binlog timestamp of the last event applied."),
		redisLosses:     f.Counter("cdc_redis_data_losses_total", "Times Redis was found without its epoch key (lost its data) and cdc recovered."),
		recovering:      f.Gauge("cdc_recovering", "1 while cdc replays the binlog up to the point of a Redis data loss, dropping windows instead of editing them."),
		pendingRebuilt:  f.Counter("cdc_pending_views_rebuilt_total", "Pending comments put back into their authors' private views from MySQL after a Redis data loss."),
	}
	f.Must()
	return m
}
