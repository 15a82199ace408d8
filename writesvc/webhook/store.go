package webhook

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/vidcomments/vidcomments/internal/stores/mysqlstore"
)

// Hook is a registered endpoint.
type Hook struct {
	ID        int64
	URL       string
	Events    []string
	CreatedBy int64
	CreatedAt time.Time
	// Secret is returned once, by Register; List leaves it empty.
	Secret string
	// Last is the newest delivery to the endpoint, nil before the first.
	Last *Delivery
}

// Delivery is one event on its way to one endpoint.
type Delivery struct {
	ID, WebhookID, OutboxID, CommentID int64
	Event                              string
	Attempts                           int
	LastStatus                         int    // HTTP status of the last attempt; 0: none, or no answer
	LastError                          string // why the last attempt failed
	NextAttemptAt, CreatedAt           time.Time
	DeliveredAt, FailedAt              *time.Time
}

// State is "delivered", "failed" (attempts ran out) or "pending".
func (d Delivery) State() string {
	switch {
	case d.DeliveredAt != nil:
		return "delivered"
	case d.FailedAt != nil:
		return "failed"
	}
	return "pending"
}

// Errors of the Store; ErrInvalid wraps the reason.
var (
	ErrInvalid  = errors.New("invalid webhook")
	ErrNotFound = errors.New("webhook not found")
)

// MaxURLLen bounds an endpoint's URL.
const MaxURLLen = 1000

// URLPattern is what an endpoint's URL may be: http or https, a host of
// letters, digits, dots and dashes, a port, a plain path and a query — no
// credentials, no fragment, no escapes in the path. docs/openapi.yaml
// documents the same pattern.
const URLPattern = `^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?(\?[A-Za-z0-9._~=&%-]*)?$`

var urlPattern = regexp.MustCompile(URLPattern)

// Check validates an endpoint's URL and events: a URL of URLPattern at
// most MaxURLLen long, and one or more known events without repeats.
func Check(rawURL string, events []string) error {
	switch {
	case len(rawURL) > MaxURLLen:
		return fmt.Errorf("%w: url longer than %d bytes", ErrInvalid, MaxURLLen)
	case !urlPattern.MatchString(rawURL):
		return fmt.Errorf("%w: url must be an absolute http or https URL: host, optional port, plain path and query, no credentials", ErrInvalid)
	case len(events) == 0:
		return fmt.Errorf("%w: events must name at least one of %s", ErrInvalid, strings.Join(Events, ", "))
	}
	if _, err := url.Parse(rawURL); err != nil {
		return fmt.Errorf("%w: url: %v", ErrInvalid, err)
	}
	for i, e := range events {
		if !slices.Contains(Events, e) {
			return fmt.Errorf("%w: unknown event %q (known: %s)", ErrInvalid, e, strings.Join(Events, ", "))
		}
		if slices.Contains(events[:i], e) {
			return fmt.Errorf("%w: event %q given twice", ErrInvalid, e)
		}
	}
	return nil
}

// Store registers, lists and removes endpoints and reads their deliveries.
type Store struct{ db *sql.DB }

// NewStore returns a Store on db (with the schema of 080_webhooks.sql).
func NewStore(db *sql.DB) *Store { return &Store{db: db} }

// Register adds an endpoint for events with a new secret, returned in the
// Hook (and never again).
func (s *Store) Register(ctx context.Context, rawURL string, events []string, by int64) (Hook, error) {
	if err := Check(rawURL, events); err != nil {
		return Hook{}, err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	h := Hook{URL: rawURL, Events: slices.Clone(events), CreatedBy: by, CreatedAt: time.Now().UTC().Truncate(time.Microsecond), Secret: hex.EncodeToString(key)}
	res, err := s.db.ExecContext(ctx, `INSERT INTO webhooks (url, secret, events, created_by, created_at) VALUES (?, ?, ?, ?, ?)`,
		h.URL, h.Secret, strings.Join(h.Events, ","), h.CreatedBy, h.CreatedAt)
	if err != nil {
		return Hook{}, err
	}
	h.ID, err = res.LastInsertId()
	return h, err
}

// List returns every endpoint, oldest first, each with its newest delivery.
func (s *Store) List(ctx context.Context) ([]Hook, error) {
	out, err := mysqlstore.QueryAll(ctx, s.db, func(rows *sql.Rows, h *Hook) error {
		var events string
		err := rows.Scan(&h.ID, &h.URL, &events, &h.CreatedBy, &h.CreatedAt)
		h.Events = strings.Split(events, ",")
		return err
	}, `SELECT id, url, events, created_by, created_at FROM webhooks ORDER BY id`)
	if err != nil {
		return nil, err
	}
	for i := range out {
		last, err := s.Deliveries(ctx, out[i].ID, 1)
		if err != nil {
			return nil, err
		}
		if len(last) > 0 {
			out[i].Last = &last[0]
		}
	}
	return out, nil
}

// Delete removes an endpoint; its deliveries not yet made are marked
// failed, so no dispatcher claims them again.
func (s *Store) Delete(ctx context.Context, id int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM webhooks WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET failed_at = NOW(6), last_error = 'webhook deleted'
		WHERE webhook_id = ? AND delivered_at IS NULL AND failed_at IS NULL`, id); err != nil {
		return err
	}
	return tx.Commit()
}

// Deliveries returns the newest limit deliveries to endpoint hook, newest
// first.
func (s *Store) Deliveries(ctx context.Context, hook int64, limit int) ([]Delivery, error) {
	return mysqlstore.QueryAll(ctx, s.db, func(rows *sql.Rows, d *Delivery) error {
		var delivered, failed sql.NullTime
		err := rows.Scan(&d.ID, &d.WebhookID, &d.OutboxID, &d.CommentID, &d.Event, &d.Attempts, &d.LastStatus, &d.LastError,
			&d.NextAttemptAt, &d.CreatedAt, &delivered, &failed)
		if delivered.Valid {
			d.DeliveredAt = &delivered.Time
		}
		if failed.Valid {
			d.FailedAt = &failed.Time
		}
		return err
	}, `SELECT id, webhook_id, outbox_id, comment_id, event, attempts, COALESCE(last_status, 0), COALESCE(last_error, ''),
		next_attempt_at, created_at, delivered_at, failed_at
		FROM webhook_deliveries WHERE webhook_id = ? ORDER BY id DESC LIMIT ?`, hook, limit)
}
