package pages

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/pagecache"
)

// Errors of the read path, for the API to map to status codes.
var (
	// ErrUnavailable: a dependency the request needs is down (503).
	ErrUnavailable = errors.New("dependency unavailable")
	// ErrOverloaded: the Cassandra concurrency cap is full (503 + Retry-After).
	ErrOverloaded = errors.New("too many Cassandra reads in flight")
)

// breaker stops calls to a dependency after consecutive failures, so a
// request fails in microseconds instead of waiting for a driver timeout,
// and lets them through again once a background probe succeeds.
type breaker struct {
	name      string
	threshold int32
	interval  time.Duration
	probe     func(context.Context) error
	logger    *slog.Logger
	gauge     prometheus.Gauge

	failures atomic.Int32
	open     atomic.Bool
	wake     chan struct{}
}

func newBreaker(name string, threshold int, interval time.Duration, probe func(context.Context) error, logger *slog.Logger, gauge prometheus.Gauge) *breaker {
	return &breaker{name: name, threshold: int32(max(threshold, 1)), interval: interval, probe: probe, logger: logger, gauge: gauge, wake: make(chan struct{}, 1)}
}

// allow reports whether calls may go through.
func (b *breaker) allow() bool { return !b.open.Load() }

// record notes the outcome of a call.
func (b *breaker) record(err error) {
	if err == nil {
		if b.failures.Load() != 0 {
			b.failures.Store(0)
		}
		return
	}
	if errors.Is(err, context.Canceled) {
		return // the caller went away; says nothing about the dependency
	}
	if b.failures.Add(1) >= b.threshold && b.open.CompareAndSwap(false, true) {
		b.gauge.Set(1)
		b.logger.Warn("dependency down: failing fast until a probe succeeds", "dependency", b.name, "err", err)
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
}

// run probes while the breaker is open, until ctx is done.
func (b *breaker) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.wake:
		}
		for b.open.Load() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(b.interval):
			}
			pctx, cancel := context.WithTimeout(ctx, max(b.interval, time.Second))
			err := b.probe(pctx)
			cancel()
			if err == nil {
				b.failures.Store(0)
				b.open.Store(false)
				b.gauge.Set(0)
				b.logger.Info("dependency back", "dependency", b.name)
			}
		}
	}
}

// isOpen reports whether calls are being refused.
func (b *breaker) isOpen() bool { return b.open.Load() }

// guardedStore puts the Cassandra breaker, the concurrency cap and the
// metrics around a Store.
type guardedStore struct {
	s   Store
	br  *breaker
	sem chan struct{}
	m   *metrics
}

func (g *guardedStore) enter() error {
	if !g.br.allow() {
		g.m.rejected.WithLabelValues("cassandra_down").Inc()
		return fmt.Errorf("%w: cassandra (circuit open)", ErrUnavailable)
	}
	select {
	case g.sem <- struct{}{}:
		return nil
	default:
		g.m.rejected.WithLabelValues("overloaded").Inc()
		return ErrOverloaded
	}
}

func (g *guardedStore) leave(op string, start time.Time, err error) {
	<-g.sem
	g.m.cassandraSeconds.WithLabelValues(op).Observe(time.Since(start).Seconds())
	g.br.record(err)
}

// listQuery runs read, one page query of a list, within the cap and the
// breaker, timed as op; a failure is ErrUnavailable.
func listQuery[T any](g *guardedStore, op string, read func() ([]T, bool, error)) ([]T, bool, error) {
	if err := g.enter(); err != nil {
		return nil, false, err
	}
	g.m.pageQueries.Inc()
	start := time.Now()
	rows, all, err := read()
	g.leave(op, start, err)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return rows, all, nil
}

func (g *guardedStore) Page(ctx context.Context, video, before int64, n int) ([]pagecache.Stored, bool, error) {
	return listQuery(g, "page", func() ([]pagecache.Stored, bool, error) { return g.s.Page(ctx, video, before, n) })
}

// PageAndTotal is Page and Total side by side in one slot of the cap: a
// cold page waits for the slower of the two reads instead of both in turn,
// and is admitted or refused whole (two slots could let a page in and
// refuse its total halfway).
func (g *guardedStore) PageAndTotal(ctx context.Context, video, before int64, n int) (rows []pagecache.Stored, all bool, total int64, err error) {
	if err := g.enter(); err != nil {
		return nil, false, 0, err
	}
	g.m.pageQueries.Inc()
	var (
		totalErr  error
		totalTook time.Duration
		done      = make(chan struct{})
		start     = time.Now()
	)
	go func() {
		defer close(done)
		total, totalErr = g.s.Total(ctx, video)
		totalTook = time.Since(start)
	}()
	rows, all, err = g.s.Page(ctx, video, before, n)
	pageTook := time.Since(start)
	<-done
	<-g.sem
	g.m.cassandraSeconds.WithLabelValues("page").Observe(pageTook.Seconds())
	g.m.cassandraSeconds.WithLabelValues("total").Observe(totalTook.Seconds())
	err = errors.Join(err, totalErr)
	g.br.record(err)
	if err != nil {
		return nil, false, 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return rows, all, total, nil
}

func (g *guardedStore) Total(ctx context.Context, video int64) (int64, error) {
	if err := g.enter(); err != nil {
		return 0, err
	}
	start := time.Now()
	n, err := g.s.Total(ctx, video)
	g.leave("total", start, err)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return n, nil
}

func (g *guardedStore) Comment(ctx context.Context, id int64) (comment.Comment, []byte, bool, error) {
	if err := g.enter(); err != nil {
		return comment.Comment{}, nil, false, err
	}
	start := time.Now()
	c, body, found, err := g.s.Comment(ctx, id)
	g.leave("comment", start, err)
	if err != nil {
		return comment.Comment{}, nil, false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return c, body, found, nil
}

// errCacheDown marks a Redis failure: the read path goes to Cassandra
// directly instead.
var errCacheDown = errors.New("redis unavailable")

// guardedCache puts the Redis breaker around a Cache.
type guardedCache struct {
	c  Cache
	br *breaker
}

func (g *guardedCache) check() error {
	if !g.br.allow() {
		return fmt.Errorf("%w (circuit open)", errCacheDown)
	}
	return nil
}

func (g *guardedCache) done(err error) error {
	g.br.record(err)
	if err != nil {
		return fmt.Errorf("%w: %w", errCacheDown, err)
	}
	return nil
}

// guarded runs call behind the Redis breaker: refused while it is open, its
// outcome recorded and a failure marked errCacheDown.
func guarded[T any](g *guardedCache, call func() (T, error)) (T, error) {
	if err := g.check(); err != nil {
		var zero T
		return zero, err
	}
	v, err := call()
	return v, g.done(err)
}

func (g *guardedCache) Read(ctx context.Context, video, before int64, limit int) (pagecache.Page, error) {
	return guarded(g, func() (pagecache.Page, error) { return g.c.Read(ctx, video, before, limit) })
}

func (g *guardedCache) Version(ctx context.Context, video int64) (int64, error) {
	return guarded(g, func() (int64, error) { return g.c.Version(ctx, video) })
}

func (g *guardedCache) BeginFill(ctx context.Context, video int64) (pagecache.FillToken, error) {
	return guarded(g, func() (pagecache.FillToken, error) { return g.c.BeginFill(ctx, video) })
}

func (g *guardedCache) FillSince(ctx context.Context, video int64, tok pagecache.FillToken, entries []pagecache.Entry, total int64, complete bool) (pagecache.FillResult, error) {
	return guarded(g, func() (pagecache.FillResult, error) { return g.c.FillSince(ctx, video, tok, entries, total, complete) })
}

func (g *guardedCache) Overlay(ctx context.Context, video int64) (map[int64]pagecache.OverlayEntry, error) {
	return guarded(g, func() (map[int64]pagecache.OverlayEntry, error) { return g.c.Overlay(ctx, video) })
}
