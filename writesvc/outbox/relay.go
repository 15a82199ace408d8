package outbox

import (
	"context"
	"crypto/sha1"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/config"
)

// Producer is what the relay needs of a Kafka producer: send a batch and
// return only once every message is acknowledged (or say which failed),
// and Close, which may be called while SendMessages runs and must make it
// return.
type Producer interface {
	SendMessages(msgs []*sarama.ProducerMessage) error
	Close() error
}

// ProducerFactory opens a Producer. The relay opens one each time it
// becomes leader and closes it when it steps down.
type ProducerFactory func() (Producer, error)

// HeaderOutboxID names the Kafka header carrying the outbox row id, for
// tracing a message back to its row.
const HeaderOutboxID = "vc-outbox-id"

// Config tunes a Relay. Zero fields take the Default… values.
type Config struct {
	Topic      string
	Batch      int           // rows per scan and per Kafka batch
	Poll       time.Duration // how often an idle leader looks for rows committed by other instances
	LockRetry  time.Duration // how often a standby tries to become leader
	MinBackoff time.Duration // first pause after a failure; doubles up to MaxBackoff
	MaxBackoff time.Duration
	Retention  time.Duration // sent rows are deleted after this long; 0 keeps them
	PruneEvery time.Duration
}

// Defaults of Config.
const (
	DefaultBatch      = 500
	DefaultPoll       = 20 * time.Millisecond // rows of other instances and of plain SQL (the change-log triggers) wait at most this
	DefaultLockRetry  = time.Second
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
	DefaultRetention  = 24 * time.Hour
	DefaultPruneEvery = time.Minute
	pruneChunk        = 1000
	queryTimeout      = 10 * time.Second
)

func (c *Config) defaults() {
	config.Default(&c.Batch, DefaultBatch)
	config.Default(&c.Poll, DefaultPoll)
	config.Default(&c.LockRetry, DefaultLockRetry)
	config.Default(&c.MinBackoff, DefaultMinBackoff)
	config.Default(&c.MaxBackoff, DefaultMaxBackoff)
	config.Default(&c.PruneEvery, DefaultPruneEvery)
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
}

// Relay publishes the outbox to Kafka; see the package comment for the
// ordering rule. Start it once, Notify it after each commit, Close it at
// shutdown.
type Relay struct {
	db          *sql.DB
	newProducer ProducerFactory
	cfg         Config
	log         *slog.Logger
	m           *metrics

	notify chan struct{}
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	lockName string // relay goroutine only

	mu       sync.Mutex
	producer *onceProducer // the producer in use, so Close can interrupt a send
	closed   bool
}

// NewRelay returns a Relay publishing db's outbox to cfg.Topic through
// producers from newProducer, with its metrics registered on reg.
func NewRelay(db *sql.DB, newProducer ProducerFactory, cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Relay, error) {
	if cfg.Topic == "" {
		return nil, errors.New("outbox relay: no topic")
	}
	cfg.defaults()
	m, err := newMetrics(reg, db)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Relay{
		db: db, newProducer: newProducer, cfg: cfg, log: logger.With("component", "outbox relay"), m: m,
		notify: make(chan struct{}, 1), ctx: ctx, cancel: cancel,
	}, nil
}

// Start runs the relay loop until Close.
func (r *Relay) Start() {
	r.wg.Add(1)
	go r.run()
}

// Notify tells the relay that rows were committed. It never blocks.
func (r *Relay) Notify() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// Close stops the relay: it interrupts a send in flight (whose rows stay
// unsent, for the next leader), releases the lock and waits for the loop.
func (r *Relay) Close() error {
	r.mu.Lock()
	r.closed = true
	p := r.producer
	r.mu.Unlock()
	r.cancel()
	if p != nil {
		_ = p.Close()
	}
	r.wg.Wait()
	return nil
}

func (r *Relay) run() {
	defer r.wg.Done()
	backoff := r.cfg.MinBackoff
	for r.ctx.Err() == nil {
		conn, err := r.acquire()
		switch {
		case err != nil:
			if r.ctx.Err() != nil {
				return // closing
			}
			r.log.Warn("cannot compete for the outbox lock", "err", err)
			r.m.failures.WithLabelValues("lock").Inc()
			r.sleep(jitter(backoff))
			backoff = min(2*backoff, r.cfg.MaxBackoff)
			continue
		case conn == nil: // another instance leads
			r.sleep(r.cfg.LockRetry)
			continue
		}
		r.m.leader.Set(1)
		r.log.Info("leading the outbox relay", "lock", r.lockName)
		progress, err := r.lead(conn)
		r.m.leader.Set(0)
		discard(conn) // closing the connection releases the lock, whatever state it is in
		if r.ctx.Err() != nil {
			return
		}
		if progress {
			backoff = r.cfg.MinBackoff
		}
		r.log.Warn("outbox relay stepped down; backing off", "err", err, "backoff", backoff)
		r.sleep(jitter(backoff))
		backoff = min(2*backoff, r.cfg.MaxBackoff)
	}
}

// acquire returns a connection holding the outbox lock, or nil if another
// session holds it.
func (r *Relay) acquire() (*sql.Conn, error) {
	ctx, cancel := context.WithTimeout(r.ctx, queryTimeout)
	defer cancel()
	conn, err := r.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("mysql connection: %w", err)
	}
	if r.lockName == "" {
		var db sql.NullString
		if err := conn.QueryRowContext(ctx, selectDatabase).Scan(&db); err != nil {
			discard(conn)
			return nil, fmt.Errorf("current database: %w", err)
		}
		r.lockName = LockName(db.String)
	}
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, getLock, r.lockName).Scan(&got); err != nil {
		discard(conn)
		return nil, fmt.Errorf("GET_LOCK(%s): %w", r.lockName, err)
	}
	if got.Int64 != 1 {
		_ = conn.Close() // holds no lock: back to the pool
		return nil, nil
	}
	// The leader's UPDATEs and DELETEs of outbox rows need no full row
	// images in the binlog (cdc does not follow the outbox): with FULL,
	// every row's JSON payload went into the binlog three more times after
	// its INSERT. This connection never returns to the pool (discard), so
	// the setting stays with it. A server that refuses it (MySQL 8 without
	// SESSION_VARIABLES_ADMIN) only logs more.
	if _, err := conn.ExecContext(ctx, minimalRowImage); err != nil {
		r.log.Warn("outbox relay: binlog_row_image stays as the server has it", "err", err)
	}
	return conn, nil
}

// LockName is the named lock the relays of one database compete for. MySQL
// lock names are server-wide and at most 64 characters.
func LockName(database string) string {
	const prefix = "vidcomments.outbox."
	if len(prefix)+len(database) <= 64 {
		return prefix + database
	}
	sum := sha1.Sum([]byte(database))
	return prefix + hex.EncodeToString(sum[:])
}

// discard closes conn's underlying connection instead of returning it to
// the pool, so the server drops every lock the session held.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = conn.Close()
}

// lead publishes while this relay holds the lock on conn. It returns when
// publishing fails or the relay closes; progress says whether any batch was
// published.
func (r *Relay) lead(conn *sql.Conn) (progress bool, err error) {
	p, err := r.openProducer()
	if err != nil {
		r.m.failures.WithLabelValues("producer").Inc()
		return false, fmt.Errorf("kafka producer: %w", err)
	}
	defer r.closeProducer(p)
	lastPrune := time.Now()
	for r.ctx.Err() == nil {
		rows, err := r.scan(conn)
		if err != nil {
			r.m.failures.WithLabelValues("scan").Inc()
			return progress, err
		}
		if len(rows) == 0 {
			if r.cfg.Retention > 0 && time.Since(lastPrune) >= r.cfg.PruneEvery {
				lastPrune = time.Now()
				r.prune(conn)
			}
			r.idle()
			continue
		}
		start := time.Now()
		if err := p.SendMessages(r.messages(rows)); err != nil {
			r.m.failures.WithLabelValues("publish").Inc()
			return progress, fmt.Errorf("publish %d events from outbox id %d: %w", len(rows), rows[0].id, err)
		}
		took := time.Since(start)
		r.m.batch.Observe(took.Seconds())
		r.m.published.Add(float64(len(rows)))
		for _, row := range rows {
			r.m.lag.Observe((row.age + took).Seconds())
		}
		if err := r.markSent(conn, rows); err != nil {
			r.m.failures.WithLabelValues("mark").Inc()
			return progress, err // the rows go out again: duplicates, never loss
		}
		progress = true
	}
	return progress, nil
}

func (r *Relay) openProducer() (*onceProducer, error) {
	p, err := r.newProducer()
	if err != nil {
		return nil, err
	}
	op := &onceProducer{Producer: p}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		_ = op.Close()
		return nil, errors.New("relay closed")
	}
	r.producer = op
	return op, nil
}

func (r *Relay) closeProducer(p *onceProducer) {
	r.mu.Lock()
	r.producer = nil
	r.mu.Unlock()
	if err := p.Close(); err != nil {
		r.log.Warn("closing kafka producer", "err", err)
	}
}

// onceProducer lets both Close and the relay loop close a producer.
type onceProducer struct {
	Producer
	once sync.Once
	err  error
}

func (p *onceProducer) Close() error {
	p.once.Do(func() { p.err = p.Producer.Close() })
	return p.err
}

type row struct {
	id, videoID, commentID, version int64
	payload                         []byte
	age                             time.Duration // since the row was committed, at scan time
}

func (r *Relay) scan(conn *sql.Conn) ([]row, error) {
	ctx, cancel := context.WithTimeout(r.ctx, queryTimeout)
	defer cancel()
	rs, err := conn.QueryContext(ctx, selectUnsent, r.cfg.Batch)
	if err != nil {
		return nil, fmt.Errorf("scan outbox: %w", err)
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		var x row
		var ageMicros int64
		if err := rs.Scan(&x.id, &x.videoID, &x.commentID, &x.version, &x.payload, &ageMicros); err != nil {
			return nil, fmt.Errorf("scan outbox row: %w", err)
		}
		x.age = time.Duration(ageMicros) * time.Microsecond
		out = append(out, x)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("scan outbox: %w", err)
	}
	return out, nil
}

// messages turns rows into Kafka messages, in id order. The key is the
// video id in decimal: comment.Event.Key of the payload.
func (r *Relay) messages(rows []row) []*sarama.ProducerMessage {
	msgs := make([]*sarama.ProducerMessage, len(rows))
	for i, x := range rows {
		msgs[i] = &sarama.ProducerMessage{
			Topic:   r.cfg.Topic,
			Key:     sarama.StringEncoder(strconv.FormatInt(x.videoID, 10)),
			Value:   sarama.ByteEncoder(x.payload),
			Headers: []sarama.RecordHeader{{Key: []byte(HeaderOutboxID), Value: []byte(strconv.FormatInt(x.id, 10))}},
		}
	}
	return msgs
}

func (r *Relay) markSent(conn *sql.Conn, rows []row) error {
	var q strings.Builder
	q.WriteString(markSentPrefix)
	args := make([]any, len(rows))
	for i, x := range rows {
		if i > 0 {
			q.WriteString(",")
		}
		q.WriteString("?")
		args[i] = x.id
	}
	q.WriteString(")")
	ctx, cancel := context.WithTimeout(r.ctx, queryTimeout)
	defer cancel()
	if _, err := conn.ExecContext(ctx, q.String(), args...); err != nil {
		return fmt.Errorf("mark %d outbox rows sent: %w", len(rows), err)
	}
	return nil
}

// prune deletes sent rows older than the retention, a chunk at a time.
func (r *Relay) prune(conn *sql.Conn) {
	for range 10 { // at most 10 chunks per round: publishing comes first
		ctx, cancel := context.WithTimeout(r.ctx, queryTimeout)
		res, err := conn.ExecContext(ctx, pruneSent, int64(r.cfg.Retention/time.Second), pruneChunk)
		cancel()
		if err != nil {
			r.log.Warn("pruning sent outbox rows", "err", err)
			return
		}
		n, _ := res.RowsAffected()
		r.m.pruned.Add(float64(n))
		if n < pruneChunk {
			return
		}
	}
}

// idle waits for a Notify, the poll interval or Close.
func (r *Relay) idle() {
	t := time.NewTimer(r.cfg.Poll)
	defer t.Stop()
	select {
	case <-r.notify:
	case <-t.C:
	case <-r.ctx.Done():
	}
}

func (r *Relay) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.ctx.Done():
	}
}

// jitter spreads d by ±20% so instances that failed together do not retry
// together.
func jitter(d time.Duration) time.Duration {
	return d - d/5 + time.Duration(rand.Int64N(int64(d)*2/5+1))
}
