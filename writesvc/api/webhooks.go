package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/httpapi"
	"github.com/vidcomments/vidcomments/writesvc/webhook"
)

// WebhookStore is what the webhook routes need (*webhook.Store).
type WebhookStore interface {
	Register(ctx context.Context, url string, events []string, by int64) (webhook.Hook, error)
	List(ctx context.Context) ([]webhook.Hook, error)
	Delete(ctx context.Context, id int64) error
	Deliveries(ctx context.Context, hook int64, limit int) ([]webhook.Delivery, error)
}

// Limits of GET /v1/mod/webhooks/{id}/deliveries.
const (
	DefaultDeliveriesLimit = 20
	MaxDeliveriesLimit     = 100
)

// webhookRequest is the body of POST /v1/mod/webhooks.
type webhookRequest struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
}

// Webhook is an endpoint as the moderation API shows it.
type Webhook struct {
	ID        string   `json:"id"`
	URL       string   `json:"url"`
	Events    []string `json:"events"`
	CreatedBy string   `json:"created_by"`
	CreatedAt string   `json:"created_at"`
	// Secret signs its deliveries; only the 201 of POST shows it.
	Secret       string           `json:"secret,omitempty"`
	LastDelivery *WebhookDelivery `json:"last_delivery"` // null before the first
}

// WebhookDelivery is one event on its way to an endpoint.
type WebhookDelivery struct {
	ID            string `json:"id"`
	Event         string `json:"event"`
	CommentID     string `json:"comment_id"`
	State         string `json:"state"` // pending | delivered | failed
	Attempts      int    `json:"attempts"`
	LastStatus    int    `json:"last_status,omitempty"` // HTTP status of the last attempt
	LastError     string `json:"last_error,omitempty"`
	CreatedAt     string `json:"created_at"`
	NextAttemptAt string `json:"next_attempt_at,omitempty"` // while pending
	DeliveredAt   string `json:"delivered_at,omitempty"`
	FailedAt      string `json:"failed_at,omitempty"`
}

func webhookView(h webhook.Hook) Webhook {
	v := Webhook{ID: comment.FormatID(h.ID), URL: h.URL, Events: h.Events, CreatedBy: comment.FormatID(h.CreatedBy),
		CreatedAt: comment.FormatTime(h.CreatedAt), Secret: h.Secret}
	if h.Last != nil {
		d := deliveryView(*h.Last)
		v.LastDelivery = &d
	}
	return v
}

func deliveryView(d webhook.Delivery) WebhookDelivery {
	v := WebhookDelivery{ID: comment.FormatID(d.ID), Event: d.Event, CommentID: comment.FormatID(d.CommentID), State: d.State(),
		Attempts: d.Attempts, LastStatus: d.LastStatus, LastError: d.LastError, CreatedAt: comment.FormatTime(d.CreatedAt)}
	at := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return comment.FormatTime(*t)
	}
	v.DeliveredAt, v.FailedAt = at(d.DeliveredAt), at(d.FailedAt)
	if v.State == "pending" {
		v.NextAttemptAt = comment.FormatTime(d.NextAttemptAt)
	}
	return v
}

// webhooksOff answers the webhook routes of an API built without a
// WebhookStore.
func (a *API) webhooksOff(w http.ResponseWriter) bool {
	if a.cfg.Webhooks != nil {
		return false
	}
	httpapi.WriteError(w, http.StatusNotFound, "not_found", "webhooks are not enabled on this server")
	return true
}

// createWebhook serves POST /v1/mod/webhooks: 201 with the endpoint and
// its secret.
func (a *API) createWebhook(w http.ResponseWriter, r *http.Request) {
	if a.webhooksOff(w) {
		return
	}
	body, aerr := readBody(w, r, false)
	if aerr != nil {
		aerr.write(w)
		return
	}
	var req webhookRequest
	if aerr := decodeStrict(body, &req); aerr != nil {
		aerr.write(w)
		return
	}
	h, err := a.cfg.Webhooks.Register(r.Context(), req.URL, req.Events, principal(r.Context()).UserID)
	if errors.Is(err, webhook.ErrInvalid) {
		badRequest("invalid_webhook", "%v", err).write(w)
		return
	}
	if err != nil {
		a.unavailable(w, r, "storage", err)
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, webhookView(h))
}

// listWebhooks serves GET /v1/mod/webhooks: every endpoint with its last
// delivery.
func (a *API) listWebhooks(w http.ResponseWriter, r *http.Request) {
	if a.webhooksOff(w) {
		return
	}
	hooks, err := a.cfg.Webhooks.List(r.Context())
	if err != nil {
		a.unavailable(w, r, "storage", err)
		return
	}
	out := struct {
		Webhooks []Webhook `json:"webhooks"`
	}{Webhooks: make([]Webhook, 0, len(hooks))}
	for _, h := range hooks {
		out.Webhooks = append(out.Webhooks, webhookView(h))
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

// deleteWebhook serves DELETE /v1/mod/webhooks/{id}: 204; its deliveries
// not yet made are dropped.
func (a *API) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	if a.webhooksOff(w) {
		return
	}
	id, ok := pathID(w, chi.URLParam(r, "id"), "webhook")
	if !ok {
		return
	}
	switch err := a.cfg.Webhooks.Delete(r.Context(), id); {
	case errors.Is(err, webhook.ErrNotFound):
		httpapi.WriteError(w, http.StatusNotFound, "not_found", "no such webhook")
	case err != nil:
		a.unavailable(w, r, "storage", err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// webhookDeliveries serves GET /v1/mod/webhooks/{id}/deliveries?limit=:
// the newest deliveries first.
func (a *API) webhookDeliveries(w http.ResponseWriter, r *http.Request) {
	if a.webhooksOff(w) {
		return
	}
	id, ok := pathID(w, chi.URLParam(r, "id"), "webhook")
	if !ok {
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		badRequest("invalid_query", "the query string is malformed").write(w)
		return
	}
	limit := DefaultDeliveriesLimit
	if l := q.Get("limit"); l != "" || q.Has("limit") {
		if limit, err = strconv.Atoi(l); err != nil || limit < 1 || limit > MaxDeliveriesLimit {
			badRequest("invalid_limit", "limit must be an integer from 1 to %d", MaxDeliveriesLimit).write(w)
			return
		}
	}
	ds, err := a.cfg.Webhooks.Deliveries(r.Context(), id, limit)
	if err != nil {
		a.unavailable(w, r, "storage", err)
		return
	}
	out := struct {
		Deliveries []WebhookDelivery `json:"deliveries"`
	}{Deliveries: make([]WebhookDelivery, 0, len(ds))}
	for _, d := range ds {
		out.Deliveries = append(out.Deliveries, deliveryView(d))
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}
