package consumer

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/syncer/backoff"
	"github.com/vidcomments/vidcomments/syncer/readmodel"
)

// handler is the sarama.ConsumerGroupHandler. Each claimed partition runs
// in its own ConsumeClaim goroutine and applies its batches one after the
// other, so a partition's offsets are marked in order and the marked offset
// is always the highest one below which everything is durable.
type handler struct {
	opts   Options
	cg     sarama.ConsumerGroup
	apply  Applier
	settle Settler
	dlq    DeadLetters
	retry  backoff.Retrier
	m      *metrics
	log    *slog.Logger

	// redisDown is set when a batch gave up settling: later batches try each
	// settle once instead of waiting out every backoff while Redis is down.
	redisDown atomic.Bool

	mu         sync.Mutex
	stopCommit context.CancelFunc
	committed  chan struct{}
}

// Setup starts the session's committer: marked offsets are committed every
// CommitInterval.
func (h *handler) Setup(sess sarama.ConsumerGroupSession) error {
	ctx, cancel := context.WithCancel(sess.Context())
	done := make(chan struct{})
	h.mu.Lock()
	h.stopCommit, h.committed = cancel, done
	h.mu.Unlock()
	h.log.Info("consumer group session", "member", sess.MemberID(), "generation", sess.GenerationID(), "claims", sess.Claims())
	go func() {
		defer close(done)
		t := time.NewTicker(h.opts.CommitInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				sess.Commit()
			case <-ctx.Done():
				return
			}
		}
	}()
	return nil
}

// Cleanup runs once every claim of the session has returned: it commits
// what they marked.
func (h *handler) Cleanup(sess sarama.ConsumerGroupSession) error {
	h.mu.Lock()
	stop, done := h.stopCommit, h.committed
	h.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	sess.Commit()
	return nil
}

// ConsumeClaim applies one partition's messages in batches until the
// session ends. A batch is at most BatchSize messages, collected for at most
// FlushInterval after its first; its last offset is marked only once every
// message of it is durable (applied or dead-lettered) and its overlay
// entries are settled.
//
// Two stages overlap: while the claim's finisher settles batch N in Redis
// and marks it, this goroutine already writes batch N+1 to Cassandra.
// Batches still pass each stage one at a time and in order, so offsets are
// marked in order and the marked offset is always the highest one below
// which everything is durable.
func (h *handler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	ctx := sess.Context()
	part := partitionLabel(claim.Partition())
	lag := h.m.lag.WithLabelValues(part)
	defer h.m.lag.DeleteLabelValues(part)
	lag.Set(float64(max(0, claim.HighWaterMarkOffset()-claim.InitialOffset())))
	log := h.log.With("partition", claim.Partition())
	log.Debug("claim started", "offset", claim.InitialOffset())

	written := make(chan written, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for w := range written {
			if h.finish(ctx, w, log) != nil {
				for range written { // the session ended: nothing more is marked
				}
				return
			}
			last := w.batch[len(w.batch)-1]
			sess.MarkMessage(last, "")
			lag.Set(float64(max(0, claim.HighWaterMarkOffset()-last.Offset-1)))
		}
	}()
	defer func() { close(written); <-finished }()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		batch := make([]*sarama.ConsumerMessage, 0, h.opts.BatchSize)
		select {
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil // revoked or shutting down: an unmarked batch is applied again by the next owner
			}
			batch = append(batch, msg)
		case <-ctx.Done():
			return nil
		}
		timer.Reset(h.opts.FlushInterval)
	fill:
		for len(batch) < h.opts.BatchSize {
			select {
			case msg, ok := <-claim.Messages():
				if !ok {
					return nil
				}
				batch = append(batch, msg)
			case <-timer.C:
				break fill
			case <-ctx.Done():
				return nil
			}
		}
		timer.Stop()
		w, err := h.write(ctx, claim, batch, log)
		if err != nil {
			return nil // the session ended mid-batch; nothing of it is marked
		}
		select {
		case written <- w:
		case <-ctx.Done():
			return nil
		}
	}
}

// written is a batch whose events Cassandra holds, on its way to be settled
// and marked.
type written struct {
	batch  []*sarama.ConsumerMessage
	events []comment.Event // the applied comment and pin events, dead letters left out
	likes  []readmodel.LikeEvent
	counts []readmodel.LikeCount // the like counts Cassandra holds after the batch
	start  time.Time
}

// write makes one batch durable: dead letters sent, events written to
// Cassandra. It returns an error only when ctx ends.
func (h *handler) write(ctx context.Context, claim sarama.ConsumerGroupClaim, batch []*sarama.ConsumerMessage, log *slog.Logger) (written, error) {
	w := written{batch: batch, events: make([]comment.Event, 0, len(batch)), start: time.Now()}
	var dead []*sarama.ProducerMessage
	for _, msg := range batch {
		e, err := comment.DecodeEvent(msg.Value)
		if err == nil {
			err = h.apply.Check(e)
		}
		if err != nil {
			log.Warn("dead-lettering an event", "offset", msg.Offset, "reason", err)
			dead = append(dead, h.deadLetter(msg, err))
			continue
		}
		if e.Type == comment.EventLike {
			w.likes = append(w.likes, readmodel.LikeEvent{CommentID: e.Like.CommentID, VideoID: e.Like.VideoID, Delta: e.Like.Delta,
				Recount: e.Like.Recount, Count: e.Like.Count, Stale: e.Like.Stale, Partition: msg.Partition, Offset: msg.Offset})
			continue
		}
		w.events = append(w.events, e)
	}
	if len(dead) > 0 {
		err := h.retry.Do(ctx, 0, func(context.Context) error { return h.dlq.SendMessages(dead) },
			func(n int, err error, wait time.Duration) {
				h.m.retries.WithLabelValues(depKafka).Inc()
				log.Warn("dead-letter topic unavailable; retrying", "attempt", n, "err", err, "wait", wait)
			})
		if err != nil {
			return written{}, err
		}
		h.m.deadLetters.Add(float64(len(dead)))
	}
	if len(w.events) > 0 || len(w.likes) > 0 {
		if err := h.applyEvents(ctx, claim, &w, log); err != nil {
			return written{}, err
		}
	}
	return w, nil
}

// finish settles a written batch's overlay entries and records its
// metrics. It returns an error only when ctx ends.
func (h *handler) finish(ctx context.Context, w written, log *slog.Logger) error {
	if len(w.events) > 0 {
		if err := h.settleEvents(ctx, w.events, log); err != nil {
			return err
		}
		h.syncTotals(ctx, w.events, log)
	}
	if len(w.counts) > 0 {
		if err := h.cacheLikes(ctx, w.counts, log); err != nil {
			return err
		}
	}
	h.m.applied.Add(float64(len(w.events) + len(w.likes)))
	now := time.Now()
	h.m.batchTime.Observe(now.Sub(w.start).Seconds())
	h.m.batchEvents.Observe(float64(len(w.batch)))
	for _, msg := range w.batch {
		if !msg.Timestamp.IsZero() {
			h.m.delay.Observe(now.Sub(msg.Timestamp).Seconds())
		}
	}
	return nil
}

// deadLetter wraps msg for the dead-letter topic.
func (h *handler) deadLetter(msg *sarama.ConsumerMessage, reason error) *sarama.ProducerMessage {
	headers := []sarama.RecordHeader{
		{Key: []byte(HeaderReason), Value: []byte(reason.Error())},
		{Key: []byte(HeaderTopic), Value: []byte(msg.Topic)},
		{Key: []byte(HeaderPartition), Value: []byte(strconv.FormatInt(int64(msg.Partition), 10))},
		{Key: []byte(HeaderOffset), Value: []byte(strconv.FormatInt(msg.Offset, 10))},
	}
	for _, hd := range msg.Headers {
		if hd != nil {
			headers = append(headers, *hd)
		}
	}
	return &sarama.ProducerMessage{
		Topic:   h.opts.DeadLetterTopic,
		Key:     sarama.ByteEncoder(msg.Key),
		Value:   sarama.ByteEncoder(msg.Value),
		Headers: headers,
	}
}

// applyEvents writes the batch to Cassandra — comment and pin events first,
// then the like counts, so a count change sees the comments' new states —
// retrying until it succeeds or ctx ends. While it fails, the partition's
// fetching is paused, so no more of it is buffered than the claim already
// holds.
func (h *handler) applyEvents(ctx context.Context, claim sarama.ConsumerGroupClaim, w *written, log *slog.Logger) error {
	paused := false
	pause := map[string][]int32{claim.Topic(): {claim.Partition()}}
	defer func() {
		if paused {
			h.cg.Resume(pause)
			h.m.paused.Dec()
		}
	}()
	failures := 0
	err := h.retry.Do(ctx, 0, func(ctx context.Context) error {
		if len(w.events) > 0 {
			if err := h.apply.Apply(ctx, w.events); err != nil {
				return err
			}
		}
		if len(w.likes) > 0 {
			counts, err := h.apply.ApplyLikes(ctx, w.likes)
			if err != nil {
				return err
			}
			w.counts = counts
			for _, c := range counts {
				if c.Changed {
					h.m.likeCounts.WithLabelValues("changed").Inc()
				} else {
					h.m.likeCounts.WithLabelValues("unchanged").Inc()
				}
			}
		}
		return nil
	},
		func(n int, err error, wait time.Duration) {
			failures = n
			h.m.retries.WithLabelValues(depCassandra).Inc()
			if !paused {
				paused = true
				h.cg.Pause(pause)
				h.m.paused.Inc()
			}
			if n == 1 || n%10 == 0 {
				log.Warn("cassandra write failed; partition paused, retrying", "attempt", n, "err", err, "wait", wait)
			}
		})
	if err != nil {
		return err
	}
	if failures > 0 {
		log.Info("cassandra write succeeded; partition resumed", "attempts", failures+1)
	}
	return nil
}

// settleKey is one comment whose change Cassandra now holds.
type settleKey struct{ video, id int64 }

// settleEvents clears the overlay entries the batch made obsolete: per
// comment, the newest version the batch wrote (Cassandra holds that one or
// a newer one). Redis failures are retried SettleAttempts times; after that
// the batch moves on (see the README: the pages' TTL bounds the staleness),
// and until a settle succeeds again each later batch tries only once.
// It returns an error only when ctx ends.
func (h *handler) settleEvents(ctx context.Context, events []comment.Event, log *slog.Logger) error {
	pending := map[settleKey]int64{}
	var comments []comment.Event
	for _, e := range events {
		if e.Type.IsComment() {
			comments = append(comments, e)
		}
	}
	for _, e := range readmodel.Latest(comments) {
		pending[settleKey{e.Comment.VideoID, e.Comment.ID}] = e.Version
	}
	last := h.retryRedis(ctx, log, "redis settle", "pending", func() int { return len(pending) }, func(ctx context.Context) error {
		return h.settleAll(ctx, pending)
	})
	switch {
	case len(pending) == 0:
		if h.redisDown.CompareAndSwap(true, false) {
			log.Info("redis settles succeed again")
		}
		return nil
	case ctx.Err() != nil:
		return ctx.Err() // the session ended: the batch stays unmarked and is settled by the next owner
	}
	h.m.settles.WithLabelValues("failed").Add(float64(len(pending)))
	if h.redisDown.CompareAndSwap(false, true) {
		log.Error("gave up settling overlay entries; until Redis answers, batches move on without them and pages may stay stale until their TTL",
			"comments", len(pending), "err", last)
	} else {
		log.Debug("redis still down; overlay entries left unsettled", "comments", len(pending), "err", last)
	}
	return nil
}

// settleAll settles every pending entry in one pipeline and removes the
// ones that succeeded. It returns the first error.
func (h *handler) settleAll(ctx context.Context, pending map[settleKey]int64) error {
	reqs := make([]pagecache.SettleRequest, 0, len(pending))
	for k, v := range pending {
		reqs = append(reqs, pagecache.SettleRequest{VideoID: k.video, ID: k.id, Version: v})
	}
	var first error
	for i, res := range h.settle.SettleMany(ctx, reqs) {
		if res.Err != nil {
			if first == nil {
				first = res.Err
			}
			continue
		}
		delete(pending, settleKey{reqs[i].VideoID, reqs[i].ID})
		h.m.settles.WithLabelValues(settleOutcome(res.Settled)).Inc()
	}
	return first
}

// syncTotals hands Cassandra's counts of the batch's videos to the page
// cache, which takes them only for a video with no change pending in its
// overlay (pagecache.SyncTotal): a fill racing the syncer may have cached a
// total off by a few, and this puts it right once the video is quiet. Best
// effort: a failure leaves the total to the next batch or the page's TTL.
func (h *handler) syncTotals(ctx context.Context, events []comment.Event, log *slog.Logger) {
	if h.redisDown.Load() {
		return
	}
	var videos []int64
	seen := map[int64]bool{}
	for _, e := range events {
		if v := e.Comment.VideoID; e.Type.IsComment() && !seen[v] {
			seen[v] = true
			videos = append(videos, v)
		}
	}
	if len(videos) == 0 {
		return
	}
	totals, err := h.apply.Totals(ctx, videos)
	if err != nil {
		log.Debug("reading counts for the cached totals failed", "err", err)
		return
	}
	for _, v := range videos {
		changed, err := h.settle.SyncTotal(ctx, v, totals[v])
		switch {
		case err != nil:
			log.Debug("syncing a cached total failed", "video", v, "err", err)
			return
		case changed:
			h.m.settles.WithLabelValues("total_corrected").Inc()
		}
	}
}

// retryRedis runs op until it succeeds, at most SettleAttempts times (once
// while Redis is known to be down), counting each retry and logging it as
// what failing with left() of unit still to do. It returns op's last error.
func (h *handler) retryRedis(ctx context.Context, log *slog.Logger, what, unit string, left func() int, op func(context.Context) error) error {
	attempts := h.opts.SettleAttempts
	if h.redisDown.Load() {
		attempts = 1
	}
	var last error
	_ = h.retry.Do(ctx, attempts, func(ctx context.Context) error {
		last = op(ctx)
		return last
	}, func(n int, err error, wait time.Duration) {
		h.m.retries.WithLabelValues(depRedis).Inc()
		log.Warn(what+" failed; retrying", "attempt", n, unit, left(), "err", err, "wait", wait)
	})
	return last
}

func settleOutcome(s pagecache.Settled) string {
	switch s {
	case pagecache.SettleCleared:
		return "cleared"
	case pagecache.SettleInvalidated:
		return "invalidated"
	}
	return "nothing"
}

// cacheLikes hands the batch's like counts to the page cache, per video,
// like settleEvents: Redis failures are retried SettleAttempts times (once
// while Redis is known to be down), then the batch moves on; cached bodies
// then show an older count until the page is refilled, which reads
// Cassandra. It returns an error only when ctx ends.
func (h *handler) cacheLikes(ctx context.Context, counts []readmodel.LikeCount, log *slog.Logger) error {
	pending := map[int64][]pagecache.LikeCount{}
	for _, c := range counts {
		pending[c.VideoID] = append(pending[c.VideoID], pagecache.LikeCount{ID: c.CommentID, Offset: c.Offset, Count: c.Count})
	}
	last := h.retryRedis(ctx, log, "redis like counts", "videos", func() int { return len(pending) }, func(ctx context.Context) error {
		var last error
		for video, cs := range pending {
			if err := h.settle.ApplyLikes(ctx, video, cs); err != nil {
				last = err
				continue
			}
			delete(pending, video)
		}
		return last
	})
	switch {
	case len(pending) == 0:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	}
	for _, cs := range pending {
		h.m.likeCounts.WithLabelValues("cache_failed").Add(float64(len(cs)))
	}
	h.redisDown.Store(true)
	log.Warn("gave up updating cached like counts; pages show older counts until refilled", "videos", len(pending), "err", last)
	return nil
}
