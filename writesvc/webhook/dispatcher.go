package webhook

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/config"
	"github.com/vidcomments/vidcomments/internal/metric"
)

// Defaults of Config.
const (
	DefaultWorkers     = 8
	DefaultBatch       = 32
	DefaultPoll        = 200 * time.Millisecond
	DefaultTimeout     = 5 * time.Second
	DefaultLease       = 30 * time.Second // > Timeout: a live sender always finishes first
	DefaultMinBackoff  = time.Second
	DefaultMaxBackoff  = 10 * time.Minute
	DefaultMaxAttempts = 12 // about 40 minutes of retries at the defaults
	queryTimeout       = 10 * time.Second
)

// Config configures a Dispatcher; zero values take the defaults.
type Config struct {
	Workers     int           // deliveries sent at once
	Batch       int           // claimed per query
	Poll        time.Duration // how often due deliveries are looked for
	Timeout     time.Duration // of one request
	Lease       time.Duration // a claimed delivery is due again after this if its sender died
	MinBackoff  time.Duration // after the first failure; doubling per attempt
	MaxBackoff  time.Duration
	MaxAttempts int
	Client      *http.Client // nil: one of its own
	Registry    prometheus.Registerer
	Logger      *slog.Logger
}

// Dispatcher sends due deliveries; see the package comment.
type Dispatcher struct {
	db     *sql.DB
	cfg    Config
	client *http.Client
	log    *slog.Logger
	sent   *prometheus.CounterVec
	took   prometheus.Histogram
}

// NewDispatcher returns a Dispatcher on db; Run starts it.
func NewDispatcher(db *sql.DB, cfg Config) (*Dispatcher, error) {
	config.Default(&cfg.Workers, DefaultWorkers)
	config.Default(&cfg.Batch, DefaultBatch)
	config.Default(&cfg.Poll, DefaultPoll)
	config.Default(&cfg.Timeout, DefaultTimeout)
	config.Default(&cfg.Lease, DefaultLease)
	config.Default(&cfg.MinBackoff, DefaultMinBackoff)
	config.Default(&cfg.MaxBackoff, DefaultMaxBackoff)
	config.Default(&cfg.MaxAttempts, DefaultMaxAttempts)
	if cfg.Lease <= cfg.Timeout {
		return nil, fmt.Errorf("webhook lease %v must exceed the request timeout %v", cfg.Lease, cfg.Timeout)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	client := cfg.Client
	if client == nil {
		// Endpoints are the operators' own: no redirects followed, so a
		// delivery goes where it was registered to go.
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	f := metric.With(cfg.Registry)
	d := &Dispatcher{
		db: db, cfg: cfg, client: client, log: cfg.Logger,
		sent: f.CounterPer("vc_webhook_attempts_total", "Webhook delivery attempts by outcome: delivered (2xx), retry (another attempt scheduled), failed (attempts ran out).",
			"outcome", "delivered", "retry", "failed"),
		took: f.Histogram("vc_webhook_attempt_seconds", "One delivery attempt, request to answer or timeout.", prometheus.ExponentialBuckets(0.005, 2, 12)),
	}
	if err := f.Err(); err != nil {
		return nil, fmt.Errorf("webhook metrics: %w", err)
	}
	return d, nil
}

// claimed is a delivery this dispatcher holds for one lease.
type claimed struct {
	id, hook, comment int64
	event             string
	attempt           int
	payload           []byte
	url, secret       string
}

// Run sends due deliveries until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	sem := make(chan struct{}, d.cfg.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(d.cfg.Poll)
	defer tick.Stop()
	for {
		// Claim only what free workers can send at once, so no claimed row
		// waits out its lease in a queue.
		n := min(d.cfg.Batch, cap(sem)-len(sem))
		if n == 0 { // every worker busy: wait for one to finish
			select {
			case sem <- struct{}{}:
				<-sem
			case <-ctx.Done():
				return
			}
			continue
		}
		batch, err := d.claim(ctx, n)
		if err != nil && ctx.Err() == nil {
			d.log.Warn("webhook claim failed", "err", err)
		}
		for _, c := range batch {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				d.deliver(ctx, c)
			})
		}
		if len(batch) == n {
			continue // as many as asked for: more may be due
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// claim takes up to n due deliveries of live endpoints and moves each a
// lease ahead, in one transaction that other dispatchers skip past.
func (d *Dispatcher) claim(ctx context.Context, n int) ([]claimed, error) {
	if n <= 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	// Only delivery rows are locked (MariaDB has no FOR UPDATE OF): the
	// endpoints are read after, without a lock.
	rows, err := tx.QueryContext(ctx, `SELECT id, webhook_id, comment_id, event, attempts, payload FROM webhook_deliveries
		WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= NOW(6)
		ORDER BY next_attempt_at, id LIMIT ? FOR UPDATE SKIP LOCKED`, n)
	if err != nil {
		return nil, err
	}
	var out []claimed
	var ids, hooks []any
	for rows.Next() {
		var c claimed
		if err := rows.Scan(&c.id, &c.hook, &c.comment, &c.event, &c.attempt, &c.payload); err != nil {
			rows.Close()
			return nil, err
		}
		c.attempt++
		out = append(out, c)
		ids, hooks = append(ids, c.id), append(hooks, c.hook)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(out) == 0 {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = NOW(6) + INTERVAL ? MICROSECOND
		WHERE id IN (?`+strings.Repeat(",?", len(ids)-1)+`)`, append([]any{d.cfg.Lease.Microseconds()}, ids...)...); err != nil {
		return nil, err
	}
	type endpoint struct{ url, secret string }
	eps := map[int64]endpoint{}
	erows, err := tx.QueryContext(ctx, `SELECT id, url, secret FROM webhooks WHERE id IN (?`+strings.Repeat(",?", len(hooks)-1)+`)`, hooks...)
	if err != nil {
		return nil, err
	}
	for erows.Next() {
		var id int64
		var e endpoint
		if err := erows.Scan(&id, &e.url, &e.secret); err != nil {
			erows.Close()
			return nil, err
		}
		eps[id] = e
	}
	erows.Close()
	if err := erows.Err(); err != nil {
		return nil, err
	}
	live := out[:0]
	for _, c := range out {
		if e, ok := eps[c.hook]; ok { // else deleted since: Delete marks its rows failed
			c.url, c.secret = e.url, e.secret
			live = append(live, c)
		}
	}
	out = live
	return out, tx.Commit()
}

// deliver makes one attempt and records it.
func (d *Dispatcher) deliver(ctx context.Context, c claimed) {
	start := time.Now()
	status, err := d.send(ctx, c)
	d.took.Observe(time.Since(start).Seconds())
	if ctx.Err() != nil {
		return // shutting down: the lease brings it back
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), queryTimeout)
	defer cancel()
	if err == nil {
		_, err = d.db.ExecContext(rctx, `UPDATE webhook_deliveries SET delivered_at = NOW(6), last_status = ?, last_error = NULL
			WHERE id = ? AND delivered_at IS NULL`, status, c.id)
		if err != nil {
			d.log.Warn("webhook delivered but not recorded; it will be sent again", "delivery", c.id, "err", err)
			return
		}
		d.sent.WithLabelValues("delivered").Inc()
		return
	}
	outcome := "retry"
	if c.attempt >= d.cfg.MaxAttempts {
		outcome = "failed"
	}
	msg := err.Error()
	if len(msg) > 512 {
		msg = msg[:512]
	}
	if _, rerr := d.db.ExecContext(rctx, `UPDATE webhook_deliveries SET last_status = NULLIF(?, 0), last_error = ?,
		next_attempt_at = NOW(6) + INTERVAL ? MICROSECOND, failed_at = IF(?, NOW(6), NULL)
		WHERE id = ? AND delivered_at IS NULL`, status, msg, d.backoff(c.attempt).Microseconds(), outcome == "failed", c.id); rerr != nil {
		d.log.Warn("webhook attempt not recorded", "delivery", c.id, "err", rerr)
		return
	}
	d.sent.WithLabelValues(outcome).Inc()
	d.log.Info("webhook attempt failed", "delivery", c.id, "attempt", c.attempt, "outcome", outcome, "status", status, "err", msg)
}

// backoff is the wait after failed attempt n (1, 2, …): MinBackoff doubled
// per attempt up to MaxBackoff, ±20% so endpoints are not hit in waves.
func (d *Dispatcher) backoff(n int) time.Duration {
	b := d.cfg.MaxBackoff
	if n-1 < 30 {
		b = min(d.cfg.MinBackoff<<(n-1), d.cfg.MaxBackoff)
	}
	return time.Duration(float64(b) * (0.8 + 0.4*rand.Float64()))
}

// Body is what a delivery POSTs.
type Body struct {
	ID      string            `json:"id"` // the delivery id, as X-Vidcomments-Delivery: receivers drop repeats by it
	Event   string            `json:"event"`
	Comment comment.Moderated `json:"comment"`
	// ParentUserID is the author of the comment replied to (comment.reply).
	ParentUserID string `json:"parent_user_id,omitempty"`
}

// send POSTs c's body, signed; a non-2xx status is an error.
func (d *Dispatcher) send(ctx context.Context, c claimed) (status int, err error) {
	ev, err := comment.DecodeEvent(c.payload)
	if err != nil {
		return 0, fmt.Errorf("decode the outbox event: %w", err)
	}
	b := Body{ID: fmt.Sprint(c.id), Event: c.event, Comment: ev.Comment.Moderated()}
	if c.event == EventReply {
		var parentUser int64
		if err := d.db.QueryRowContext(ctx, `SELECT user_id FROM comments WHERE id = ?`, ev.Comment.ParentID).Scan(&parentUser); err != nil && err != sql.ErrNoRows {
			return 0, fmt.Errorf("look up the parent's author: %w", err)
		}
		if parentUser != 0 {
			b.ParentUserID = comment.FormatID(parentUser)
		}
	}
	body, err := json.Marshal(b)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vidcomments-webhook/1")
	req.Header.Set(HeaderEvent, c.event)
	req.Header.Set(HeaderDelivery, b.ID)
	req.Header.Set(HeaderSignature, Sign(c.secret, time.Now(), body))
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("endpoint answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}
