package binlog

import (
	"context"
	"log/slog"
	"time"
)

// positionSink takes the positions the applier decided to save.
type positionSink interface {
	submit(p Position)       // never blocks; a newer position replaces one not yet saved
	failed() <-chan struct{} // closed once the sink has stopped for good
	err() error              // why, once failed is closed
}

// positionWriter saves positions in a goroutine of its own, on the lock's
// connection, so a slow MySQL commit (a busy server, a burst of DDL) never
// holds up a Redis edit. It also proves the lock whenever it has been idle
// for an interval, so a process that lost the lock stops even while the
// binlog is quiet. Only the newest submitted position matters: each one
// covers every change before it.
type positionWriter struct {
	saver    positionSaver
	name     string
	interval time.Duration
	m        *metrics
	log      *slog.Logger
	now      func() time.Time

	mailbox chan Position
	done    chan struct{}
	stopErr error
}

func startPositionWriter(ctx context.Context, saver positionSaver, interval time.Duration, m *metrics, log *slog.Logger) *positionWriter {
	w := &positionWriter{
		saver: saver, name: PositionName, interval: interval, m: m, log: log, now: time.Now,
		mailbox: make(chan Position, 1),
		done:    make(chan struct{}),
	}
	go w.run(ctx)
	return w
}

func (w *positionWriter) submit(p Position) {
	for { // the applier is the only sender: this ends at once
		select {
		case w.mailbox <- p:
			return
		default:
		}
		select {
		case <-w.mailbox: // superseded
		default:
		}
	}
}

func (w *positionWriter) failed() <-chan struct{} { return w.done }
func (w *positionWriter) err() error              { return w.stopErr }

// close saves what is in the mailbox, stops, and reports why it stopped
// early if it did.
func (w *positionWriter) close() error {
	close(w.mailbox)
	<-w.done
	return w.stopErr
}

func (w *positionWriter) run(ctx context.Context) {
	defer close(w.done)
	tick := time.NewTicker(w.interval)
	defer tick.Stop()
	last := w.now()
	for {
		select {
		case p, ok := <-w.mailbox:
			if !ok {
				return
			}
			if w.stopErr = w.save(ctx, p); w.stopErr != nil {
				return
			}
			last = w.now()
		case <-tick.C:
			if w.now().Sub(last) < w.interval {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, statementTimeout)
			w.stopErr = w.saver.Check(cctx)
			cancel()
			if w.stopErr != nil {
				return
			}
			last = w.now()
		case <-ctx.Done():
			w.stopErr = ctx.Err()
			return
		}
	}
}

func (w *positionWriter) save(ctx context.Context, p Position) error {
	cctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	if err := w.saver.SavePosition(cctx, w.name, p); err != nil {
		return err
	}
	w.m.saves.Inc()
	w.m.savedOffset.Set(float64(p.Offset))
	w.m.savedFile.Set(float64(p.FileNumber()))
	w.m.savedTimestamp.Set(float64(w.now().UnixNano()) / 1e9)
	w.log.Debug("binlog position saved", "position", p.String())
	return nil
}
