package binlog

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/vidcomments/vidcomments/cdc/rowmap"
	"github.com/vidcomments/vidcomments/internal/pagecache"
)

// Cache is what cdc needs of the page cache.
type Cache interface {
	Record(ctx context.Context, ch pagecache.Change) (applied bool, version int64, err error)
	Invalidate(ctx context.Context, video int64) (int64, error)
	SetPin(ctx context.Context, video, commentID, version int64) (applied bool, err error)
}

// positionSaver saves positions only while it leads, and proves it does.
type positionSaver interface {
	SavePosition(ctx context.Context, name string, p Position) error
	Check(ctx context.Context) error
}

// Timing of the applier.
const (
	// KeepaliveInterval bounds how stale the saved position gets while only
	// other tables change: without it a restart would replay a whole file.
	KeepaliveInterval = time.Minute
	retryMin          = 50 * time.Millisecond
	retryMax          = 2 * time.Second
	statementTimeout  = 5 * time.Second
)

// applier is the one goroutine that edits the caches, in binlog order, and
// decides when a position is saved: only after every change before it has
// been recorded in Redis; at most once per interval while changes flow, at
// once on rotate and DDL, and once per KeepaliveInterval otherwise. The
// saving itself is the position sink's, off the path of the Redis edits.
type applier struct {
	cache    Cache
	sink     positionSink
	interval time.Duration
	m        *metrics
	log      *slog.Logger
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error

	pending  Position // the newest position whose changes are all recorded
	saved    Position // the last position handed to the sink
	dirty    bool     // changes recorded since then
	lastSave time.Time

	profiles   ProfileRefresher // nil: profile rows are dropped
	guard      lossGuard        // nil: Redis data loss is not watched (unit tests)
	lastCheck  time.Time        // of the epoch
	recovering bool             // recording with Change.Recovering until target
	target     Position
}

func newApplier(cache Cache, sink positionSink, saved Position, interval time.Duration, m *metrics, log *slog.Logger) *applier {
	return &applier{
		cache: cache, sink: sink, interval: interval, m: m, log: log,
		now: time.Now, sleep: sleepCtx,
		pending: saved, saved: saved, lastSave: time.Now(),
	}
}

// run applies work until in is closed (then hands over the last position
// and returns nil) or something fails for good: the sink (ErrLockLost), or
// ctx's error when the listener gives up waiting for Redis.
func (a *applier) run(ctx context.Context, in <-chan work) error {
	tick := time.NewTicker(a.interval)
	defer tick.Stop()
	epochTick := time.NewTicker(EpochCheckEvery)
	defer epochTick.Stop()
	if err := a.checkEpoch(ctx); err != nil {
		return err
	}
	for {
		select {
		case w, ok := <-in:
			if !ok {
				a.save()
				return nil
			}
			if err := a.handle(ctx, w); err != nil {
				return err
			}
		case <-tick.C:
			a.maybeSave()
		case <-epochTick.C:
			if err := a.checkEpoch(ctx); err != nil {
				return err
			}
			if err := a.maybeRecovered(ctx); err != nil {
				return err
			}
		case <-a.sink.failed():
			return a.sink.err()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// handle applies one unit of work.
func (a *applier) handle(ctx context.Context, w work) error {
	if w.at > 0 {
		t := time.Unix(int64(w.at), 0)
		a.m.lastEventSecond.Set(float64(w.at))
		a.m.behind.Set(max(0, a.now().Sub(t).Seconds()))
	}
	if w.rows && a.now().Sub(a.lastCheck) >= EpochCheckEvery {
		if err := a.checkEpoch(ctx); err != nil {
			return err
		}
	}
	if w.rows {
		a.m.rowEvents.Inc()
		for _, ch := range w.changes {
			if err := a.record(ctx, ch); err != nil {
				return err
			}
		}
		for _, p := range w.pins {
			if err := a.setPin(ctx, p); err != nil {
				return err
			}
		}
		if len(w.users) > 0 && a.profiles != nil {
			if err := a.retry(ctx, "profiles", 0, func() error { return a.profiles.Refresh(ctx, w.users) }); err != nil {
				return err
			}
		}
		if w.failed != nil {
			if err := a.unmappable(ctx, w.failed); err != nil {
				return err
			}
		}
		a.dirty = a.dirty || len(w.changes) > 0 || len(w.pins) > 0 || w.failed != nil
	}
	if w.pos == nil {
		return nil
	}
	a.pending = *w.pos
	if err := a.maybeRecovered(ctx); err != nil {
		return err
	}
	if w.force {
		a.save()
	} else {
		a.maybeSave()
	}
	return nil
}

// maybeSave hands over the pending position if a save is due.
func (a *applier) maybeSave() {
	if a.pending.sameAs(a.saved) {
		return
	}
	since := a.now().Sub(a.lastSave)
	if (a.dirty && since >= a.interval) || since >= KeepaliveInterval {
		a.save()
	}
}

// save hands the pending position to the sink if it moved.
func (a *applier) save() {
	if a.pending.sameAs(a.saved) || a.pending.File == "" {
		return
	}
	a.sink.submit(a.pending)
	a.saved, a.dirty, a.lastSave = a.pending, false, a.now()
}

// checkEpoch reads Redis' epoch and starts a recovery when Redis lost its
// data (no epoch) or a recovery was left unfinished ("r" while this
// process is not recovering). A failed read is not a loss: Redis being down
// shows in the edits, which wait for it.
func (a *applier) checkEpoch(ctx context.Context) error {
	if a.guard == nil {
		return nil
	}
	a.lastCheck = a.now()
	state, err := a.guard.State(ctx)
	switch {
	case err != nil:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		a.log.Debug("reading the redis epoch failed", "err", err)
		return nil
	case state == pagecache.EpochOK && !a.recovering,
		state == pagecache.EpochRecovering && a.recovering:
		return nil
	}
	a.m.redisLosses.Inc()
	var target Position
	if err := a.retry(ctx, "recover", 0, func() error {
		var err error
		target, err = a.guard.Begin(ctx)
		return err
	}); err != nil {
		return err
	}
	a.recovering, a.target = true, target
	a.m.recovering.Set(1)
	return a.maybeRecovered(ctx)
}

// maybeRecovered ends a recovery once the applier is past its target and a
// position past it is saved (a restart from an earlier one would replay
// older changes without Recovering); until then it is asked again at every
// epoch tick.
func (a *applier) maybeRecovered(ctx context.Context) error {
	if !a.recovering || !a.guard.Reached(a.pending, a.target) {
		return nil
	}
	if !a.guard.Reached(a.saved, a.target) {
		a.save()
	}
	durable, err := a.guard.Durable(ctx, a.target)
	if err != nil || !durable {
		return nil
	}
	if err := a.retry(ctx, "epoch", 0, func() error { return a.guard.Finish(ctx) }); err != nil {
		return err
	}
	a.recovering = false
	a.m.recovering.Set(0)
	a.log.Info("recovered from the redis data loss: windows are edited again", "at", a.pending.String())
	return nil
}

// record applies one change, retrying while Redis fails: the change must be
// in the cache before any position after it is saved.
func (a *applier) record(ctx context.Context, ch pagecache.Change) error {
	ch.Recovering = a.recovering
	return a.retry(ctx, "record", ch.VideoID, func() error {
		start := a.now()
		applied, _, err := a.cache.Record(ctx, ch)
		a.m.recordSeconds.Observe(a.now().Sub(start).Seconds())
		if err != nil {
			return err
		}
		a.countChange(applied)
		return nil
	})
}

// countChange counts a change the cache applied, or skipped as older than
// what it holds.
func (a *applier) countChange(applied bool) {
	result := resultSkipped
	if applied {
		result = resultApplied
	}
	a.m.changes.WithLabelValues(result).Inc()
}

// setPin records a video's pin change, retrying while Redis fails, like
// record.
func (a *applier) setPin(ctx context.Context, p rowmap.Pin) error {
	return a.retry(ctx, "pin", p.VideoID, func() error {
		applied, err := a.cache.SetPin(ctx, p.VideoID, p.CommentID, p.Version)
		if err != nil {
			return err
		}
		a.countChange(applied)
		return nil
	})
}

// unmappable handles rows rowmap could not read: their videos' pages are
// invalidated, since what changed in them is unknown.
func (a *applier) unmappable(ctx context.Context, failed error) error {
	errs := []error{failed}
	if j, ok := failed.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, err := range errs {
		a.m.changes.WithLabelValues(resultUnmappable).Inc()
		var re *rowmap.RowError
		if !errors.As(err, &re) || re.VideoID == 0 {
			a.log.Error("row change cannot be mapped and names no video: cached pages may be stale until they expire", "err", err)
			continue
		}
		a.log.Error("row change cannot be mapped: invalidating the video's pages", "video_id", re.VideoID, "err", err)
		if err := a.retry(ctx, "invalidate", re.VideoID, func() error {
			_, err := a.cache.Invalidate(ctx, re.VideoID)
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// retry runs f until it succeeds or ctx is done, backing off; the first
// failure of a run of failures is logged, and its end.
func (a *applier) retry(ctx context.Context, what string, video int64, f func() error) error {
	wait := retryMin
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil {
			if attempt > 1 {
				a.log.Info("redis edit succeeded after retries", "op", what, "video_id", video, "attempts", attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		a.m.cacheErrors.Inc()
		if attempt == 1 {
			a.log.Warn("redis edit failed; retrying until it succeeds (binlog position held back)", "op", what, "video_id", video, "err", err)
		}
		if err := a.sleep(ctx, wait); err != nil {
			return err
		}
		wait = min(2*wait, retryMax)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
