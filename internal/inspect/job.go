package inspect

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/metric"
	"github.com/vidcomments/vidcomments/internal/pagecache"
)

// JobConfig configures a periodic inspection.
type JobConfig struct {
	Every     time.Duration // between runs (> 0)
	Grace     time.Duration // mismatches younger than this are not counted
	MaxVideos int           // cached videos inspected per run (> 0)
	// Repair repairs each mismatch older than Grace (Repairer): a comment
	// MySQL has is touched, so the change log and cdc carry it to every
	// tier again; what no change will touch (a cached total, a member MySQL
	// lacks) and a video whose repair in the previous run did not take lose
	// their cached pages (pagecache.Invalidate), the last resort.
	Repair   bool
	Logger   *slog.Logger
	Registry prometheus.Registerer // gets the cdc_inspector_* metrics
}

// maxLogged bounds the mismatches one run logs.
const maxLogged = 10

// runBuckets spread from a handful of small videos to a large sample.
var runBuckets = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// Job (cdc's -inspect-every) inspects a bounded sample of cached videos every JobConfig.Every: each
// run continues a Redis SCAN where the previous one stopped, so successive
// runs walk every cached video, MaxVideos at a time, and never scan the
// whole cache (or MySQL) at once. It exports the mismatches older than the
// grace period found by the last run as a gauge per kind.
type Job struct {
	in     *Inspector
	cache  *pagecache.Cache
	cfg    JobConfig
	cursor uint64

	mismatches *prometheus.GaugeVec
	runs       *prometheus.CounterVec
	videos     prometheus.Counter
	duration   prometheus.Histogram
	lastRun    prometheus.Gauge
	repairer   *Repairer
	repaired   map[int64]bool // videos the previous run repaired

	stop chan struct{}
	done sync.WaitGroup
	once sync.Once
}

// NewJob returns a Job over in and the cache it inspects; Start runs it.
func NewJob(in *Inspector, cache *pagecache.Cache, cfg JobConfig) *Job {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	kinds := make([]string, len(CacheKinds))
	for i, k := range CacheKinds {
		kinds[i] = string(k)
	}
	f := metric.With(cfg.Registry)
	j := &Job{
		in: in, cache: cache, cfg: cfg, stop: make(chan struct{}),
		mismatches: f.GaugePer("cdc_inspector_mismatches", "Mismatches older than the grace period the last inspector run found, by kind.", "kind", kinds...),
		runs:       f.CounterPer("cdc_inspector_runs_total", "Inspector runs by result: ok (whatever it found) or error (could not read).", "result", "ok", "error"),
		videos:     f.Counter("cdc_inspector_videos_total", "Cached videos inspected."),
		duration:   f.Histogram("cdc_inspector_run_duration_seconds", "Time of one inspector run.", runBuckets),
		lastRun:    f.Gauge("cdc_inspector_last_run_timestamp_seconds", "End of the last successful inspector run."),
		repairer:   NewRepairer(in.db, cache, cfg.Logger, cfg.Registry),
	}
	f.Must()
	return j
}

// Start runs the job in the background until Close.
func (j *Job) Start() {
	j.done.Add(1)
	go func() {
		defer j.done.Done()
		t := time.NewTicker(j.cfg.Every)
		defer t.Stop()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			<-j.stop
			cancel()
		}()
		for {
			select {
			case <-j.stop:
				return
			case <-t.C:
				j.RunOnce(ctx)
			}
		}
	}()
}

// RunOnce inspects the next sample now and updates the metrics; it returns
// the counted (older than grace) mismatches.
func (j *Job) RunOnce(ctx context.Context) []Mismatch {
	start := time.Now()
	videos, next, err := j.cache.ScanCachedVideos(ctx, j.cursor, j.cfg.MaxVideos)
	if err != nil {
		j.fail(ctx, err)
		return nil
	}
	rep, err := j.in.Run(ctx, videos)
	if err != nil {
		j.fail(ctx, err)
		return nil
	}
	j.cursor = next
	old := rep.Older(j.cfg.Grace)
	counts := ByKind(old)
	for _, k := range Kinds {
		if n, ok := counts[k]; ok || slices.Contains(CacheKinds, k) {
			j.mismatches.WithLabelValues(string(k)).Set(float64(n))
		} else {
			j.mismatches.DeleteLabelValues(string(k))
		}
	}
	j.runs.WithLabelValues("ok").Inc()
	j.videos.Add(float64(len(videos)))
	j.duration.Observe(time.Since(start).Seconds())
	j.lastRun.SetToCurrentTime()
	for i, m := range old {
		if i == maxLogged {
			j.cfg.Logger.Warn("inspector: more mismatches not logged", "count", len(old)-maxLogged)
			break
		}
		j.cfg.Logger.Warn("inspector mismatch", "kind", m.Kind, "video", m.Video, "id", m.ID, "age", m.Age.Round(time.Millisecond), "where", m.Where, "detail", m.Detail)
	}
	if j.cfg.Repair {
		j.repair(ctx, old)
	}
	j.cfg.Logger.Debug("inspector run", "videos", len(videos), "mismatches", len(rep.Mismatches), "counted", len(old), "took", time.Since(start))
	return old
}

// repair repairs the old mismatches; a video the previous run repaired
// that is still stale has its pages dropped instead.
func (j *Job) repair(ctx context.Context, old []Mismatch) {
	now := map[int64]bool{}
	for _, m := range old {
		now[m.Video] = true
	}
	again := map[int64]bool{}
	for v := range now {
		if j.repaired[v] {
			again[v] = true
		}
	}
	done, err := j.repairer.Repair(ctx, old, again)
	if err != nil {
		j.cfg.Logger.Warn("inspector: some repairs failed; the next run finds them again", "err", err)
	}
	j.repaired = now
	if n := done.Total(); n > 0 {
		j.cfg.Logger.Warn("inspector: repaired stale entries", "steps", n, "by_action", done.ByAction)
	}
}

func (j *Job) fail(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return // closing
	}
	j.runs.WithLabelValues("error").Inc()
	j.cfg.Logger.Error("inspector run failed", "err", err)
}

// Close stops the job and waits for a run in progress.
func (j *Job) Close() error {
	j.once.Do(func() { close(j.stop) })
	j.done.Wait()
	return nil
}
