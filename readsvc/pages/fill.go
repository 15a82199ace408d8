package pages

import (
	"context"
	"sort"
	"time"

	"github.com/vidcomments/vidcomments/internal/pagecache"
)

// The fill protocol, one for the three cached lists of a video (the time
// window, the hot window, a root's reply list); internal/pagecache's
// package doc says why each step is where it is.
//
//  1. One fill per list per process (singleflight on fillSpec.key) and
//     one across processes (the Redis lease of fillSpec.lease); a process
//     that finds the lease taken waits up to FillWait for that fill to
//     land and reads nothing itself.
//  2. With the lease: a list filled meanwhile is left alone.
//  3. Up to FillAttempts times: the fill token (BeginFill), then the
//     list's read — the overlay first, then Cassandra, merged — then its
//     write, the fill script, which merges every change recorded since the
//     token from the overlay, or voids the fill when a change outside the
//     overlay (an Invalidate, a fence) came after the token.

// window is a list as one fill read it.
type window struct {
	entries  []pagecache.Entry // in list order: newest first, or likes desc for the hot window
	total    int64
	complete bool
	token    pagecache.FillToken // taken before the overlay and Cassandra were read
	version  int64               // the token's version
	filled   bool                // written as read: the version had not moved
}

// after returns up to n entries older than before (0: from the newest) of
// a window in id order.
func (w *window) after(before int64, n int) []pagecache.Entry {
	i := 0
	if before > 0 {
		i = sort.Search(len(w.entries), func(i int) bool { return w.entries[i].ID < before })
	}
	return w.entries[i:min(len(w.entries), i+n)]
}

// trim cuts a merged read to the cached window size: complete when the
// read had every row and they fit.
func (w *window) trim(size int, all bool) {
	w.complete = all && len(w.entries) <= size
	if len(w.entries) > size {
		w.entries = w.entries[:size]
	}
}

// fillSpec is one list's part in the protocol.
type fillSpec struct {
	video int64
	key   string // singleflight key, unique across the lists of every video
	lease string // the lease kind: "" the time window, "hot", "r:P"
	// cached says whether Redis holds the list now.
	cached func(ctx context.Context) (bool, error)
	// read reads the list after tok was taken: overlay, then Cassandra.
	read func(ctx context.Context) (*window, error)
	// write hands the read to the list's fill script.
	write func(ctx context.Context, w *window) (pagecache.FillResult, error)
}

// fillList runs the protocol for one list. It returns the window this
// process read when the waiting requests may be served from it — written
// as read (filled), or read but cached nowhere (every attempt voided, or
// the write failed) — and nil when Redis holds a newer list than any read
// (another process's fill, or changes merged by the script).
func (r *Reader) fillList(ctx context.Context, s fillSpec) (*window, error) {
	v, err, _ := r.fills.Do(s.key, func() (any, error) { return r.fillLeased(ctx, s) })
	if err != nil {
		return nil, err
	}
	return v.(*window), nil
}

func (r *Reader) fillLeased(ctx context.Context, s fillSpec) (*window, error) {
	lease, ok, err := r.cache.TryLeaseOf(ctx, s.video, s.lease, r.opts.LeaseTTL)
	if err != nil {
		return nil, err
	}
	if !ok {
		r.m.leases.WithLabelValues("busy").Inc()
		r.waitFor(ctx, func() bool {
			cached, err := s.cached(ctx)
			return err != nil || cached
		})
		return nil, nil
	}
	r.m.leases.WithLabelValues("acquired").Inc()
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = r.cache.ReleaseLeaseOf(rctx, s.video, s.lease, lease) // it expires anyway
	}()
	// Filled between our miss and the lease (the lease was just released)?
	if cached, err := s.cached(ctx); err != nil || cached {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		tok, err := r.cache.BeginFill(ctx, s.video)
		if err != nil {
			return nil, err
		}
		w, err := s.read(ctx)
		if err != nil {
			return nil, err
		}
		w.token, w.version = tok, tok.Version
		res, err := s.write(ctx, w)
		switch {
		case err != nil:
			r.m.fills.WithLabelValues("error").Inc()
			r.opts.Logger.Warn("fill failed; served uncached", "video", s.video, "list", s.key, "err", err)
			return w, nil
		case res.Written && res.Version == w.version:
			w.filled = true
			r.m.fills.WithLabelValues("written").Inc()
			return w, nil
		case res.Written:
			// Changes landed during the read and the fill script merged
			// them from the overlay: Redis holds a newer list than w, so
			// the waiting requests read it there.
			r.m.fills.WithLabelValues("merged").Inc()
			return nil, nil
		}
		r.m.fills.WithLabelValues("voided").Inc()
		r.opts.Logger.Debug("fill voided: the read outlived the overlay horizon or the video was invalidated", "video", s.video, "list", s.key, "token", w.version, "attempt", attempt)
		if attempt >= r.opts.FillAttempts {
			return w, nil // served to the waiting requests, cached nowhere
		}
	}
}

// waitFor polls cond until it holds or FillWait ends.
func (r *Reader) waitFor(ctx context.Context, cond func() bool) {
	deadline := time.NewTimer(r.opts.FillWait)
	defer deadline.Stop()
	tick := time.NewTicker(fillPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			r.m.fillWaits.WithLabelValues("timeout").Inc()
			return
		case <-deadline.C:
			r.m.fillWaits.WithLabelValues("timeout").Inc()
			return
		case <-tick.C:
			if cond() {
				r.m.fillWaits.WithLabelValues("filled").Inc()
				return
			}
		}
	}
}
