package pages

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/profiles"
)

// versions is the local map video → cache version that puts the version
// into groupcache keys without a Redis round trip per request. It is kept
// current by the inval channel and trusted only while the subscription is
// confirmed: every (re)subscription clears it, since messages may have been
// lost in between, and a miss reads the version from Redis.
type versions struct {
	mu   sync.RWMutex
	m    map[int64]int64
	gen  uint64 // bumped by every reset, so a lookup racing a reset is not stored
	max  int
	live atomic.Bool
}

func newVersions(max int) *versions {
	return &versions{m: make(map[int64]int64), max: max}
}

// get returns the known version of video and the generation to pass to
// learn after a miss.
func (v *versions) get(video int64) (ver int64, gen uint64, ok bool) {
	v.mu.RLock()
	ver, ok = v.m[video]
	gen = v.gen
	v.mu.RUnlock()
	return ver, gen, ok && v.live.Load()
}

// observe records a published bump; versions only move forward.
func (v *versions) observe(video, ver int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if old, ok := v.m[video]; ok && old >= ver {
		return
	}
	if len(v.m) >= v.max {
		v.clearLocked()
	}
	v.m[video] = ver
}

// learn records a version read from Redis after a miss, unless the map was
// reset since the miss (the read may predate a lost message).
func (v *versions) learn(video, ver int64, gen uint64) {
	if !v.live.Load() {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if gen != v.gen {
		return
	}
	if old, ok := v.m[video]; ok && old >= ver {
		return
	}
	if len(v.m) >= v.max {
		v.clearLocked()
	}
	v.m[video] = ver
}

func (v *versions) reset() {
	v.mu.Lock()
	v.clearLocked()
	v.mu.Unlock()
}

func (v *versions) clearLocked() {
	clear(v.m)
	v.gen++
}

// Subscriber opens a pub/sub subscription (redis.UniversalClient).
type Subscriber interface {
	Subscribe(ctx context.Context, channels ...string) *redis.PubSub
}

// invalListener keeps versions current from the inval channel.
type invalListener struct {
	vers    *versions
	authors *authors // nil: pages carry no authors
	ps      *redis.PubSub
	logger  *slog.Logger
	metrics *metrics
	health  time.Duration // ping the connection after this much silence
}

const (
	invalHealthInterval = 15 * time.Second
	invalMinBackoff     = 50 * time.Millisecond
	invalMaxBackoff     = 2 * time.Second
)

// run receives until ctx is done and ps is closed.
func (l *invalListener) run(ctx context.Context) {
	backoff := invalMinBackoff
	down := false
	for ctx.Err() == nil {
		msg, err := l.ps.ReceiveTimeout(ctx, l.health)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				_ = l.ps.Ping(ctx) // a dead connection fails the next receive
				continue
			}
			if ctx.Err() != nil {
				return
			}
			l.vers.live.Store(false)
			l.metrics.subscribed.Set(0)
			if !down {
				l.logger.Warn("inval subscription lost; versions read from Redis until it is back", "err", err)
				down = true
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, invalMaxBackoff)
			continue
		}
		backoff = invalMinBackoff
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				// Messages may have been lost before this (re)subscription.
				l.vers.reset()
				if l.authors != nil {
					l.authors.reset()
				}
				l.vers.live.Store(true)
				l.metrics.subscribed.Set(1)
				l.metrics.versionResets.Inc()
				if down {
					l.logger.Info("inval subscription back; local versions dropped")
					down = false
				}
			}
		case *redis.Message:
			if user, ok := profiles.ParseInval(m.Payload); ok {
				if l.authors != nil {
					l.authors.forget(user)
				}
				continue
			}
			video, ver, err := pagecache.ParseInval(m.Payload)
			if err != nil {
				l.logger.Warn("ignoring a malformed inval message", "err", err)
				continue
			}
			l.metrics.invalMessages.Inc()
			l.vers.observe(video, ver)
		}
	}
}
