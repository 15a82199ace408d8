// Package nodelease gives a writesvc instance the node number of its
// comment ids (0..comment.MaxNode) under an expiring lease in MySQL, so no
// two live instances ever mint ids with the same node bits — whatever
// their flags say.
//
// An instance claims the lowest free (or expired) node in node_leases and
// renews it every TTL/3. It mints only while it can prove it holds the
// lease: the lease is valid locally until the moment the renewal was sent
// plus 80% of the TTL, measured on the monotonic clock, which is always
// earlier than the expiry MySQL recorded (NOW(6) at execution + TTL). If a
// renewal finds that the row has another owner, the instance has lost the
// node: it stops minting and claims a new node. Close releases the node.
//
// Should two clocks disagree by more than the hand-over gap, a reused node
// could still repeat an id; comments.id is the primary key, so such an
// insert fails and writesvc retries with a fresh id.
package nodelease

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/comment"
)

// The statements on node_leases (schema/mysql/002_writesvc.sql).
const (
	selectLive = `SELECT node FROM node_leases WHERE expires_at > NOW(6)`
	insertNode = `INSERT INTO node_leases (node, owner, holder, claimed_at, expires_at)
		VALUES (?, ?, ?, NOW(6), NOW(6) + INTERVAL ? MICROSECOND)`
	takeExpired = `UPDATE node_leases SET owner = ?, holder = ?, claimed_at = NOW(6), expires_at = NOW(6) + INTERVAL ? MICROSECOND
		WHERE node = ? AND expires_at <= NOW(6)`
	renew   = `UPDATE node_leases SET expires_at = NOW(6) + INTERVAL ? MICROSECOND WHERE node = ? AND owner = ?`
	release = `DELETE FROM node_leases WHERE node = ? AND owner = ?`
)

// DefaultTTL is the lease length unless configured otherwise.
const DefaultTTL = 15 * time.Second

// Errors of Lease.
var (
	ErrNoFreeNode = errors.New("node lease: every node number is leased")
	ErrNotHeld    = errors.New("node lease: not held; refusing to mint comment ids")
)

// Config tunes a Lease.
type Config struct {
	TTL     time.Duration // lease length; renewed every TTL/3
	Holder  string        // who holds it, for people reading the table; default host/pid
	MaxNode int           // highest node number to claim; default comment.MaxNode
}

// Lease is one instance's claim on a node number and the id generator
// bound to it. Safe for concurrent use.
type Lease struct {
	db  *sql.DB
	cfg Config
	log *slog.Logger
	now func() time.Time // time.Now: its monotonic reading measures validity

	mu         sync.Mutex
	node       int
	owner      string
	gen        *comment.IDGenerator
	validUntil time.Time // zero: not held

	held   prometheus.Gauge
	nodeG  prometheus.Gauge
	losses prometheus.Counter

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Claim takes a node number for this instance, or fails with
// ErrNoFreeNode. Start the renewals with Start.
func Claim(ctx context.Context, db *sql.DB, cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Lease, error) {
	return claimWithClock(ctx, db, cfg, logger, reg, time.Now)
}

func claimWithClock(ctx context.Context, db *sql.DB, cfg Config, logger *slog.Logger, reg prometheus.Registerer, now func() time.Time) (*Lease, error) {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.TTL < 30*time.Millisecond {
		return nil, fmt.Errorf("node lease: ttl %v is too short", cfg.TTL)
	}
	if cfg.MaxNode <= 0 || cfg.MaxNode > comment.MaxNode {
		cfg.MaxNode = comment.MaxNode
	}
	if cfg.Holder == "" {
		host, _ := os.Hostname()
		cfg.Holder = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	l := &Lease{db: db, cfg: cfg, log: logger.With("component", "node lease"), now: now,
		held:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "writesvc_node_lease_held", Help: "1 while this instance holds a valid node lease and may mint comment ids."}),
		nodeG:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "writesvc_node_lease_node", Help: "The node number this instance mints comment ids with."}),
		losses: prometheus.NewCounter(prometheus.CounterOpts{Name: "writesvc_node_lease_losses_total", Help: "Times the lease could not be renewed in time or was taken over."}),
	}
	for _, c := range []prometheus.Collector{l.held, l.nodeG, l.losses} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("node lease metrics: %w", err)
		}
	}
	if err := l.claim(ctx); err != nil {
		return nil, err
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	return l, nil
}

func newOwner() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// claim takes the lowest node number that is free or expired.
func (l *Lease) claim(ctx context.Context) error {
	live := map[int]bool{}
	rows, err := l.db.QueryContext(ctx, selectLive)
	if err != nil {
		return fmt.Errorf("node lease: read leases: %w", err)
	}
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return fmt.Errorf("node lease: read leases: %w", err)
		}
		live[n] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("node lease: read leases: %w", err)
	}
	owner := newOwner()
	ttl := l.cfg.TTL.Microseconds()
	for n := 0; n <= l.cfg.MaxNode; n++ {
		if live[n] {
			continue
		}
		sent := l.now()
		_, err := l.db.ExecContext(ctx, insertNode, n, owner, l.cfg.Holder, ttl)
		if err == nil {
			return l.take(n, owner, sent)
		}
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1062 { // 1062: the row exists
			return fmt.Errorf("node lease: claim node %d: %w", n, err)
		}
		res, err := l.db.ExecContext(ctx, takeExpired, owner, l.cfg.Holder, ttl, n)
		if err != nil {
			return fmt.Errorf("node lease: take expired node %d: %w", n, err)
		}
		if k, _ := res.RowsAffected(); k == 1 {
			return l.take(n, owner, sent)
		}
		// Someone else claimed n since the scan: try the next number.
	}
	return ErrNoFreeNode
}

func (l *Lease) take(node int, owner string, sent time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Back on the same node after a loss: keep the generator, whose memory
	// of the last id keeps the new ids above the old ones.
	if l.gen == nil || l.node != node {
		gen, err := comment.NewIDGenerator(node, time.Now)
		if err != nil {
			return err
		}
		l.gen = gen
	}
	l.node, l.owner = node, owner
	l.validUntil = sent.Add(l.validity())
	l.held.Set(1)
	l.nodeG.Set(float64(node))
	l.log.Info("claimed node number", "node", node, "ttl", l.cfg.TTL)
	return nil
}

// validity is how long after sending a claim or renewal the lease counts
// as held locally: 80% of the TTL, leaving room for clock-rate drift.
func (l *Lease) validity() time.Duration { return l.cfg.TTL * 4 / 5 }

// Start renews the lease every TTL/3 until Close.
func (l *Lease) Start() {
	l.wg.Add(1)
	go l.run()
}

func (l *Lease) run() {
	defer l.wg.Done()
	t := time.NewTicker(l.cfg.TTL / 3)
	defer t.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
		}
		if err := l.renew(); err != nil {
			l.log.Warn("node lease renewal failed", "err", err)
		}
	}
}

// renew extends the lease; if the row has another owner, it claims a new
// node instead.
func (l *Lease) renew() error {
	ctx, cancel := context.WithTimeout(l.ctx, l.cfg.TTL/3)
	defer cancel()
	l.mu.Lock()
	node, owner, held := l.node, l.owner, !l.validUntil.IsZero()
	l.mu.Unlock()
	if held {
		sent := l.now()
		res, err := l.db.ExecContext(ctx, renew, l.cfg.TTL.Microseconds(), node, owner)
		if err != nil {
			l.expireIfDue()
			return fmt.Errorf("renew node %d: %w", node, err)
		}
		if k, _ := res.RowsAffected(); k == 1 {
			l.mu.Lock()
			if !l.validUntil.IsZero() {
				l.validUntil = sent.Add(l.validity())
			}
			l.mu.Unlock()
			return nil
		}
		l.lose(fmt.Sprintf("node %d has another owner", node))
	}
	if err := l.claim(ctx); err != nil {
		return fmt.Errorf("claim a new node: %w", err)
	}
	return nil
}

// expireIfDue marks the lease lost once its local validity has run out.
func (l *Lease) expireIfDue() {
	l.mu.Lock()
	due := !l.validUntil.IsZero() && !l.now().Before(l.validUntil)
	l.mu.Unlock()
	if due {
		l.lose("renewals failed until the lease ran out")
	}
}

func (l *Lease) lose(why string) {
	l.mu.Lock()
	was := !l.validUntil.IsZero()
	l.validUntil = time.Time{}
	l.mu.Unlock()
	if was {
		l.held.Set(0)
		l.losses.Inc()
		l.log.Error("lost the node lease; minting stopped", "why", why)
	}
}

// NextID mints a comment id, or fails with ErrNotHeld when the lease is
// not provably held right now.
func (l *Lease) NextID() (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.validUntil.IsZero() || !l.now().Before(l.validUntil) {
		return 0, ErrNotHeld
	}
	return l.gen.Next()
}

// Node returns the node number currently claimed.
func (l *Lease) Node() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.node
}

// Check is a readiness check: nil while ids can be minted.
func (l *Lease) Check(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.validUntil.IsZero() || !l.now().Before(l.validUntil) {
		return ErrNotHeld
	}
	return nil
}

// Close stops renewing, stops minting and releases the node for others.
func (l *Lease) Close() error {
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	node, owner, was := l.node, l.owner, !l.validUntil.IsZero()
	l.validUntil = time.Time{}
	l.mu.Unlock()
	l.held.Set(0)
	if !was {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := l.db.ExecContext(ctx, release, node, owner); err != nil {
		return fmt.Errorf("release node %d: %w", node, err) // it expires on its own
	}
	return nil
}
